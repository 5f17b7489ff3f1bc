#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace sidecar {

// Parses a duration written as an integer or decimal number followed by a unit:
// `ms`, `s`, `m` or `h`, or a sum of such terms as in `1m30s`. Returns nothing
// for anything else, including a bare number, a negative value and overflow.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// Formats a duration the way parse_duration reads it: 250ms, 5s, 1m30s.
std::string format_duration(std::chrono::milliseconds duration);

}  // namespace sidecar
