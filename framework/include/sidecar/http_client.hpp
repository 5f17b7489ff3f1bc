#pragma once

// An HTTP/1.1 client for calls to the main container.
//
//   http::client client(executor);
//   const http::client_request request{.url = "http://127.0.0.1:8080/status.json", .timeout = 1s};
//   auto result = co_await client.fetch(request);
//   if (result.ok()) use(result.response.body);
//
// NOTE: name the request as above. g++ 12 destroys a braced aggregate
// temporary twice when it is written inside a co_await expression, so
// `co_await client.fetch({.url = ...})` corrupts the heap.
//
// Failures come back as values with a reason, never as exceptions, because a
// failing main app is what a sidecar exists to report. The exception is
// cancellation: a call whose caller is cancelled throws
// boost::system::system_error with operation_aborted. Every call has a
// deadline covering resolve, connect, write and read; `connect_timeout`
// bounds the connect step alone. A body larger than `max_body` is a
// `body_too_large` failure and is never held in memory whole. Connections
// are kept alive and reused per host and port; a reused connection that the
// peer has closed is retried once on a new connection when nothing of the
// response had arrived. Redirects are followed only when asked.
//
// Not thread-safe: use one client per executor.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "sidecar/asio.hpp"
#include "sidecar/http_message.hpp"

namespace sidecar::http {

enum class failure {
  none,
  invalid_url,     // the URL could not be parsed
  resolve,         // the host name did not resolve
  refused,         // connection refused
  connect_timeout, // no connection within connect_timeout
  timeout,         // the whole call passed its deadline
  reset,           // the peer reset or closed the connection mid-response
  body_too_large,  // the body passed max_body
  header_too_large,
  protocol,        // the response was not valid HTTP/1.x
  too_many_redirects,
  io,              // any other socket error
};

// A stable snake_case name used in metrics labels and logs: "refused".
std::string_view to_string(failure f);

struct client_request {
  std::string method = "GET";
  std::string url;
  http::headers headers;
  std::string body;
  std::chrono::milliseconds timeout{1000};
  std::chrono::milliseconds connect_timeout{1000};
  std::size_t max_body = 1024 * 1024;
  bool follow_redirects = false;
  int max_redirects = 10;
};

struct client_response {
  int status = 0;
  http::headers headers;
  std::string body;
};

struct client_result {
  failure error = failure::none;
  std::string message;  // human-readable detail when error != none
  client_response response;
  std::chrono::steady_clock::duration duration{};
  bool reused_connection = false;

  bool ok() const { return error == failure::none; }
};

struct client_options {
  std::size_t max_idle_per_host = 32;
  std::chrono::milliseconds idle_timeout{30000};
  std::string user_agent = "sidecar";
};

class client {
 public:
  explicit client(asio::any_io_executor executor, client_options options = {});
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  asio::awaitable<client_result> fetch(client_request request);
  // Closes every idle connection.
  void close_idle();
  std::size_t idle_connections() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace sidecar::http
