#include "sidecar/duration.hpp"

#include <cstdint>

namespace sidecar {
namespace {

using rep = std::chrono::milliseconds::rep;

// Returns the milliseconds in one `unit`, or 0 for an unknown unit.
rep unit_size(std::string_view unit) {
  if (unit == "ms") return 1;
  if (unit == "s") return 1000;
  if (unit == "m") return 60 * 1000;
  if (unit == "h") return 60 * 60 * 1000;
  return 0;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Removes the leading run of digits from `text` and returns it.
std::string_view take_digits(std::string_view& text) {
  std::size_t end = 0;
  while (end < text.size() && is_digit(text[end])) ++end;
  std::string_view digits = text.substr(0, end);
  text.remove_prefix(end);
  return digits;
}

// Removes the leading run of letters from `text` and returns it.
std::string_view take_unit(std::string_view& text) {
  std::size_t end = 0;
  while (end < text.size() && text[end] >= 'a' && text[end] <= 'z') ++end;
  std::string_view unit = text.substr(0, end);
  text.remove_prefix(end);
  return unit;
}

// Converts a non-empty digit string, returning nothing on overflow.
std::optional<rep> to_integer(std::string_view digits) {
  rep value = 0;
  for (char c : digits) {
    if (__builtin_mul_overflow(value, 10, &value)) return std::nullopt;
    if (__builtin_add_overflow(value, c - '0', &value)) return std::nullopt;
  }
  return value;
}

// Computes the milliseconds in `whole.fraction` units. Returns nothing when
// the result overflows or is not a whole number of milliseconds, as in "1.5ms".
std::optional<rep> term_size(std::string_view whole, std::string_view fraction, rep unit) {
  std::optional<rep> whole_value = to_integer(whole);
  rep result = 0;
  if (!whole_value || __builtin_mul_overflow(*whole_value, unit, &result)) return std::nullopt;

  // Trailing zeros add nothing. With more than 7 digits left, no fraction is
  // a whole number of milliseconds, even of an hour (3,600,000 = 2^7 * 3^2 * 5^5).
  while (!fraction.empty() && fraction.back() == '0') fraction.remove_suffix(1);
  if (fraction.empty()) return result;
  if (fraction.size() > 7) return std::nullopt;

  rep denominator = 1;
  for (std::size_t i = 0; i < fraction.size(); ++i) denominator *= 10;
  rep scaled = *to_integer(fraction) * unit;  // below 10^7 * 3.6e6, far from overflow
  if (scaled % denominator != 0) return std::nullopt;
  if (__builtin_add_overflow(result, scaled / denominator, &result)) return std::nullopt;
  return result;
}

}  // namespace

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;

  rep total = 0;
  while (!text.empty()) {
    // One term: digits, an optional '.' and digits, then a unit.
    std::string_view whole = take_digits(text);
    if (whole.empty()) return std::nullopt;
    std::string_view fraction;
    if (!text.empty() && text.front() == '.') {
      text.remove_prefix(1);
      fraction = take_digits(text);
      if (fraction.empty()) return std::nullopt;
    }
    rep unit = unit_size(take_unit(text));
    if (unit == 0) return std::nullopt;

    std::optional<rep> size = term_size(whole, fraction, unit);
    if (!size || __builtin_add_overflow(total, *size, &total)) return std::nullopt;
  }
  return std::chrono::milliseconds{total};
}

std::string format_duration(std::chrono::milliseconds duration) {
  // The magnitude is unsigned so that the most negative value has one too.
  std::int64_t count = duration.count();
  std::uint64_t ms = count < 0 ? 0 - static_cast<std::uint64_t>(count) : count;
  std::string text = count < 0 ? "-" : "";
  if (ms == 0) return "0s";
  if (ms < 1000) return text + std::to_string(ms) + "ms";

  // Hours and minutes as whole units, then seconds with a decimal fraction
  // that carries the milliseconds: 1h2m3.5s.
  std::uint64_t hours = ms / 3'600'000;
  std::uint64_t minutes = ms / 60'000 % 60;
  std::uint64_t seconds = ms / 1000 % 60;
  std::uint64_t millis = ms % 1000;
  if (hours > 0) text += std::to_string(hours) + "h";
  if (minutes > 0) text += std::to_string(minutes) + "m";
  if (seconds == 0 && millis == 0) return text;

  text += std::to_string(seconds);
  if (millis > 0) {
    std::string digits = std::to_string(1000 + millis).substr(1);  // zero-padded to 3
    while (digits.back() == '0') digits.pop_back();
    text += "." + digits;
  }
  return text + "s";
}

}  // namespace sidecar
