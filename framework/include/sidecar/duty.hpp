#pragma once

// A duty: one named coroutine of a sidecar, run and restarted by the supervisor.
//
//   sidecar::duty flush{"flush", [](sidecar::duty_context& ctx) -> asio::awaitable<void> {
//     for (;;) {
//       http::client_request flush{.method = "POST", .url = "http://127.0.0.1:8080/flush"};
//       co_await ctx.http.fetch(std::move(flush));
//       co_await ctx.sleep(30s);
//     }
//   }};
//
// A duty that throws is logged and restarted with back-off. Cancellation (on
// shutdown or reload) arrives through the coroutine's cancellation slot, so
// any pending Asio operation completes with operation_aborted.

#include <chrono>
#include <functional>
#include <string>

#include "sidecar/asio.hpp"
#include "sidecar/log.hpp"

namespace sidecar {

class metrics;
namespace http {
class client;
}

struct duty_context {
  std::string name;
  sidecar::logger log;
  sidecar::metrics& metrics;
  http::client& http;
  asio::any_io_executor executor;

  // Waits for `duration`; throws boost::system::system_error with
  // operation_aborted when the duty is cancelled meanwhile.
  asio::awaitable<void> sleep(std::chrono::steady_clock::duration duration) const;
};

using duty_function = std::function<asio::awaitable<void>(duty_context&)>;

struct duty {
  std::string name;
  duty_function run;
};

}  // namespace sidecar
