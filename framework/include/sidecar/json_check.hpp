#pragma once

// Checks one value of a JSON document, found by JSON pointer (RFC 6901).
//
//   json_check check{.pointer = "/value", .op = json_op::equals, .operand = 5.0};
//   json_check_result r = evaluate(check, body);
//   if (!r.passed) log.warn("check failed", {{"reason", to_string(r.reason)}});
//
// Numbers compare as numbers, so 5 equals 5.0 and 5e0. A number never equals
// a string ("5" is not 5), and ordering (<, <=, >, >=) is defined for numbers
// and, by byte order, for strings. Against a null operand, equals and
// not_equals test whether the value is null, whatever its type. Invalid JSON,
// a missing value and a value of the wrong type are distinct failure reasons.

#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace sidecar {

enum class json_op { equals, not_equals, less, less_equal, greater, greater_equal, exists, type_is };

enum class json_type { null, boolean, number, string, array, object };

// Expected value of a comparison. std::monostate is JSON null.
using json_operand = std::variant<std::monostate, bool, double, std::string>;

struct json_check {
  std::string pointer;          // "" is the whole document
  json_op op = json_op::exists;
  json_operand operand;         // for the comparisons
  json_type type = json_type::null;  // for type_is
};

enum class json_failure {
  none,
  invalid_json,   // the body is not a valid JSON document (including truncated)
  missing,        // the pointer names no value
  wrong_type,     // the value's type cannot be compared with the operand, or
                  // is not the type that type_is expects
  mismatch,       // the comparison is false
  invalid_pointer // the pointer is malformed: it does not start with '/', or a
                  // '~' in it is not followed by 0 or 1
};

std::string_view to_string(json_failure f);
std::string_view to_string(json_type t);
std::string_view to_string(json_op op);  // "equals", "less", ...
// Parse the names that to_string returns; nothing for any other text.
std::optional<json_type> parse_json_type(std::string_view text);
std::optional<json_op> parse_json_op(std::string_view text);

struct json_check_result {
  bool passed = false;
  json_failure reason = json_failure::none;
  // The value found, as JSON text, when there was one; cut to 256 bytes and
  // ending in "..." when longer.
  std::string actual;
  std::string message;  // e.g. "/value is 4, expected equals 5"
};

// Evaluates the check against `body`. The body is copied into a padded buffer
// as simdjson requires, so callers need not pad it.
json_check_result evaluate(const json_check& check, std::string_view body);

// Formats an operand as JSON text: 5, "ready", true, null.
std::string to_json_text(const json_operand& operand);

}  // namespace sidecar
