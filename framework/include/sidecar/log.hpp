#pragma once

// Structured logging: one JSON object per line on stderr.
//
//   auto log = sink->make_logger("api-probe");
//   log.warn("probe failed", {{"status", 503}, {"expected", "200-299"}});
//
// writes
//
//   {"ts":"2026-12-04T12:00:00.123Z","level":"warn","duty":"api-probe",
//    "msg":"probe failed","status":503,"expected":"200-299"}
//
// `msg` is a fixed phrase and variable data goes in fields, so lines can be
// searched and counted. Each (duty, msg) pair is rate-limited: after a burst,
// further lines in the same window are dropped and the next line written
// carries a `dropped` field with their count.

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <variant>

namespace sidecar {

enum class log_level { debug, info, warn, error };

// Parses "debug", "info", "warn" or "error"; throws std::invalid_argument otherwise.
log_level parse_log_level(std::string_view text);
std::string_view to_string(log_level level);

// One named value of a log line.
struct log_field {
  using value_type = std::variant<std::string, std::int64_t, std::uint64_t, double, bool>;

  template <typename T>
  log_field(std::string_view key, T&& value) : key(key), value(make_value(std::forward<T>(value))) {}

  std::string key;
  value_type value;

 private:
  template <typename T>
  static value_type make_value(T&& value) {
    using U = std::remove_cvref_t<T>;
    if constexpr (std::is_same_v<U, bool>) {
      return value;
    } else if constexpr (std::is_floating_point_v<U>) {
      return static_cast<double>(value);
    } else if constexpr (std::is_integral_v<U> && std::is_signed_v<U>) {
      return static_cast<std::int64_t>(value);
    } else if constexpr (std::is_integral_v<U>) {
      return static_cast<std::uint64_t>(value);
    } else if constexpr (std::is_same_v<U, std::chrono::nanoseconds> ||
                         std::is_same_v<U, std::chrono::microseconds> ||
                         std::is_same_v<U, std::chrono::milliseconds> ||
                         std::is_same_v<U, std::chrono::seconds>) {
      return std::chrono::duration<double>(value).count();
    } else {
      return std::string(std::string_view(value));
    }
  }
};

using log_fields = std::initializer_list<log_field>;

// Rate limit applied to each (duty, msg) pair.
struct log_rate_limit {
  int burst = 5;                                   // lines let through per window
  std::chrono::steady_clock::duration window = std::chrono::seconds(10);
};

class logger;

// Destination of log lines, shared by every logger of a process. Thread-safe.
class log_sink : public std::enable_shared_from_this<log_sink> {
 public:
  // Writes each line with one write(2) call to `fd` (stderr by default).
  explicit log_sink(log_level min_level = log_level::info, log_rate_limit limit = {}, int fd = 2);

  // Replaces the destination with a function; tests use it to capture lines.
  void set_writer(std::function<void(std::string_view line)> writer);
  void set_min_level(log_level level);
  log_level min_level() const;

  // A logger that writes lines with the given `duty` value. The sink must be
  // owned by a std::shared_ptr.
  sidecar::logger make_logger(std::string duty);

  void write(log_level level, std::string_view duty, std::string_view msg, log_fields fields);

 private:
  struct limiter_state {
    std::chrono::steady_clock::time_point window_start;
    int written_in_window = 0;
    std::uint64_t dropped = 0;
  };

  mutable std::mutex mutex_;
  log_level min_level_;
  log_rate_limit limit_;
  int fd_;
  std::function<void(std::string_view)> writer_;
  std::map<std::string, limiter_state, std::less<>> limiters_;  // key: duty '\x1f' msg
};

// A cheap handle that writes lines for one duty. Copyable.
class logger {
 public:
  logger(std::shared_ptr<log_sink> sink, std::string duty);

  void debug(std::string_view msg, log_fields fields = {}) const { write(log_level::debug, msg, fields); }
  void info(std::string_view msg, log_fields fields = {}) const { write(log_level::info, msg, fields); }
  void warn(std::string_view msg, log_fields fields = {}) const { write(log_level::warn, msg, fields); }
  void error(std::string_view msg, log_fields fields = {}) const { write(log_level::error, msg, fields); }
  void write(log_level level, std::string_view msg, log_fields fields) const;

  const std::string& duty() const { return duty_; }
  // A logger sharing this one's sink with another duty name.
  logger for_duty(std::string duty) const { return logger(sink_, std::move(duty)); }

 private:
  std::shared_ptr<log_sink> sink_;
  std::string duty_;
};

// Formats a time as RFC 3339 in UTC with milliseconds: 2026-12-04T12:00:00.123Z.
std::string format_rfc3339(std::chrono::system_clock::time_point time);

// Appends `text` to `out` as a JSON string literal, quotes included.
void append_json_string(std::string& out, std::string_view text);

}  // namespace sidecar
