#include "os.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

extern char** environ;

namespace podsim::os {

void unique_fd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

std::string error_text(int error) {
  const char* text = ::strerrordesc_np(error);
  return text != nullptr ? text : "errno " + std::to_string(error);
}

void throw_errno(const std::string& what, int error) { throw std::runtime_error(what + ": " + error_text(error)); }

unique_fd open_or_throw(const std::filesystem::path& path, int flags, const std::string& what) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
  if (fd < 0) throw_errno(what + ": opening " + path.string() + " failed", errno);
  return unique_fd(fd);
}

std::optional<std::string> read_file(const std::filesystem::path& path) {
  unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  std::string content;
  std::array<char, 4096> buffer;
  for (;;) {
    ssize_t count = ::read(fd.get(), buffer.data(), buffer.size());
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) return std::nullopt;
    if (count == 0) return content;
    content.append(buffer.data(), static_cast<std::size_t>(count));
  }
}

int write_file(const std::filesystem::path& path, std::string_view content) {
  unique_fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return errno;
  ssize_t written = ::write(fd.get(), content.data(), content.size());
  if (written < 0) return errno;
  return static_cast<std::size_t>(written) == content.size() ? 0 : EIO;
}

void make_directories(const std::filesystem::path& path, const std::string& what) {
  // Another podsim removes the shared parents (/run/podsim) when its last pod
  // ends. If that happens between two steps of the creation, the next step
  // fails with ENOENT, and starting over creates the parent again.
  std::error_code error;
  for (int attempt = 0; attempt < 5; ++attempt) {
    error.clear();
    std::filesystem::create_directories(path, error);
    if (error != std::errc::no_such_file_or_directory) break;
  }
  if (error) throw std::runtime_error(what + ": creating " + path.string() + " failed: " + error.message());
}

std::vector<std::filesystem::path> directories_below(const std::filesystem::path& top) {
  std::vector<std::filesystem::path> found;
  std::vector<std::filesystem::path> pending{top};
  while (!pending.empty()) {
    std::filesystem::path dir = std::move(pending.back());
    pending.pop_back();
    std::error_code error;
    for (std::filesystem::directory_iterator it(dir, error), end; !error && it != end; it.increment(error)) {
      std::error_code type_error;
      if (it->is_directory(type_error) && !it->is_symlink(type_error)) {
        found.push_back(it->path());
        pending.push_back(it->path());
      }
    }
  }
  // Depth-first order from a stack is not parents-first across branches, but
  // sorting the paths is: a parent is a prefix of its children.
  std::sort(found.begin(), found.end());
  return found;
}

std::string remove_tree(const std::filesystem::path& path) {
  std::error_code error;
  std::filesystem::remove_all(path, error);
  if (error) return "removing " + path.string() + " failed: " + error.message();
  return {};
}

namespace {

const char* find_ip() {
  static constexpr std::array<const char*, 4> candidates = {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"};
  for (const char* candidate : candidates) {
    if (::access(candidate, X_OK) == 0) return candidate;
  }
  return nullptr;
}

std::string join_arguments(const std::vector<std::string>& args) {
  std::string text;
  for (const auto& arg : args) {
    if (!text.empty()) text += ' ';
    text += arg;
  }
  return text;
}

}  // namespace

command_result run_ip(const std::vector<std::string>& args) {
  const char* ip = find_ip();
  if (ip == nullptr) {
    return {.exit_code = 127, .output = "ip (iproute2) not found in /usr/sbin, /sbin, /usr/bin or /bin"};
  }

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return {.exit_code = -1, .output = "pipe: " + error_text(errno)};
  unique_fd read_end(pipe_fds[0]);
  unique_fd write_end(pipe_fds[1]);

  std::vector<std::string> argv_strings{"ip"};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : argv_strings) argv.push_back(arg.data());
  argv.push_back(nullptr);

  // posix_spawn uses vfork semantics, which is safe in a multi-threaded program.
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_adddup2(&actions, write_end.get(), 1);
  ::posix_spawn_file_actions_adddup2(&actions, write_end.get(), 2);
  pid_t pid = -1;
  int error = ::posix_spawn(&pid, ip, &actions, nullptr, argv.data(), environ);
  ::posix_spawn_file_actions_destroy(&actions);
  write_end.reset();
  if (error != 0) return {.exit_code = -1, .output = std::string(ip) + ": " + error_text(error)};

  command_result result;
  std::array<char, 1024> buffer;
  for (;;) {
    ssize_t count = ::read(read_end.get(), buffer.data(), buffer.size());
    if (count < 0 && errno == EINTR) continue;
    if (count <= 0) break;
    result.output.append(buffer.data(), static_cast<std::size_t>(count));
  }
  while (!result.output.empty() && result.output.back() == '\n') result.output.pop_back();
  result.exit_code = decode_wait_status(wait_child_blocking(pid)).exit_code;
  return result;
}

void run_ip_or_throw(const std::vector<std::string>& args, const std::string& what) {
  command_result result = run_ip(args);
  if (result.exit_code == 0) return;
  throw std::runtime_error(what + ": ip " + join_arguments(args) + ": " + result.output);
}

decoded_status decode_wait_status(int status) {
  if (WIFSIGNALED(status)) return {.exit_code = 128 + WTERMSIG(status), .signal = WTERMSIG(status)};
  if (WIFEXITED(status)) return {.exit_code = WEXITSTATUS(status), .signal = 0};
  return {.exit_code = -1, .signal = 0};
}

std::optional<int> wait_child(pid_t pid, std::chrono::milliseconds timeout) {
  int status = 0;
  pid_t reaped = ::waitpid(pid, &status, WNOHANG);
  if (reaped == pid) return status;
  if (timeout <= std::chrono::milliseconds::zero()) return std::nullopt;

  // A pidfd becomes readable when the process exits, so the wait needs no polling loop.
  unique_fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    reaped = ::waitpid(pid, &status, WNOHANG);
    if (reaped == pid) return status;
    if (reaped < 0 && errno != EINTR) return std::nullopt;

    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left < std::chrono::milliseconds::zero()) return std::nullopt;
    if (pidfd) {
      pollfd entry{.fd = pidfd.get(), .events = POLLIN, .revents = 0};
      ::poll(&entry, 1, static_cast<int>(left.count()) + 1);
    } else {
      ::usleep(5000);
    }
  }
}

int wait_child_blocking(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return 0;
  }
  return status;
}

namespace {

// The thread that forks. Jobs run one at a time in the order posted.
class fork_thread {
 public:
  fork_thread() : host_pid_namespace_(::open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC)) {
    thread_ = std::thread([this] { run(); });
  }

  ~fork_thread() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }

  pid_t fork_child(pid_namespace_choice pid_namespace, const std::function<void()>& child) {
    std::packaged_task<pid_t()> task([&] { return fork_here(pid_namespace, child); });
    auto result = task.get_future();
    {
      std::lock_guard lock(mutex_);
      jobs_.push_back(std::move(task));
    }
    wake_.notify_one();
    return result.get();
  }

 private:
  void run() {
    for (;;) {
      std::packaged_task<pid_t()> job;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  // Runs on the fork thread. The PID namespace of new children is a property
  // of the thread, so it is set for this one fork and restored afterwards.
  pid_t fork_here(pid_namespace_choice pid_namespace, const std::function<void()>& child) {
    if (pid_namespace.create && ::unshare(CLONE_NEWPID) != 0) {
      throw_errno("creating a PID namespace failed", errno);
    }
    if (pid_namespace.join_fd >= 0 && ::setns(pid_namespace.join_fd, CLONE_NEWPID) != 0) {
      throw_errno("joining the PID namespace failed", errno);
    }

    pid_t pid = ::fork();
    if (pid == 0) {
      child();
      ::_exit(127);
    }
    int fork_error = errno;

    if ((pid_namespace.create || pid_namespace.join_fd >= 0) && ::setns(host_pid_namespace_.get(), CLONE_NEWPID) != 0) {
      // Later children would land in the wrong namespace: nothing sane can continue.
      std::fprintf(stderr, "podsim: restoring the PID namespace of the fork thread failed: %s\n",
                   error_text(errno).c_str());
      std::abort();
    }
    if (pid < 0) throw_errno("fork failed", fork_error);
    return pid;
  }

  unique_fd host_pid_namespace_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::packaged_task<pid_t()>> jobs_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace

pid_t fork_child(pid_namespace_choice pid_namespace, const std::function<void()>& child) {
  static fork_thread thread;
  return thread.fork_child(pid_namespace, child);
}

}  // namespace podsim::os
