#pragma once

// Cgroups for pods and containers, on cgroup v1 (one hierarchy per
// controller) or cgroup v2 (one unified hierarchy), whichever the machine
// mounts under /sys/fs/cgroup.
//
//   cgroup pod_group("web-0");             // /podsim/web-0
//   cgroup app_group("web-0/app");         // /podsim/web-0/app
//   app_group.set_memory_limit(64 << 20);
//   ... a child writes "0" to each of app_group.procs_files() ...
//   app_group.oom_kill_count();
//
// Not thread-safe; the destructor kills what is left and removes the cgroup.

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace podsim {

struct cgroup_hierarchy {
  std::string controller;        // "memory", "cpu" or "pids"; empty for the v2 hierarchy
  std::filesystem::path root;    // where it is mounted
};

struct cgroup_layout {
  bool unified = false;  // cgroup v2
  std::vector<cgroup_hierarchy> hierarchies;

  // Detected once, from the mounts under /sys/fs/cgroup.
  static const cgroup_layout& machine();
};

// The top cgroup of podsim in each hierarchy, relative to its root.
inline constexpr const char* cgroup_top = "podsim";

class cgroup {
 public:
  // Creates podsim/`relative` in every hierarchy, with missing parents.
  // Throws std::runtime_error when it exists already or cannot be made.
  explicit cgroup(std::string relative);
  ~cgroup();
  cgroup(const cgroup&) = delete;
  cgroup& operator=(const cgroup&) = delete;

  // "/podsim/web-0/app", as /proc/PID/cgroup shows it.
  const std::string& path() const { return path_; }

  // Throws std::runtime_error naming the file and the value on failure.
  void set_memory_limit(std::uint64_t bytes);
  void set_cpu_limit(std::uint32_t millicores);

  // The cgroup.procs files: a process that writes "0" to each joins the cgroup.
  const std::vector<std::string>& procs_files() const { return procs_files_; }

  // Processes in this cgroup and below it.
  std::vector<pid_t> processes() const;

  // Sends SIGKILL to every process in this cgroup and below until none is
  // left, for at most a few seconds. Returns false when some remain.
  bool kill_all();

  // How often the kernel's OOM killer has killed a process of this cgroup.
  std::uint64_t oom_kill_count() const;

  // Removes the cgroup and the cgroups below it after kill_all(). Returns the
  // errors, one per directory that could not be removed.
  std::vector<std::string> remove();

  // Removes podsim/`relative` left behind by a podsim that did not finish its
  // cleanup. Returns false, and leaves it alone, when processes still run in it.
  static bool remove_stale(const std::string& relative);

  // Removes the empty podsim/ cgroup of each hierarchy; ignores one in use.
  static void remove_top_if_empty();

 private:
  std::vector<std::filesystem::path> directories_;  // one per hierarchy
  std::vector<std::string> procs_files_;
  std::string path_;
  bool removed_ = false;
};

}  // namespace podsim
