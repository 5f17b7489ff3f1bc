#pragma once

// The child side of the runtime: what a new process does between fork and
// exec to become a PID namespace holder, a container's main process, or a
// process run inside a running container.
//
// The parent prepares every path, option string and argument array in a plan
// before the fork, because the child of a multi-threaded program may only make
// async-signal-safe calls. The child reports the step that failed, with errno,
// on a close-on-exec pipe; the parent reads EOF when exec succeeded.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "os.hpp"

namespace podsim::launch {

// Steps of a child that can fail; describe_failure() turns one into text.
enum class step : int {
  join_cgroup,
  join_network,
  join_mounts,
  join_uts,
  join_ipc,
  unshare,
  private_mounts,
  open_bind_source,
  mount_root,
  pivot_root,
  mount_proc,
  mount_bind,
  mount_sys,
  mount_dev,
  mount_tmp,
  hide_path,
  protect_kernel_files,
  detach_old_root,
  capabilities,
  stdio,
  exec,
};

struct failure {
  step failed_step = step::exec;
  int error = 0;
  int index = -1;  // which bind mount, for mount_bind and open_bind_source
};

// A NULL-terminated array of C strings that points into owned strings.
class string_array {
 public:
  string_array() = default;
  explicit string_array(std::vector<std::string> strings);
  // Moving keeps the vectors' buffers, so the pointers stay valid.
  string_array(string_array&&) = default;
  string_array& operator=(string_array&&) = default;
  string_array(const string_array&) = delete;
  string_array& operator=(const string_array&) = delete;

  char* const* get() const { return pointers_.data(); }
  const std::vector<std::string>& strings() const { return strings_; }

 private:
  std::vector<std::string> strings_;
  std::vector<char*> pointers_{nullptr};
};

struct bind_plan {
  std::string source;  // host path, opened before the root changes
  std::string target;  // path inside the container
  bool read_only = false;
  bool recursive = true;
  bool is_file = false;
  int source_fd = -1;  // set by the child
};

// The ways to make a container's root file system, in the order tried.
enum class root_layer {
  // overlayfs with the writable layer on disk under the run directory.
  disk_overlay,
  // overlayfs with the writable layer on a tmpfs, for when the disk cannot be
  // an upper layer (it is an overlayfs itself inside a Docker container).
  memory_overlay,
  // the lower directory bind-mounted read-only, with tmpfs on a few directories.
  read_only,
};

// Everything the main process of a container needs before its exec.
struct container_plan {
  std::vector<std::string> cgroup_procs_files;
  int network_namespace_fd = -1;
  int uts_namespace_fd = -1;  // the pod's, with its host name
  int ipc_namespace_fd = -1;  // the pod's

  std::string rootfs_dir;  // the host directory that becomes "/"
  std::string lower_dir;   // host "/" or the image directory
  // The first of the ways to make the root that the child tries; it moves on
  // to the next when overlayfs fails.
  root_layer first_layer = root_layer::disk_overlay;
  std::string disk_overlay_options;  // lowerdir=...,upperdir=...,workdir=... under the run directory
  std::string memory_layer_dir;      // gets a tmpfs that contains the next two
  std::string memory_upper_dir;
  std::string memory_work_dir;
  std::string memory_overlay_options;
  // Writable tmpfs mounts on a read-only root.
  std::vector<std::string> read_only_writable_dirs;
  // Lines for the container's log when a fallback is used, followed by the errno text when overlayfs failed.
  std::string memory_layer_note;
  std::string read_only_note;

  std::vector<bind_plan> binds;      // host mounts of `image: host`, then volumes
  std::vector<std::string> hidden;   // host paths covered by an empty tmpfs

  int log_fd = -1;
  int dev_null_fd = -1;
  int report_fd = -1;

  std::vector<std::string> exec_candidates;  // argv[0] resolved against PATH, in order
  string_array argv;
  string_array envp;
};

// A process started inside a running container.
struct exec_plan {
  std::vector<std::string> cgroup_procs_files;
  int network_namespace_fd = -1;
  int mount_namespace_fd = -1;
  int uts_namespace_fd = -1;
  int ipc_namespace_fd = -1;
  int output_fd = -1;
  int dev_null_fd = -1;
  int report_fd = -1;
  std::vector<std::string> exec_candidates;
  string_array argv;
  string_array envp;
};

// The PID 1 of a PID namespace: podsim-init without a command, in an empty
// read-only root so that /proc/1/root shows nothing of the host.
struct holder_plan {
  std::vector<std::string> cgroup_procs_files;
  std::string empty_root_dir;  // any host directory: a tmpfs is mounted on it privately
  int init_fd = -1;            // podsim-init, opened before the fork
  int dev_null_fd = -1;
  int report_fd = -1;
  string_array argv;
};

[[noreturn]] void run_container_child(container_plan& plan);
[[noreturn]] void run_exec_child(exec_plan& plan);
[[noreturn]] void run_holder_child(holder_plan& plan);

// "mounting overlayfs on /run/podsim/web-0/... failed: Invalid argument".
std::string describe_failure(const failure& failed, const container_plan* plan = nullptr);

// Waits until the child behind `report_read_fd` has exec'd (returns nothing)
// or has reported a failure, for at most `timeout`.
struct wait_outcome {
  bool timed_out = false;
  bool failed = false;
  failure reported;
};
wait_outcome wait_for_exec(int report_read_fd, std::chrono::milliseconds timeout);

// argv[0] joined to each directory of `path_variable`, or argv[0] itself when it contains a slash.
std::vector<std::string> exec_candidates(const std::string& program, const std::string& path_variable);

// The podsim-init binary: next to the running program, else where the build put it.
std::filesystem::path init_binary();

}  // namespace podsim::launch
