#pragma once

// Small Linux helpers shared by the runtime's source files: owned file
// descriptors, errors carrying errno, whole-file reads and writes, running
// `ip`, and the thread that forks every long-lived child.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace podsim::os {

// An owned file descriptor, closed by the destructor.
class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) : fd_(fd) {}
  ~unique_fd() { reset(); }
  unique_fd(unique_fd&& other) noexcept : fd_(other.release()) {}
  unique_fd& operator=(unique_fd&& other) noexcept {
    reset(other.release());
    return *this;
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// The errno text, such as "No such file or directory".
std::string error_text(int error);

// Throws std::runtime_error with "`what`: <errno text>".
[[noreturn]] void throw_errno(const std::string& what, int error);

// Opens `path` close-on-exec; throws naming `what` on failure.
unique_fd open_or_throw(const std::filesystem::path& path, int flags, const std::string& what);

// Reads a small file (cgroup and proc files), or nothing when it cannot be read.
std::optional<std::string> read_file(const std::filesystem::path& path);

// Writes `content` in a single write(2), as cgroup files need. Returns 0 or the errno.
int write_file(const std::filesystem::path& path, std::string_view content);

// Creates `path` and missing parents; throws naming `what`.
void make_directories(const std::filesystem::path& path, const std::string& what);

// The directories below `top`, parents before their children, without
// following symbolic links. A directory that disappears during the walk (a
// cgroup that another podsim removes) is skipped, not an error.
std::vector<std::filesystem::path> directories_below(const std::filesystem::path& top);

// Removes `path` and everything below it without following symbolic links.
// Returns the first error, or an empty string.
std::string remove_tree(const std::filesystem::path& path);

struct command_result {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs iproute2's `ip` with `args` and waits for it.
command_result run_ip(const std::vector<std::string>& args);

// Runs `ip` and throws std::runtime_error "`what`: ip ARGS: OUTPUT" when it fails.
void run_ip_or_throw(const std::vector<std::string>& args, const std::string& what);

// The wait status as the kubelet reports it: the exit code, or 128 + the
// signal number, and the signal.
struct decoded_status {
  int exit_code = 0;
  int signal = 0;
};
decoded_status decode_wait_status(int status);

// Waits up to `timeout` for child `pid` to exit and reaps it. Returns its
// wait status, or nothing when it still runs at the deadline.
std::optional<int> wait_child(pid_t pid, std::chrono::milliseconds timeout);

// Reaps child `pid`, waiting as long as it takes. Use only after SIGKILL.
int wait_child_blocking(pid_t pid);

// The PID namespace of a new child.
struct pid_namespace_choice {
  // Join the PID namespace of this descriptor (/proc/PID/ns/pid); -1 for none.
  int join_fd = -1;
  // Create a new PID namespace whose PID 1 is the child.
  bool create = false;
};

// Forks on one long-lived thread and runs `child` in the new process, which
// must end in exec or _exit. Every child of the runtime is started here so
// that PR_SET_PDEATHSIG, which fires when the forking *thread* ends, kills the
// containers only when the program itself ends. Returns the child's PID and
// throws std::runtime_error when the fork fails.
//
// `child` runs after fork in a copy of a multi-threaded program, so it must
// use only async-signal-safe calls on data prepared before the fork.
pid_t fork_child(pid_namespace_choice pid_namespace, const std::function<void()>& child);

}  // namespace podsim::os
