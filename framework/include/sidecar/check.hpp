#pragma once

// Checks of a main container's health: HTTP, TCP connect and file age.
//
//   auto ready = sidecar::make_http_check(client, {
//       .request = {.url = "http://127.0.0.1:8080/status.json", .timeout = 1s},
//       .json = sidecar::json_check{.pointer = "/value", .op = sidecar::json_op::equals, .operand = 5.0}});
//   sidecar::check_result r = co_await ready->run();
//
// A check never throws for a failing target: every failure is a result with a
// stable `reason` (a metric label) and a `message` for people. Cancellation
// still propagates as an exception.

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sidecar/asio.hpp"
#include "sidecar/http_client.hpp"
#include "sidecar/json_check.hpp"
#include "sidecar/regex.hpp"

namespace sidecar {

struct check_result {
  bool passed = false;
  // "ok" when passed. Otherwise one of the http::failure names (refused,
  // timeout, reset, body_too_large, ...), or status, json_invalid,
  // json_missing, json_wrong_type, json_mismatch, body_mismatch,
  // header_mismatch, file_missing, file_too_old, error.
  std::string reason;
  std::string message;  // "HTTP status 503, expected 200-299"; empty when passed
  std::chrono::steady_clock::duration duration{};
};

check_result check_passed();
check_result check_failed(std::string reason, std::string message);

// An inclusive range of HTTP status codes.
struct status_range {
  int low = 200;
  int high = 299;
  bool contains(int status) const { return status >= low && status <= high; }
};

// Parses "200-299", "200", "2xx" or a comma-separated list of them.
std::optional<std::vector<status_range>> parse_status_ranges(std::string_view text);
std::string format_status_ranges(const std::vector<status_range>& ranges);

struct header_expectation {
  std::string name;
  std::optional<std::string> equals;   // exact value
  std::optional<sidecar::regex> matches;  // RE2 search in the value
  // With neither, the header must be present.
};

struct http_check_spec {
  http::client_request request;
  std::vector<status_range> status{{200, 299}};
  std::vector<json_check> json;  // each must pass
  std::optional<sidecar::regex> body;  // must match somewhere in the body
  std::vector<header_expectation> headers;
};

struct tcp_check_spec {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::chrono::milliseconds timeout{1000};
};

struct file_check_spec {
  std::filesystem::path path;
  // When set, the file's modification time must be at most this old.
  std::optional<std::chrono::milliseconds> max_age;
};

class check {
 public:
  virtual ~check() = default;
  // "http", "tcp", "file" or "function".
  virtual std::string_view kind() const = 0;
  // What the check looks at, for status pages: "GET http://127.0.0.1:8080/".
  virtual std::string target() const = 0;
  // Runs the check once; `duration` of the result is filled in by the caller
  // of run_timed().
  virtual asio::awaitable<check_result> run() = 0;
};

// Runs the check and stores its wall time in the result's `duration`. An
// exception from the check becomes a failed result with reason "error",
// except cancellation (operation_aborted, or a cancelled caller), which is
// rethrown.
asio::awaitable<check_result> run_timed(check& c);

// The HTTP check borrows `client`, which must outlive it.
std::unique_ptr<check> make_http_check(http::client& client, http_check_spec spec);
std::unique_ptr<check> make_tcp_check(tcp_check_spec spec);
std::unique_ptr<check> make_file_check(file_check_spec spec);
// A check written as a coroutine, for sidecars built on the framework.
std::unique_ptr<check> make_function_check(std::string target,
                                           std::function<asio::awaitable<check_result>()> fn);

// Evaluates an HTTP response against the expectations of `spec`, without I/O.
check_result evaluate_http_response(const http_check_spec& spec, const http::client_result& result);

}  // namespace sidecar
