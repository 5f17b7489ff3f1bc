#pragma once

// The Linux side of podsim: pod sandboxes and containers made of namespaces,
// overlay root filesystems and cgroups. Needs root.
//
//   podsim::pod_sandbox sandbox({.pod_name = "web-0", .share_process_namespace = true});
//   podsim::container app(sandbox, {.name = "app", .argv = {"/usr/sbin/nginx", "-g", "daemon off;"}});
//   app.start();
//   ... sandbox.ip() is reachable from the host ...
//   app.stop(std::chrono::seconds(30));
//
// Every object removes what it made (mounts, namespaces, veth, cgroups,
// directories) in its destructor, also after a failed start.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace podsim {

struct sandbox_options {
  // Unique among running pods on the machine: it names the network
  // namespace, the veth pair and the cgroup. A second sandbox with the name
  // of a running one fails with a clear error and harms nothing.
  std::string pod_name;
  bool share_process_namespace = false;
  // The directory of the pod's state (overlay layers, volumes, logs);
  // default /run/podsim/POD.
  std::filesystem::path state_dir;
};

class pod_sandbox {
 public:
  // Creates a network namespace with loopback up, a veth pair with a private
  // address on each side, the pod's cgroup, and with share_process_namespace
  // a PID namespace whose PID 1 is podsim's init (it reaps zombies). Throws
  // std::runtime_error naming the step that failed.
  explicit pod_sandbox(sandbox_options options);
  ~pod_sandbox();
  pod_sandbox(const pod_sandbox&) = delete;
  pod_sandbox& operator=(const pod_sandbox&) = delete;

  const std::string& name() const;
  // The pod's address, reachable from the host (the kubelet's and the
  // Service's side), e.g. "10.213.0.6".
  const std::string& ip() const;
  // /proc/PID/ns/net of a process in the pod's network namespace, or a bind mount of it.
  std::filesystem::path netns_path() const;
  bool shares_process_namespace() const;
  // A directory for an emptyDir or configMap volume, created on first use
  // and shared by the containers that mount it.
  std::filesystem::path volume_dir(const std::string& volume);
  const std::filesystem::path& state_dir() const;

  struct impl;
  impl& internals() { return *impl_; }

 private:
  std::unique_ptr<impl> impl_;
};

struct bind_mount {
  std::filesystem::path source;  // on the host
  std::string target;            // inside the container
  bool read_only = false;
};

struct container_options {
  std::string name;
  std::vector<std::string> argv;  // command then args; argv[0] is looked up in the container's PATH
  std::vector<std::pair<std::string, std::string>> env;
  std::string image = "host";
  std::vector<bind_mount> mounts;
  std::optional<std::uint64_t> memory_limit;  // bytes
  std::optional<std::uint32_t> cpu_limit;     // millicores
};

struct exit_info {
  int exit_code = 0;    // 128 + signal when a signal ended it, as the kubelet reports
  int signal = 0;       // 0 unless a signal ended it
  bool oom_killed = false;
};

struct exec_result {
  int exit_code = -1;
  bool timed_out = false;
  std::string output;  // stdout and stderr, at most 10 KiB
};

// One run of a container. A restart is a new container object.
class container {
 public:
  container(pod_sandbox& sandbox, container_options options);
  ~container();  // kills what still runs, unmounts, removes the cgroup
  container(const container&) = delete;
  container& operator=(const container&) = delete;

  // Sets up the root filesystem (overlayfs: lower = host / or the image
  // directory read-only, upper private), /proc, /tmp, a minimal /dev, the
  // mounts, the cgroup with limits, joins the pod's network namespace and its
  // PID namespace (shared) or a new one (own, with podsim's init as PID 1),
  // and execs argv. Throws std::runtime_error naming the step that failed.
  void start();

  // Host PID of the container's main process (argv), once started.
  pid_t pid() const;
  // The exit of the main process, without blocking, once it has exited.
  std::optional<exit_info> poll_exit();
  void signal(int signo);
  // SIGTERM, then SIGKILL after `grace`; returns how it ended.
  exit_info stop(std::chrono::milliseconds grace);

  // Runs argv in the container's namespaces and root (for exec probes and
  // preStop hooks); kills it at `timeout`.
  exec_result exec(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

  // The file that receives the container's stdout and stderr.
  const std::filesystem::path& log_path() const;

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

// Lists what podsim objects still exist on the machine (netns, veth,
// cgroups, mounts, processes under /run/podsim), for leak checks in tests.
std::vector<std::string> list_leftovers();

}  // namespace podsim
