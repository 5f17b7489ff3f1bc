#include "sidecar/check.hpp"

#include <charconv>
#include <exception>
#include <utility>

#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/system/system_error.hpp>

namespace sidecar {
namespace {

std::string_view trim_spaces(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  return text;
}

// Parses a status code of exactly three digits, 100 to 599.
std::optional<int> parse_status(std::string_view text) {
  int status = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), status);
  if (text.size() != 3 || ec != std::errc{} || end != text.data() + text.size())
    return std::nullopt;
  if (status < 100 || status > 599) return std::nullopt;
  return status;
}

// Parses one item of a status list: "200", "2xx" or "200-299".
std::optional<status_range> parse_status_range(std::string_view text) {
  if (text.size() == 3 && (text.substr(1) == "xx" || text.substr(1) == "XX")) {
    if (text[0] < '1' || text[0] > '5') return std::nullopt;
    int low = (text[0] - '0') * 100;
    return status_range{low, low + 99};
  }

  std::size_t dash = text.find('-');
  if (dash == std::string_view::npos) {
    std::optional<int> status = parse_status(text);
    if (!status) return std::nullopt;
    return status_range{*status, *status};
  }

  std::optional<int> low = parse_status(text.substr(0, dash));
  std::optional<int> high = parse_status(text.substr(dash + 1));
  if (!low || !high || *low > *high) return std::nullopt;
  return status_range{*low, *high};
}

bool is_operation_aborted(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const boost::system::system_error& e) {
    return e.code() == asio::error::operation_aborted;
  } catch (...) {
    return false;
  }
}

// Runs the check and turns an exception into a failed result, unless it is
// the cancellation of the caller, which must keep unwinding.
asio::awaitable<check_result> run_catching(check& c) {
  std::exception_ptr error;
  std::string error_text;
  try {
    co_return co_await c.run();
  } catch (const std::exception& e) {
    error = std::current_exception();
    error_text = e.what();
  }

  asio::cancellation_state state = co_await asio::this_coro::cancellation_state;
  if (state.cancelled() != asio::cancellation_type::none || is_operation_aborted(error)) {
    std::rethrow_exception(error);
  }
  co_return check_failed("error", "check failed with an exception: " + error_text);
}

class function_check final : public check {
 public:
  function_check(std::string target, std::function<asio::awaitable<check_result>()> fn)
      : target_(std::move(target)), fn_(std::move(fn)) {}

  std::string_view kind() const override { return "function"; }
  std::string target() const override { return target_; }
  asio::awaitable<check_result> run() override { return fn_(); }

 private:
  std::string target_;
  std::function<asio::awaitable<check_result>()> fn_;
};

}  // namespace

check_result check_passed() {
  return {.passed = true, .reason = "ok", .message = {}, .duration = {}};
}

check_result check_failed(std::string reason, std::string message) {
  return {
      .passed = false, .reason = std::move(reason), .message = std::move(message), .duration = {}};
}

std::optional<std::vector<status_range>> parse_status_ranges(std::string_view text) {
  std::vector<status_range> ranges;
  while (true) {
    std::size_t comma = text.find(',');
    std::optional<status_range> range = parse_status_range(trim_spaces(text.substr(0, comma)));
    if (!range) return std::nullopt;
    ranges.push_back(*range);
    if (comma == std::string_view::npos) return ranges;
    text.remove_prefix(comma + 1);
  }
}

std::string format_status_ranges(const std::vector<status_range>& ranges) {
  std::string text;
  for (const status_range& range : ranges) {
    if (!text.empty()) text += ',';
    text += std::to_string(range.low);
    if (range.high == range.low) continue;
    text += '-';
    text += std::to_string(range.high);
  }
  return text;
}

asio::awaitable<check_result> run_timed(check& c) {
  auto start = std::chrono::steady_clock::now();
  check_result result = co_await run_catching(c);
  result.duration = std::chrono::steady_clock::now() - start;
  co_return result;
}

std::unique_ptr<check> make_function_check(std::string target,
                                           std::function<asio::awaitable<check_result>()> fn) {
  return std::make_unique<function_check>(std::move(target), std::move(fn));
}

}  // namespace sidecar
