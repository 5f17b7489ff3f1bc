#pragma once

// Child processes, temporary directories and ports for tests.
//
//   support::temp_dir dir;
//   support::process nginx({"/usr/sbin/nginx", "-p", dir.path().string(), "-c", "nginx.conf"});
//   REQUIRE(support::wait_for_port(port, 5s));
//   ...
//   nginx.signal(SIGTERM);
//   CHECK(nginx.wait_for_exit(5s) == 0);
//
// Nothing here is thread-safe: use each object from one thread.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace support {

// A fresh directory under /tmp (mkdtemp), removed with its content by the
// destructor. With SIDECAR_KEEP_TEMP=1 in the environment the directory is
// kept, so that the logs of a failed test can be read afterwards.
class temp_dir {
 public:
  explicit temp_dir(std::string_view prefix = "sidecar-test");
  ~temp_dir();
  temp_dir(temp_dir&& other) noexcept;
  temp_dir& operator=(temp_dir&&) = delete;
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::filesystem::path& path() const { return path_; }

  // Writes `content` to `relative` below the directory, creating parent
  // directories. The file is written next to its target and renamed into
  // place, so a reader sees the old or the new content, never a mix.
  void write_file(const std::filesystem::path& relative, std::string_view content) const;

 private:
  std::filesystem::path path_;
};

// Reads a whole file. Returns an empty string when it cannot be opened.
std::string read_file(const std::filesystem::path& path);

// The last `count` lines of `text`, for failure messages.
std::string last_lines(std::string_view text, std::size_t count);

// Writes a whole file, replacing it atomically (write to a sibling, then rename).
void write_file_atomically(const std::filesystem::path& path, std::string_view content);

// Every member has an initializer so that designated initializers may leave
// any of them out without a -Wmissing-field-initializers warning.
struct process_options {
  // Added to the parent's environment, replacing variables of the same name.
  std::vector<std::pair<std::string, std::string>> env{};
  // The child's working directory, or empty for the parent's.
  std::filesystem::path working_dir{};
  // The file the child reads as stdin, or empty for /dev/null.
  std::filesystem::path stdin_file{};
};

// A child process started with fork and execve. stdout and stderr go to two
// files in the process's own temporary directory. The child gets
// PR_SET_PDEATHSIG(SIGKILL), so it dies with the thread that started it even
// when the test program crashes. Start processes from a thread that outlives
// them, such as the test's main thread.
//
// The destructor kills the child with SIGKILL and reaps it when it is still
// running.
class process {
 public:
  // `argv[0]` without a slash is searched in PATH. Throws std::runtime_error
  // naming the program and the errno text when it cannot be started.
  explicit process(std::vector<std::string> argv, process_options options = {});
  ~process();
  process(const process&) = delete;
  process& operator=(const process&) = delete;

  pid_t pid() const { return pid_; }
  const std::vector<std::string>& argv() const { return argv_; }

  // True until the child has exited. Reaps the child once it has.
  bool running();

  // Sends `signo` to the child unless it has been reaped already.
  void signal(int signo);

  // Waits up to `timeout` for the child to exit. Returns the exit status, or
  // 128 + the signal number when a signal ended it, and nothing on timeout.
  std::optional<int> wait_for_exit(std::chrono::milliseconds timeout);

  // Sends `signo`, waits up to `timeout`, then sends SIGKILL if needed.
  // Returns the exit status as wait_for_exit does.
  int stop(int signo, std::chrono::milliseconds timeout);

  // The status once the child has been reaped, and nothing before.
  std::optional<int> exit_status() const { return status_; }

  const std::filesystem::path& stdout_path() const { return stdout_path_; }
  const std::filesystem::path& stderr_path() const { return stderr_path_; }
  // What the child has written so far.
  std::string stdout_content() const;
  std::string stderr_content() const;

 private:
  bool reap(bool block);

  std::vector<std::string> argv_;
  temp_dir dir_;
  std::filesystem::path stdout_path_;
  std::filesystem::path stderr_path_;
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// A port on 127.0.0.1 that was free a moment ago: bound with port 0 and
// released. Another program may take it before the caller binds it, which is
// rare enough for tests.
std::uint16_t free_port();

// Polls until a TCP connect to 127.0.0.1:`port` succeeds or `timeout` passes.
bool wait_for_port(std::uint16_t port, std::chrono::milliseconds timeout);

// Polls `condition` every `poll`. Returns true as soon as it does, and false
// when it still returns false at the deadline.
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll = std::chrono::milliseconds(10));

}  // namespace support
