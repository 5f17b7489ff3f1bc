#include "sidecar/log.hpp"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <ctime>
#include <stdexcept>

namespace sidecar {

log_level parse_log_level(std::string_view text) {
  if (text == "debug") return log_level::debug;
  if (text == "info") return log_level::info;
  if (text == "warn") return log_level::warn;
  if (text == "error") return log_level::error;
  throw std::invalid_argument("log level \"" + std::string(text) +
                              "\" is not valid, expected debug, info, warn or error");
}

std::string_view to_string(log_level level) {
  switch (level) {
    case log_level::debug: return "debug";
    case log_level::info: return "info";
    case log_level::warn: return "warn";
    case log_level::error: return "error";
  }
  return "info";
}

std::string format_rfc3339(std::chrono::system_clock::time_point time) {
  using namespace std::chrono;
  const auto since_epoch = time.time_since_epoch();
  const auto secs = floor<seconds>(since_epoch);
  const auto millis = duration_cast<milliseconds>(since_epoch - secs).count();
  const std::time_t t = secs.count();
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buffer[32];
  const int n = std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                              utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour,
                              utc.tm_min, utc.tm_sec, static_cast<int>(millis));
  return std::string(buffer, static_cast<std::size_t>(n));
}

namespace {

// The length of the valid UTF-8 sequence at the start of `text`, or 0 when
// it is not one (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF).
std::size_t utf8_sequence_length(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  std::size_t length = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) low = 0xa0;
    if (lead == 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) low = 0x90;
    if (lead == 0xf4) high = 0x8f;
  } else {
    return 0;
  }
  if (text.size() < length) return 0;
  if (byte(1) < low || byte(1) > high) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xbf) return 0;
  }
  return length;
}

}  // namespace

void append_json_string(std::string& out, std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x80) {
      // JSON text must be UTF-8, and the text may come from a main app or a
      // file that is not: each invalid byte becomes U+FFFD.
      const std::size_t length = utf8_sequence_length(text.substr(i));
      if (length == 0) {
        out += "\xef\xbf\xbd";
        ++i;
      } else {
        out.append(text.substr(i, length));
        i += length;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (byte < 0x20 || byte == 0x7f) {
          out += "\\u00";
          out.push_back(hex[byte >> 4]);
          out.push_back(hex[byte & 0xf]);
        } else {
          out.push_back(c);
        }
    }
    ++i;
  }
  out.push_back('"');
}

namespace {

void append_value(std::string& out, const log_field::value_type& value) {
  std::visit(
      [&out](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          append_json_string(out, v);
        } else if constexpr (std::is_same_v<T, bool>) {
          out += v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, double>) {
          // JSON has no NaN or infinity.
          if (!std::isfinite(v)) {
            out += "null";
            return;
          }
          char buffer[32];
          const auto result = std::to_chars(buffer, buffer + sizeof buffer, v);
          out.append(buffer, result.ptr);
        } else {
          out += std::to_string(v);
        }
      },
      value);
}

void write_line_to_fd(int fd, std::string_view line) {
  // A short write is retried so that a line is never cut, since log readers
  // split on newlines.
  while (!line.empty()) {
    const ssize_t n = ::write(fd, line.data(), line.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    line.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

log_sink::log_sink(log_level min_level, log_rate_limit limit, int fd)
    : min_level_(min_level), limit_(limit), fd_(fd) {}

void log_sink::set_writer(std::function<void(std::string_view)> writer) {
  std::lock_guard lock(mutex_);
  writer_ = std::move(writer);
}

void log_sink::set_min_level(log_level level) {
  std::lock_guard lock(mutex_);
  min_level_ = level;
}

log_level log_sink::min_level() const {
  std::lock_guard lock(mutex_);
  return min_level_;
}

logger log_sink::make_logger(std::string duty) { return sidecar::logger(shared_from_this(), std::move(duty)); }

void log_sink::write(log_level level, std::string_view duty, std::string_view msg, log_fields fields) {
  std::lock_guard lock(mutex_);
  if (level < min_level_) return;

  // Rate limit per (duty, msg): a fixed window that lets `burst` lines through.
  const auto now = std::chrono::steady_clock::now();
  std::string key;
  key.reserve(duty.size() + msg.size() + 1);
  key.append(duty).push_back('\x1f');
  key.append(msg);
  auto it = limiters_.find(key);
  if (it == limiters_.end()) it = limiters_.emplace(std::move(key), limiter_state{now, 0, 0}).first;
  limiter_state& state = it->second;
  if (now - state.window_start >= limit_.window) {
    state.window_start = now;
    state.written_in_window = 0;
  }
  if (state.written_in_window >= limit_.burst) {
    ++state.dropped;
    return;
  }
  ++state.written_in_window;

  std::string line;
  line.reserve(128);
  line += "{\"ts\":\"";
  line += format_rfc3339(std::chrono::system_clock::now());
  line += "\",\"level\":\"";
  line += to_string(level);
  line += "\",\"duty\":";
  append_json_string(line, duty);
  line += ",\"msg\":";
  append_json_string(line, msg);
  for (const log_field& field : fields) {
    line.push_back(',');
    append_json_string(line, field.key);
    line.push_back(':');
    append_value(line, field.value);
  }
  if (state.dropped > 0) {
    line += ",\"dropped\":";
    line += std::to_string(state.dropped);
    state.dropped = 0;
  }
  line += "}\n";

  if (writer_) {
    writer_(line);
  } else {
    write_line_to_fd(fd_, line);
  }
}

logger::logger(std::shared_ptr<log_sink> sink, std::string duty) : sink_(std::move(sink)), duty_(std::move(duty)) {}

void logger::write(log_level level, std::string_view msg, log_fields fields) const {
  if (sink_) sink_->write(level, duty_, msg, fields);
}

}  // namespace sidecar
