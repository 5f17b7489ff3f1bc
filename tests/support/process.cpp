#include "support/process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <thread>

extern char** environ;

namespace support {
namespace {

using namespace std::chrono_literals;

// The lowest descriptor number used for the child's files before they are
// moved to 0, 1 and 2, so that no source overlaps a target even when the
// parent runs with stdin closed.
constexpr int first_high_fd = 10;

// Steps of the child between fork and exec, reported to the parent on failure.
enum class child_step : int { dup, chdir, exec };

struct child_failure {
  child_step step;
  int error;
};

[[noreturn]] void throw_errno(std::string_view what) {
  throw std::system_error(errno, std::generic_category(), std::string(what));
}

// An owned file descriptor, closed by the destructor.
class fd_guard {
 public:
  explicit fd_guard(int fd = -1) : fd_(fd) {}
  ~fd_guard() { reset(); }
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;

  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

// Opens `path` and moves the descriptor to first_high_fd or above, close-on-exec.
int open_high(const std::filesystem::path& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
  if (fd < 0) throw_errno("process: cannot open " + path.string());
  int high = ::fcntl(fd, F_DUPFD_CLOEXEC, first_high_fd);
  ::close(fd);
  if (high < 0) throw_errno("process: cannot duplicate the descriptor of " + path.string());
  return high;
}

std::string find_in_path(const std::string& program) {
  if (program.find('/') != std::string::npos) return program;
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  while (!dirs.empty()) {
    std::size_t colon = dirs.find(':');
    std::string_view dir = dirs.substr(0, colon);
    dirs = colon == std::string_view::npos ? std::string_view() : dirs.substr(colon + 1);
    std::string candidate = std::string(dir.empty() ? "." : dir) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  throw std::runtime_error("process: \"" + program + "\" not found in PATH");
}

std::vector<std::string> child_environment(const std::vector<std::pair<std::string, std::string>>& additions) {
  std::vector<std::string> result;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    std::string_view name = text.substr(0, text.find('='));
    bool replaced = false;
    for (const auto& [added_name, value] : additions) replaced = replaced || added_name == name;
    if (!replaced) result.emplace_back(text);
  }
  for (const auto& [name, value] : additions) result.push_back(name + "=" + value);
  return result;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> result;
  for (auto& s : strings) result.push_back(s.data());
  result.push_back(nullptr);
  return result;
}

// The child's side of fork: only async-signal-safe calls, because the parent
// may have other threads holding locks that the child would never see released.
[[noreturn]] void run_child(pid_t parent, int in, int out, int err, int report, const char* dir,
                            const char* path, char* const* argv, char* const* envp) {
  auto fail = [&report](child_step step) {
    child_failure failure{step, errno};
    (void)!::write(report, &failure, sizeof failure);
    ::_exit(127);
  };

  // Dispositions set to SIG_IGN and the blocked mask survive exec; a child
  // must start with the defaults whatever the test program changed.
  sigset_t none;
  ::sigemptyset(&none);
  ::pthread_sigmask(SIG_SETMASK, &none, nullptr);
  for (int signo = 1; signo < NSIG; ++signo) ::signal(signo, SIG_DFL);

  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(127);

  if (::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) fail(child_step::dup);
  if (::dup2(report, 3) < 0 || ::fcntl(3, F_SETFD, FD_CLOEXEC) < 0) fail(child_step::dup);
  report = 3;
  // Descriptors the test program opened without close-on-exec (Asio's
  // sockets, for one) must not leak into the child and keep ports open.
  ::close_range(4, ~0U, 0);

  if (dir != nullptr && ::chdir(dir) < 0) fail(child_step::chdir);
  ::execve(path, argv, envp);
  fail(child_step::exec);
  ::_exit(127);
}

std::string describe(const child_failure& failure, const std::string& program,
                     const std::filesystem::path& dir) {
  std::string reason = std::strerror(failure.error);
  switch (failure.step) {
    case child_step::dup:
      return "process " + program + ": redirecting stdio failed: " + reason;
    case child_step::chdir:
      return "process " + program + ": chdir to " + dir.string() + " failed: " + reason;
    case child_step::exec:
      break;
  }
  return "process " + program + ": exec failed: " + reason;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

// temp_dir

temp_dir::temp_dir(std::string_view prefix) {
  std::string pattern = "/tmp/" + std::string(prefix) + "-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) throw_errno("temp_dir: mkdtemp " + pattern);
  path_ = pattern;
}

temp_dir::~temp_dir() {
  if (path_.empty()) return;
  const char* keep = std::getenv("SIDECAR_KEEP_TEMP");
  if (keep != nullptr && std::string_view(keep) == "1") return;
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

temp_dir::temp_dir(temp_dir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }

void temp_dir::write_file(const std::filesystem::path& relative, std::string_view content) const {
  write_file_atomically(path_ / relative, content);
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

std::string last_lines(std::string_view text, std::size_t count) {
  std::size_t start = text.size();
  if (start > 0 && text[start - 1] == '\n') --start;
  for (std::size_t lines = 0; lines < count; ++lines) {
    if (start == 0) return std::string(text);
    std::size_t newline = text.rfind('\n', start - 1);
    if (newline == std::string_view::npos) return std::string(text);
    start = newline;
  }
  return std::string(text.substr(start + 1));
}

void write_file_atomically(const std::filesystem::path& path, std::string_view content) {
  static std::atomic<unsigned> counter{0};
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  std::filesystem::path staging = path;
  staging += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
  {
    std::ofstream out(staging, std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    if (!out.flush()) throw std::runtime_error("write_file_atomically: cannot write " + staging.string());
  }
  std::filesystem::rename(staging, path);
}

// process

process::process(std::vector<std::string> argv, process_options options)
    : argv_(std::move(argv)), dir_("sidecar-process") {
  if (argv_.empty()) throw std::invalid_argument("process: empty argv");
  stdout_path_ = dir_.path() / "stdout";
  stderr_path_ = dir_.path() / "stderr";

  // Everything the child needs is prepared here, before fork.
  std::string path = find_in_path(argv_[0]);
  std::vector<std::string> args = argv_;
  std::vector<char*> c_args = c_strings(args);
  std::vector<std::string> env = child_environment(options.env);
  std::vector<char*> c_env = c_strings(env);
  std::string dir = options.working_dir.string();
  std::filesystem::path in_path = options.stdin_file.empty() ? "/dev/null" : options.stdin_file;

  fd_guard in(open_high(in_path, O_RDONLY));
  fd_guard out(open_high(stdout_path_, O_WRONLY | O_CREAT | O_TRUNC));
  fd_guard err(open_high(stderr_path_, O_WRONLY | O_CREAT | O_TRUNC));
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) < 0) throw_errno("process: pipe2");
  fd_guard report_read(pipe_fds[0]);
  fd_guard report_write(::fcntl(pipe_fds[1], F_DUPFD_CLOEXEC, first_high_fd));
  ::close(pipe_fds[1]);
  if (report_write.get() < 0) throw_errno("process: cannot duplicate the report pipe");

  // Start the child.
  pid_t parent = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) throw_errno("process: fork");
  if (pid_ == 0) {
    run_child(parent, in.get(), out.get(), err.get(), report_write.get(), dir.empty() ? nullptr : dir.c_str(),
              path.c_str(), c_args.data(), c_env.data());
  }

  // The report pipe stays empty and reaches end of file when exec succeeded.
  report_write.reset();
  child_failure failure{};
  ssize_t n;
  do {
    n = ::read(report_read.get(), &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof failure)) {
    reap(true);
    throw std::runtime_error(describe(failure, argv_[0], options.working_dir));
  }
}

process::~process() {
  if (status_ || pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  reap(true);
}

bool process::reap(bool block) {
  if (status_) return true;
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) {
    status_ = decode_status(status);
    return true;
  }
  if (r < 0 && errno == ECHILD) {
    // Someone else reaped the child (SIGCHLD set to SIG_IGN, for one), so
    // its status is lost.
    status_ = -1;
    return true;
  }
  return false;
}

bool process::running() { return !reap(false); }

void process::signal(int signo) {
  // An unreaped child keeps its PID even after exiting, so this never hits
  // an unrelated process.
  if (!status_) ::kill(pid_, signo);
}

std::optional<int> process::wait_for_exit(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!reap(false)) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(5ms);
  }
  return status_;
}

int process::stop(int signo, std::chrono::milliseconds timeout) {
  signal(signo);
  if (auto status = wait_for_exit(timeout)) return *status;
  signal(SIGKILL);
  reap(true);
  return *status_;
}

std::string process::stdout_content() const { return read_file(stdout_path_); }
std::string process::stderr_content() const { return read_file(stderr_path_); }

// ports

std::uint16_t free_port() {
  fd_guard fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) throw_errno("free_port: socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) < 0) {
    throw_errno("free_port: bind 127.0.0.1:0");
  }
  socklen_t length = sizeof address;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length) < 0) {
    throw_errno("free_port: getsockname");
  }
  return ntohs(address.sin_port);
}

namespace {

// One non-blocking connect attempt, bounded by `timeout`.
bool try_connect(std::uint16_t port, std::chrono::milliseconds timeout) {
  fd_guard fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) return true;
  if (errno != EINPROGRESS) return false;
  pollfd entry{fd.get(), POLLOUT, 0};
  if (::poll(&entry, 1, static_cast<int>(timeout.count())) != 1) return false;
  int error = 0;
  socklen_t length = sizeof error;
  ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length);
  return error == 0;
}

}  // namespace

bool wait_for_port(std::uint16_t port, std::chrono::milliseconds timeout) {
  return wait_until([port] { return try_connect(port, 100ms); }, timeout);
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(poll, deadline - now));
  }
}

}  // namespace support
