#include "sidecar/check.hpp"

#include <algorithm>
#include <utility>

namespace sidecar {
namespace {

// The metric reason of a failed JSON check: json_invalid, json_missing, ...
std::string json_reason(json_failure failure) {
  if (failure == json_failure::invalid_json) return "json_invalid";
  return "json_" + std::string(to_string(failure));
}

// Header values are quoted as JSON strings, so that spaces and quotes show.
std::string quote(std::string_view text) { return to_json_text(std::string(text)); }

std::optional<check_result> check_status(const http_check_spec& spec, int status) {
  // An empty list accepts every status.
  if (spec.status.empty()) return std::nullopt;
  auto contains = [status](const status_range& range) { return range.contains(status); };
  if (std::any_of(spec.status.begin(), spec.status.end(), contains)) return std::nullopt;
  return check_failed("status", "HTTP status " + std::to_string(status) + ", expected " +
                                    format_status_ranges(spec.status));
}

std::optional<check_result> check_header(const header_expectation& expected,
                                         const http::headers& headers) {
  if (!headers.contains(expected.name)) {
    return check_failed("header_mismatch", "header " + expected.name + " is missing");
  }

  std::string_view value = headers.get(expected.name);
  if (expected.equals && value != *expected.equals) {
    return check_failed("header_mismatch", "header " + expected.name + " is " + quote(value) +
                                               ", expected " + quote(*expected.equals));
  }
  if (expected.matches && !expected.matches->search(value)) {
    return check_failed("header_mismatch", "header " + expected.name + " is " + quote(value) +
                                               ", expected a match of /" +
                                               expected.matches->pattern() + "/");
  }
  return std::nullopt;
}

std::optional<check_result> check_body(const http_check_spec& spec, std::string_view body) {
  if (spec.body && !spec.body->search(body)) {
    return check_failed("body_mismatch", "body does not match /" + spec.body->pattern() + "/");
  }
  for (const json_check& json : spec.json) {
    json_check_result result = evaluate(json, body);
    if (!result.passed) return check_failed(json_reason(result.reason), std::move(result.message));
  }
  return std::nullopt;
}

class http_check final : public check {
 public:
  http_check(http::client& client, http_check_spec spec)
      : client_(client), spec_(std::move(spec)) {}

  std::string_view kind() const override { return "http"; }
  std::string target() const override { return spec_.request.method + " " + spec_.request.url; }

  asio::awaitable<check_result> run() override {
    http::client_result result = co_await client_.fetch(spec_.request);
    co_return evaluate_http_response(spec_, result);
  }

 private:
  http::client& client_;
  http_check_spec spec_;
};

}  // namespace

check_result evaluate_http_response(const http_check_spec& spec,
                                    const http::client_result& result) {
  // The order matters: a failure found early explains the later ones (a 503
  // page is rarely the expected JSON), so only the first is reported.
  if (!result.ok()) {
    std::string reason(http::to_string(result.error));
    std::string message = result.message.empty() ? reason : result.message;
    return check_failed(std::move(reason), std::move(message));
  }

  const http::client_response& response = result.response;
  if (auto failure = check_status(spec, response.status)) return *failure;
  for (const header_expectation& expected : spec.headers) {
    if (auto failure = check_header(expected, response.headers)) return *failure;
  }
  if (auto failure = check_body(spec, response.body)) return *failure;
  return check_passed();
}

std::unique_ptr<check> make_http_check(http::client& client, http_check_spec spec) {
  return std::make_unique<http_check>(client, std::move(spec));
}

}  // namespace sidecar
