#pragma once

// The state of a pod sandbox that its containers use: the network namespace,
// the pod's cgroup and, with a shared PID namespace, its holder process.

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "cgroup.hpp"
#include "os.hpp"
#include "podsim/runtime.hpp"

namespace podsim {

// A podsim-init in a new PID namespace, holding it open for containers to join.
class pid_namespace_holder {
 public:
  // Starts the holder in `cgroup_group`; `label` shows in ps.
  pid_namespace_holder(cgroup& cgroup_group, const std::filesystem::path& empty_root_dir, const std::string& label);
  ~pid_namespace_holder();
  pid_namespace_holder(const pid_namespace_holder&) = delete;
  pid_namespace_holder& operator=(const pid_namespace_holder&) = delete;

  pid_t pid() const { return pid_; }
  // /proc/PID/ns/pid of the holder, for setns.
  int namespace_fd() const { return namespace_fd_.get(); }

 private:
  pid_t pid_ = -1;
  os::unique_fd namespace_fd_;
};

struct pod_sandbox::impl {
  explicit impl(sandbox_options options);
  ~impl();

  void create_network_namespace();
  void create_uts_and_ipc_namespaces();
  void create_veth();
  void destroy() noexcept;

  // "web-0/app.3": a fresh directory name for one run of a container.
  std::string next_run_name(const std::string& container_name);

  sandbox_options options;
  std::string host_ip;
  std::string pod_ip;
  std::string veth_name;
  std::filesystem::path netns_file;  // /run/netns/podsim-POD
  bool netns_claimed = false;        // the file is ours to remove
  bool netns_mounted = false;
  bool veth_created = false;
  bool state_dir_created = false;
  bool state_dir_existed = false;  // given by the caller: only its content is removed
  os::unique_fd netns_fd;
  // Held open by descriptor only: no process and no mount keeps them alive.
  os::unique_fd uts_fd;
  os::unique_fd ipc_fd;
  std::unique_ptr<cgroup> pod_cgroup;
  std::unique_ptr<cgroup> holder_cgroup;             // every PID namespace holder of the pod
  std::unique_ptr<pid_namespace_holder> holder;      // with share_process_namespace only

  std::mutex mutex;  // guards run_counter and volume creation
  int run_counter = 0;
};

}  // namespace podsim
