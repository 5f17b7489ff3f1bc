#pragma once

// An HTTP/1.1 server for a sidecar's own endpoints.
//
//   http::router routes;
//   routes.add("GET", "/ready", [](const http::request&) -> asio::awaitable<http::response> {
//     co_return http::make_response(200, "ok\n");
//   });
//   http::server server(executor, {.listen = "127.0.0.1:9090"}, routes, log);
//   co_await server.run();
//
// Routes match the exact path. HEAD is answered from the GET route with an
// empty body. An unknown path is 404, a known path with another method 405
// (with an Allow header), a body over `max_body` 413 and a header over
// `max_header` 431. Every read has a deadline so that a client sending slowly
// cannot hold a connection, and at most `max_connections` are open at once;
// connections past that are closed at once after accept.
//
// Not thread-safe: the server and its handlers run on one executor.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "sidecar/asio.hpp"
#include "sidecar/http_message.hpp"
#include "sidecar/log.hpp"

namespace sidecar::http {

using handler = std::function<asio::awaitable<response>(const request&)>;

class router {
 public:
  // Adds or replaces the handler of `method` on `path`.
  void add(std::string method, std::string path, handler h);
  // Removes every route whose path is `path`.
  void remove(std::string_view path);
  // Finds the handler for a request; sets `path_known` when the path exists
  // under another method, and fills `allow` with the methods it has.
  const handler* find(std::string_view method, std::string_view path, bool& path_known,
                      std::string& allow) const;

 private:
  std::map<std::string, std::map<std::string, handler>, std::less<>> routes_;  // path -> method -> handler
};

struct server_options {
  std::string listen = "127.0.0.1:9090";  // host:port; port 0 picks a free port
  std::size_t max_header = 8 * 1024;
  std::size_t max_body = 64 * 1024;
  std::size_t max_connections = 256;
  // Budget for reading one whole request header once its first byte arrives,
  // and for reading its body. A new connection must also send its first byte
  // within this time.
  std::chrono::milliseconds read_timeout{5000};
  // How long an idle keep-alive connection stays open between requests.
  std::chrono::milliseconds idle_timeout{60000};
  std::chrono::milliseconds write_timeout{5000};
};

// Parses "host:port" or "[v6]:port"; throws std::invalid_argument with a
// message naming the value when invalid.
std::pair<std::string, std::uint16_t> parse_listen_address(std::string_view text);

class server {
 public:
  // Binds and listens at once, so that a busy port fails here with a clear
  // std::system_error rather than later inside a duty.
  server(asio::any_io_executor executor, server_options options,
         std::shared_ptr<router> routes, logger log);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Accepts connections until stop() or cancellation.
  asio::awaitable<void> run();
  // Closes the listening socket and every open connection.
  void stop();

  std::uint16_t port() const;
  std::size_t open_connections() const;
  // Connections closed at accept because max_connections were open.
  std::size_t rejected_connections() const;
  router& routes() { return *routes_; }

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
  std::shared_ptr<router> routes_;
};

}  // namespace sidecar::http
