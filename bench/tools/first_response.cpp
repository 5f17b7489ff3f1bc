// Measures how long a server takes from exec to its first good response.
//
//   first_response [--expect TEXT] [--timeout-ms N] [--log FILE] URL -- PROGRAM [ARG...]
//
// Forks, execs PROGRAM, and sends GET URL on a new connection every 100 us
// until the response has status 200 and, with --expect, a body containing
// TEXT. Prints the milliseconds from just before fork to that response, then
// stops the program with SIGTERM (SIGKILL after 5 s). URL is
// http://IPV4:PORT/PATH. Exits 1 when the program exits first or no good
// response comes within --timeout-ms (default 10000), and 2 on a malformed
// command line.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto retry_pause = 100us;
constexpr int read_timeout_ms = 2000;

struct target {
  sockaddr_in address{};
  std::string host_port;
  std::string path;
};

struct options {
  target url;
  std::string expect;
  std::chrono::milliseconds timeout{10000};
  std::string log = "/dev/null";
  std::vector<char*> command;
};

[[noreturn]] void usage_error(const std::string& problem) {
  std::fprintf(stderr,
               "first_response: %s\n"
               "usage: first_response [--expect TEXT] [--timeout-ms N] [--log FILE] URL -- PROGRAM [ARG...]\n",
               problem.c_str());
  std::exit(2);
}

// Parses http://IPV4:PORT/PATH; a host name is rejected so that no lookup is timed.
std::optional<target> parse_url(std::string_view url) {
  constexpr std::string_view scheme = "http://";
  if (!url.starts_with(scheme)) return std::nullopt;
  url.remove_prefix(scheme.size());
  const auto slash = url.find('/');
  target out;
  out.host_port = std::string(url.substr(0, slash));
  out.path = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));

  const auto colon = out.host_port.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  const std::string host = out.host_port.substr(0, colon);
  char* end = nullptr;
  const long port = std::strtol(out.host_port.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || port <= 0 || port > 65535) return std::nullopt;
  out.address.sin_family = AF_INET;
  out.address.sin_port = htons(static_cast<std::uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &out.address.sin_addr) != 1) return std::nullopt;
  return out;
}

options parse_command_line(int argc, char** argv) {
  options opts;
  int i = 1;
  for (; i < argc && std::string_view(argv[i]) != "--"; ++i) {
    const std::string_view arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--expect" && has_value) {
      opts.expect = argv[++i];
    } else if (arg == "--timeout-ms" && has_value) {
      opts.timeout = std::chrono::milliseconds(std::atol(argv[++i]));
    } else if (arg == "--log" && has_value) {
      opts.log = argv[++i];
    } else if (!arg.starts_with("--") && opts.url.host_port.empty()) {
      auto url = parse_url(arg);
      if (!url) usage_error("URL \"" + std::string(arg) + "\" is invalid, expected http://IPV4:PORT/PATH");
      opts.url = *url;
    } else {
      usage_error("unexpected argument \"" + std::string(arg) + "\"");
    }
  }
  if (opts.url.host_port.empty()) usage_error("missing URL");
  if (i + 1 >= argc) usage_error("missing -- PROGRAM");
  for (++i; i < argc; ++i) opts.command.push_back(argv[i]);
  opts.command.push_back(nullptr);
  return opts;
}

// Starts the program with stdin from /dev/null and its output in `log`. The
// child gets SIGTERM if this process dies first.
pid_t start(const options& opts) {
  const pid_t pid = fork();
  if (pid < 0) {
    std::perror("first_response: fork failed");
    std::exit(1);
  }
  if (pid > 0) return pid;

  prctl(PR_SET_PDEATHSIG, SIGTERM);
  const int in = open("/dev/null", O_RDONLY);
  const int out = open(opts.log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (in < 0 || out < 0) _exit(126);
  dup2(in, 0);
  dup2(out, 1);
  dup2(out, 2);
  execvp(opts.command[0], opts.command.data());
  _exit(127);
}

// Sends one GET on a new connection; true when the response is 200 and its
// body contains `expect`.
bool responded(const options& opts) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  struct closer {
    int fd;
    ~closer() { close(fd); }
  } guard{fd};

  if (connect(fd, reinterpret_cast<const sockaddr*>(&opts.url.address), sizeof opts.url.address) != 0) {
    return false;
  }
  const std::string request = "GET " + opts.url.path + " HTTP/1.1\r\nHost: " + opts.url.host_port +
                              "\r\nConnection: close\r\n\r\n";
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    return false;
  }

  // Read until the server closes the connection, as Connection: close requests.
  std::string response;
  char buffer[16384];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, read_timeout_ms) <= 0) return false;
    const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
    if (n < 0) return false;
    if (n == 0) break;
    response.append(buffer, static_cast<std::size_t>(n));
  }
  const bool status_ok = response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200");
  const auto body = response.find("\r\n\r\n");
  return status_ok && body != std::string::npos &&
         response.find(opts.expect, body) != std::string::npos;
}

void stop(pid_t pid) {
  kill(pid, SIGTERM);
  const auto deadline = clock_type::now() + 5s;
  while (clock_type::now() < deadline) {
    if (waitpid(pid, nullptr, WNOHANG) == pid) return;
    std::this_thread::sleep_for(10ms);
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

}  // namespace

int main(int argc, char** argv) {
  const options opts = parse_command_line(argc, argv);

  const auto started = clock_type::now();
  const pid_t pid = start(opts);
  while (!responded(opts)) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      std::fprintf(stderr, "first_response: %s exited with status %d before a good response\n",
                   opts.command[0], WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
      return 1;
    }
    if (clock_type::now() - started > opts.timeout) {
      std::fprintf(stderr, "first_response: no good response from %s within %lld ms\n",
                   opts.url.host_port.c_str(), static_cast<long long>(opts.timeout.count()));
      stop(pid);
      return 1;
    }
    std::this_thread::sleep_for(retry_pause);
  }
  const auto elapsed = clock_type::now() - started;

  std::printf("%.3f\n", std::chrono::duration<double, std::milli>(elapsed).count());
  std::fflush(stdout);
  stop(pid);
  return 0;
}
