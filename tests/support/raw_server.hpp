#pragma once

// A TCP server on 127.0.0.1 that misbehaves on cue, for the cases no real
// server produces on demand: a slow response, a reset in the middle of a
// response, a huge body, bytes that are not HTTP, or no response at all.
//
//   support::raw_server slow([](int fd) {
//     support::read_request(fd);
//     support::sleep_unless_stopped(10s);  // the client's deadline fires first
//   });
//   const sidecar::http::client_request request{.url = slow.url("/"), .timeout = 1s};
//   auto result = co_await client.fetch(request);
//   CHECK(slow.connections() == 1);
//
// Each accepted connection runs the handler on its own thread; the server
// closes the descriptor when the handler returns. The destructor stops
// accepting, wakes the helpers below in every handler, and joins all
// threads, so a handler must return soon after stop: use the helpers for
// every wait, not plain sleeps or blocking reads. An exception escaping a
// handler is printed to stderr and ends that connection only.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

namespace support {

class raw_server {
 public:
  using handler = std::function<void(int fd)>;

  // Binds 127.0.0.1 on a free port and starts accepting.
  explicit raw_server(handler on_connection);
  ~raw_server();
  raw_server(const raw_server&) = delete;
  raw_server& operator=(const raw_server&) = delete;

  std::uint16_t port() const { return port_; }
  // "http://127.0.0.1:PORT" followed by `target`.
  std::string url(std::string_view target = "/") const;

  // Connections accepted so far.
  std::size_t connections() const { return connections_.load(); }
  // Requests that read_request() returned on this server's connections.
  std::size_t requests() const { return requests_.load(); }

  // Stops accepting and ends every connection. The destructor calls it.
  void stop();

 private:
  struct connection;

  void accept_loop();
  void serve(connection& c);
  void join_finished();

  handler handler_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<std::size_t> connections_{0};
  std::atomic<std::size_t> requests_{0};
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable stop_signal_;
  std::list<connection> live_;
  std::thread acceptor_;
};

struct raw_request {
  std::string method;
  std::string target;
  std::string head;  // request line and header fields, up to and including the empty line
  std::string body;  // Content-Length bytes after the head
};

// Reads one request: up to the empty line after the header fields, then a
// body of Content-Length bytes. Returns nothing on end of stream, on an error,
// after `timeout`, or when the server stops. On a server's connection a
// returned request is counted in raw_server::requests().
std::optional<raw_request> read_request(int fd, std::chrono::milliseconds timeout = std::chrono::seconds(5));

// Writes all of `data`, waiting while the peer's receive window is full.
// Returns false when the peer has gone, or when the server stops.
bool write_all(int fd, std::string_view data);

// Sets SO_LINGER to zero, so that closing the socket sends a reset (RST)
// in place of an orderly end of stream (FIN).
void reset_on_close(int fd);

// Sleeps for `duration`, waking early when the server of the calling
// handler stops. Returns false when it woke early.
bool sleep_unless_stopped(std::chrono::milliseconds duration);

// Waits until the peer closes the connection, `timeout` passes or the server
// stops; discards anything the peer sends. Returns true when the peer closed.
bool wait_for_peer_close(int fd, std::chrono::milliseconds timeout);

}  // namespace support
