#include "support/raw_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <system_error>

namespace support {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

struct raw_server::connection {
  int fd = -1;
  std::thread thread;
  std::atomic<bool> done{false};
};

namespace {

// The maximum wait inside one poll() call, so that a helper notices stop()
// soon even if the wake-up through shutdown(2) were missed.
constexpr auto poll_slice = 50ms;

// What the helpers know about the connection of the calling handler thread.
struct connection_context {
  const std::atomic<bool>* stopping;
  std::atomic<std::size_t>* requests;
  std::mutex* mutex;
  std::condition_variable* stop_signal;
  int fd;
  std::string pending;  // bytes read past the end of the previous request
};

thread_local connection_context* current = nullptr;

bool stopping() { return current != nullptr && current->stopping->load(); }

// Polls `fd` for `events` in short slices until it is ready, the deadline
// passes or the server stops.
bool wait_ready(int fd, short events, clock::time_point deadline) {
  for (;;) {
    if (stopping()) return false;
    auto now = clock::now();
    if (now >= deadline) return false;
    auto slice = std::min<clock::duration>(poll_slice, deadline - now);
    pollfd entry{fd, events, 0};
    int n = ::poll(&entry, 1, static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(slice).count()));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

std::optional<std::size_t> content_length(std::string_view head) {
  constexpr std::string_view name = "content-length:";
  for (std::size_t pos = head.find("\r\n"); pos != std::string_view::npos && pos + 2 < head.size();) {
    std::size_t start = pos + 2;
    std::size_t end = head.find("\r\n", start);
    std::string_view line = head.substr(start, end - start);
    if (line.size() > name.size() &&
        std::equal(name.begin(), name.end(), line.begin(),
                   [](char a, char b) { return a == std::tolower(static_cast<unsigned char>(b)); })) {
      std::string_view value = line.substr(name.size());
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
      std::size_t length = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
      if (ec == std::errc()) return length;
      return std::nullopt;
    }
    pos = end;
  }
  return std::nullopt;
}

}  // namespace

raw_server::raw_server(handler on_connection) : handler_(std::move(on_connection)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::system_error(errno, std::generic_category(), "raw_server: socket");
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) < 0 ||
      ::listen(listen_fd_, 128) < 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) < 0) {
    int error = errno;
    ::close(listen_fd_);
    throw std::system_error(error, std::generic_category(), "raw_server: bind 127.0.0.1:0");
  }
  port_ = ntohs(address.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

raw_server::~raw_server() { stop(); }

std::string raw_server::url(std::string_view target) const {
  return "http://127.0.0.1:" + std::to_string(port_) + std::string(target);
}

void raw_server::stop() {
  if (!acceptor_.joinable()) return;

  // Stop accepting, then wake every handler blocked in a helper.
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stop_signal_.notify_all();
  ::shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  {
    std::lock_guard lock(mutex_);
    for (auto& c : live_) {
      if (c.fd >= 0) ::shutdown(c.fd, SHUT_RDWR);
    }
  }

  // serve() takes the lock at its end, so join without holding it.
  for (auto& c : live_) c.thread.join();
  live_.clear();
  ::close(listen_fd_);
  listen_fd_ = -1;
}

void raw_server::accept_loop() {
  while (!stopping_) {
    join_finished();
    pollfd entry{listen_fd_, POLLIN, 0};
    int n = ::poll(&entry, 1, static_cast<int>(poll_slice.count()));
    if (n <= 0 || stopping_) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ++connections_;
    std::lock_guard lock(mutex_);
    connection& c = live_.emplace_back();
    c.fd = fd;
    c.thread = std::thread([this, &c] { serve(c); });
  }
}

void raw_server::join_finished() {
  std::lock_guard lock(mutex_);
  for (auto it = live_.begin(); it != live_.end();) {
    if (it->done) {
      it->thread.join();
      it = live_.erase(it);
    } else {
      ++it;
    }
  }
}

void raw_server::serve(connection& c) {
  connection_context context{&stopping_, &requests_, &mutex_, &stop_signal_, c.fd, {}};
  current = &context;
  try {
    handler_(c.fd);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "raw_server: handler on port %u failed: %s\n", port_, e.what());
  }
  current = nullptr;

  std::lock_guard lock(mutex_);
  ::close(c.fd);
  c.fd = -1;
  c.done = true;
}

std::optional<raw_request> read_request(int fd, std::chrono::milliseconds timeout) {
  const auto deadline = clock::now() + timeout;
  std::string data;
  bool own_connection = current != nullptr && current->fd == fd;
  if (own_connection) data.swap(current->pending);

  // Read until `needed` bytes are there; false on end of stream or timeout.
  char buffer[65536];
  auto read_more = [&] {
    if (!wait_ready(fd, POLLIN, deadline)) return false;
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) return false;
    data.append(buffer, static_cast<std::size_t>(n));
    return true;
  };

  std::size_t head_end;
  while ((head_end = data.find("\r\n\r\n")) == std::string::npos) {
    if (!read_more()) return std::nullopt;
  }
  raw_request request;
  request.head = data.substr(0, head_end + 4);
  std::size_t length = content_length(request.head).value_or(0);
  while (data.size() < head_end + 4 + length) {
    if (!read_more()) return std::nullopt;
  }
  request.body = data.substr(head_end + 4, length);
  if (own_connection) current->pending = data.substr(head_end + 4 + length);

  std::string_view line = std::string_view(request.head).substr(0, request.head.find("\r\n"));
  std::size_t first_space = line.find(' ');
  std::size_t second_space = line.find(' ', first_space + 1);
  request.method = std::string(line.substr(0, first_space));
  if (first_space != std::string_view::npos) {
    request.target = std::string(line.substr(first_space + 1, second_space - first_space - 1));
  }
  if (current != nullptr) ++*current->requests;
  return request;
}

bool write_all(int fd, std::string_view data) {
  // A full receive window can last for ever, so the deadline is only stop().
  const auto deadline = clock::time_point::max();
  while (!data.empty()) {
    if (!wait_ready(fd, POLLOUT, deadline)) return false;
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n < 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

void reset_on_close(int fd) {
  linger option{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, sizeof option);
}

bool sleep_unless_stopped(std::chrono::milliseconds duration) {
  if (current == nullptr) {
    std::this_thread::sleep_for(duration);
    return true;
  }
  std::unique_lock lock(*current->mutex);
  return !current->stop_signal->wait_for(lock, duration, [] { return current->stopping->load(); });
}

bool wait_for_peer_close(int fd, std::chrono::milliseconds timeout) {
  const auto deadline = clock::now() + timeout;
  char buffer[4096];
  while (wait_ready(fd, POLLIN, deadline)) {
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n == 0) return true;
    if (n < 0 && errno != EAGAIN && errno != EINTR) return true;
  }
  return false;
}

}  // namespace support
