#include "sidecar/json_check.hpp"

#include <charconv>
#include <cmath>
#include <compare>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <simdjson.h>

namespace sidecar {
namespace {

namespace ondemand = simdjson::ondemand;
using simdjson::error_code;

// Maximum size of the `actual` text in a result. A longer value is cut and
// ends in "...".
constexpr std::size_t max_actual_size = 256;
// Maximum nesting of arrays and objects, the default of simdjson's parsers.
// A deeper body is invalid_json.
constexpr int max_depth = 1024;

// ---------------------------------------------------------------------------
// JSON pointers (RFC 6901)

// Splits `pointer` into unescaped reference tokens, or sets `error`.
std::optional<std::vector<std::string>> split_pointer(std::string_view pointer,
                                                      std::string& error) {
  std::vector<std::string> tokens;
  if (pointer.empty()) return tokens;
  if (pointer.front() != '/') {
    error = "pointer " + to_json_text(std::string(pointer)) +
            ": invalid, expected \"\" or a pointer starting with \"/\"";
    return std::nullopt;
  }

  for (std::size_t i = 0; i < pointer.size(); ++i) {
    char c = pointer[i];
    if (c == '/') {
      tokens.emplace_back();
    } else if (c != '~') {
      tokens.back() += c;
    } else if (i + 1 < pointer.size() && (pointer[i + 1] == '0' || pointer[i + 1] == '1')) {
      tokens.back() += pointer[i + 1] == '0' ? '~' : '/';
      ++i;
    } else {
      error = "pointer " + to_json_text(std::string(pointer)) + ": invalid escape at offset " +
              std::to_string(i) + ", expected \"~0\" or \"~1\"";
      return std::nullopt;
    }
  }
  return tokens;
}

// Parses `token` as an array index. Returns nothing for "-", for leading
// zeros and for anything else that is not a plain decimal index.
std::optional<std::size_t> parse_index(std::string_view token) {
  if (token.empty() || (token.size() > 1 && token.front() == '0')) return std::nullopt;
  std::size_t index = 0;
  auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), index);
  if (ec != std::errc{} || end != token.data() + token.size()) return std::nullopt;
  return index;
}

// ---------------------------------------------------------------------------
// Validation. The on-demand parser reads only what is asked for, so a body
// is walked once in full before the check looks at it. Otherwise a truncated
// document or trailing garbage after the value would go unnoticed.

error_code validate(ondemand::value value, int depth);

error_code validate_object(ondemand::object object, int depth) {
  for (auto field : object) {
    std::string_view key;
    if (error_code e = field.unescaped_key().get(key)) return e;
    ondemand::value value;
    if (error_code e = field.value().get(value)) return e;
    if (error_code e = validate(value, depth + 1)) return e;
  }
  return simdjson::SUCCESS;
}

error_code validate_array(ondemand::array array, int depth) {
  for (auto element : array) {
    ondemand::value value;
    if (error_code e = element.get(value)) return e;
    if (error_code e = validate(value, depth + 1)) return e;
  }
  return simdjson::SUCCESS;
}

// Reads a scalar in full. `Node` is ondemand::value or ondemand::document.
template <typename Node>
error_code validate_scalar(Node& node, ondemand::json_type type) {
  switch (type) {
    case ondemand::json_type::string: return node.get_string().error();
    case ondemand::json_type::number:
      // get_double also accepts integers beyond 64 bits, which are valid JSON.
      return node.get_double().error();
    case ondemand::json_type::boolean: return node.get_bool().error();
    case ondemand::json_type::null: {
      bool is_null = false;
      if (error_code e = node.is_null().get(is_null)) return e;
      return is_null ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
    }
    default: return simdjson::INCORRECT_TYPE;
  }
}

error_code validate(ondemand::value value, int depth) {
  ondemand::json_type type;
  if (error_code e = value.type().get(type)) return e;
  bool is_container = type == ondemand::json_type::object || type == ondemand::json_type::array;
  if (is_container && depth > max_depth) return simdjson::DEPTH_ERROR;

  if (type == ondemand::json_type::object) {
    ondemand::object object;
    if (error_code e = value.get_object().get(object)) return e;
    return validate_object(object, depth);
  }
  if (type == ondemand::json_type::array) {
    ondemand::array array;
    if (error_code e = value.get_array().get(array)) return e;
    return validate_array(array, depth);
  }
  return validate_scalar(value, type);
}

error_code validate_document(ondemand::document& document) {
  ondemand::json_type type;
  if (error_code e = document.type().get(type)) return e;

  // get_object and get_array on the document, unlike get_value, first check
  // that the body ends with the matching bracket, which catches truncation.
  if (type == ondemand::json_type::object) {
    ondemand::object object;
    if (error_code e = document.get_object().get(object)) return e;
    if (error_code e = validate_object(object, 1)) return e;
  } else if (type == ondemand::json_type::array) {
    ondemand::array array;
    if (error_code e = document.get_array().get(array)) return e;
    if (error_code e = validate_array(array, 1)) return e;
  } else if (error_code e = validate_scalar(document, type)) {
    return e;
  }

  // Nothing may follow the root value. simdjson checks this itself for some
  // root scalars (5 x) but not for others ("ready" x).
  const char* rest = nullptr;
  error_code at_end = document.current_location().get(rest);
  return at_end == simdjson::OUT_OF_BOUNDS ? simdjson::SUCCESS : simdjson::TRAILING_CONTENT;
}

// ---------------------------------------------------------------------------
// Navigation. The at_pointer of simdjson 3.0 compares keys without
// unescaping them, so it finds no "/a~1b" in {"a\/b": 1}. This walk
// compares unescaped keys instead. The first of duplicate keys wins.

simdjson::simdjson_result<ondemand::value> find_member(ondemand::object object,
                                                       std::string_view token) {
  for (auto field : object) {
    std::string_view key;
    if (error_code e = field.unescaped_key().get(key)) return e;
    if (key == token) return field.value();
  }
  return simdjson::NO_SUCH_FIELD;
}

simdjson::simdjson_result<ondemand::value> find_element(ondemand::array array,
                                                        std::string_view token) {
  std::optional<std::size_t> index = parse_index(token);
  if (!index) return simdjson::NO_SUCH_FIELD;
  std::size_t i = 0;
  for (auto element : array) {
    if (i++ == *index) return element;
  }
  return simdjson::NO_SUCH_FIELD;
}

// Finds the child that `token` names in a container. Returns NO_SUCH_FIELD
// when there is none, and also when `node` is a scalar.
template <typename Node>
simdjson::simdjson_result<ondemand::value> find_child(Node& node, std::string_view token) {
  ondemand::json_type type;
  if (error_code e = node.type().get(type)) return e;
  if (type == ondemand::json_type::object) {
    ondemand::object object;
    if (error_code e = node.get_object().get(object)) return e;
    return find_member(object, token);
  }
  if (type == ondemand::json_type::array) {
    ondemand::array array;
    if (error_code e = node.get_array().get(array)) return e;
    return find_element(array, token);
  }
  return simdjson::NO_SUCH_FIELD;
}

// ---------------------------------------------------------------------------
// The value found

using json_number = std::variant<std::int64_t, std::uint64_t, double>;

struct found_value {
  json_type type = json_type::null;
  std::string text;  // as JSON, cut to max_actual_size
  json_number number;
  bool boolean = false;
  std::string string;  // unescaped
};

json_type to_json_type(ondemand::json_type type) {
  switch (type) {
    case ondemand::json_type::array: return json_type::array;
    case ondemand::json_type::object: return json_type::object;
    case ondemand::json_type::number: return json_type::number;
    case ondemand::json_type::string: return json_type::string;
    case ondemand::json_type::boolean: return json_type::boolean;
    case ondemand::json_type::null: return json_type::null;
  }
  return json_type::null;
}

std::string_view trim_whitespace(std::string_view text) {
  constexpr std::string_view whitespace = " \t\n\r";
  std::size_t begin = text.find_first_not_of(whitespace);
  if (begin == std::string_view::npos) return {};
  return text.substr(begin, text.find_last_not_of(whitespace) - begin + 1);
}

// Cuts `text` to max_actual_size bytes, at a UTF-8 character boundary.
std::string shorten(std::string_view text) {
  if (text.size() <= max_actual_size) return std::string(text);
  std::size_t size = max_actual_size;
  while (size > 0 && (static_cast<unsigned char>(text[size]) & 0xC0) == 0x80) --size;
  return std::string(text.substr(0, size)) + "...";
}

// Reads a number as exactly as it was written: integers that fit 64 bits as
// integers, everything else as double.
template <typename Node>
error_code read_number(Node& node, json_number& number) {
  ondemand::number_type kind;
  if (error_code e = node.get_number_type().get(kind)) return e;
  if (kind == ondemand::number_type::signed_integer) {
    std::int64_t value = 0;
    if (node.get_int64().get(value) == simdjson::SUCCESS) {
      number = value;
      return simdjson::SUCCESS;
    }
  } else if (kind == ondemand::number_type::unsigned_integer) {
    std::uint64_t value = 0;
    if (node.get_uint64().get(value) == simdjson::SUCCESS) {
      number = value;
      return simdjson::SUCCESS;
    }
  }

  // A failed read leaves the value unread, so it can be read again as double.
  double value = 0;
  if (error_code e = node.get_double().get(value)) return e;
  number = value;
  return simdjson::SUCCESS;
}

// Reads the scalar at `node` into `found`. `Node` is ondemand::value or
// ondemand::document.
template <typename Node>
error_code read_scalar(Node& node, found_value& found) {
  switch (found.type) {
    case json_type::number: return read_number(node, found.number);
    case json_type::string: {
      std::string_view text;
      if (error_code e = node.get_string().get(text)) return e;
      found.string = text;
      return simdjson::SUCCESS;
    }
    case json_type::boolean: return node.get_bool().get(found.boolean);
    default: return simdjson::SUCCESS;
  }
}

error_code read_value(ondemand::value value, found_value& found) {
  ondemand::json_type type;
  if (error_code e = value.type().get(type)) return e;
  found.type = to_json_type(type);

  std::string_view text;
  if (found.type == json_type::object) {
    ondemand::object object;
    if (error_code e = value.get_object().get(object)) return e;
    if (error_code e = object.raw_json().get(text)) return e;
  } else if (found.type == json_type::array) {
    ondemand::array array;
    if (error_code e = value.get_array().get(array)) return e;
    if (error_code e = array.raw_json().get(text)) return e;
  } else {
    text = value.raw_json_token();  // does not consume, so the value can still be read
    if (error_code e = read_scalar(value, found)) return e;
  }
  found.text = shorten(trim_whitespace(text));
  return simdjson::SUCCESS;
}

// Reads the whole document. It has been validated, so its text is the body
// without surrounding whitespace.
error_code read_document(ondemand::document& document, std::string_view body, found_value& found) {
  ondemand::json_type type;
  if (error_code e = document.type().get(type)) return e;
  found.type = to_json_type(type);
  found.text = shorten(trim_whitespace(body));
  if (found.type == json_type::object || found.type == json_type::array) return simdjson::SUCCESS;
  return read_scalar(document, found);
}

// ---------------------------------------------------------------------------
// Comparison

// Compares an integer with a double exactly, where converting the integer to
// double could round it (2^53 + 1 is not 2^53).
template <typename Integer>
std::partial_ordering compare_integer(Integer value, double operand) {
  constexpr double past_max = std::is_signed_v<Integer> ? 0x1p63 : 0x1p64;
  constexpr double min = std::is_signed_v<Integer> ? -0x1p63 : 0.0;
  if (std::isnan(operand)) return std::partial_ordering::unordered;
  if (operand >= past_max) return std::partial_ordering::less;
  if (operand < min) return std::partial_ordering::greater;

  double whole = std::trunc(operand);
  auto whole_value = static_cast<Integer>(whole);
  if (value != whole_value) return value <=> whole_value;
  return 0.0 <=> operand - whole;
}

std::partial_ordering compare(const json_number& number, double operand) {
  if (auto* value = std::get_if<std::int64_t>(&number)) return compare_integer(*value, operand);
  if (auto* value = std::get_if<std::uint64_t>(&number)) return compare_integer(*value, operand);
  return std::get<double>(number) <=> operand;
}

json_type operand_type(const json_operand& operand) {
  switch (operand.index()) {
    case 0: return json_type::null;
    case 1: return json_type::boolean;
    case 2: return json_type::number;
    default: return json_type::string;
  }
}

// Orders the found value against an operand of the same type: number,
// string or boolean. Booleans are only equal or unordered.
std::partial_ordering compare(const found_value& found, const json_operand& operand) {
  if (auto* number = std::get_if<double>(&operand)) return compare(found.number, *number);
  if (auto* text = std::get_if<std::string>(&operand)) return found.string <=> *text;
  if (auto* boolean = std::get_if<bool>(&operand)) {
    return found.boolean == *boolean ? std::partial_ordering::equivalent
                                     : std::partial_ordering::unordered;
  }
  return std::partial_ordering::equivalent;  // null and null
}

bool holds(std::partial_ordering order, json_op op) {
  switch (op) {
    case json_op::equals: return order == 0;
    case json_op::not_equals: return order != 0;
    case json_op::less: return order < 0;
    case json_op::less_equal: return order <= 0;
    case json_op::greater: return order > 0;
    case json_op::greater_equal: return order >= 0;
    default: return false;
  }
}

// ---------------------------------------------------------------------------
// Results

// Names a type with its article, as in "a string" and "an object", but null
// as "null" alone.
std::string with_article(json_type type) {
  if (type == json_type::null) return "null";
  std::string_view article = type == json_type::array || type == json_type::object ? "an " : "a ";
  return std::string(article) + std::string(to_string(type));
}

// Returns what messages call the value: its pointer, or "document" for "".
std::string subject(const json_check& check) {
  return check.pointer.empty() ? "document" : check.pointer;
}

json_check_result passed(found_value found) {
  return {
      .passed = true, .reason = json_failure::none, .actual = std::move(found.text), .message = {}};
}

json_check_result failed(json_failure reason, std::string message, std::string actual = {}) {
  return {.passed = false,
          .reason = reason,
          .actual = std::move(actual),
          .message = std::move(message)};
}

json_check_result wrong_type(const json_check& check, found_value found, json_type expected) {
  std::string message = subject(check) + " is " + found.text;
  if (found.type != json_type::null) message += " (" + with_article(found.type) + ")";
  message += ", expected " + with_article(expected);
  return failed(json_failure::wrong_type, std::move(message), std::move(found.text));
}

json_check_result mismatch(const json_check& check, found_value found) {
  std::string message = subject(check) + " is " + found.text + ", expected " +
                        std::string(to_string(check.op)) + " " + to_json_text(check.operand);
  return failed(json_failure::mismatch, std::move(message), std::move(found.text));
}

json_check_result invalid_json(error_code error) {
  std::string detail = simdjson::error_message(error);
  if (!detail.empty() && detail.back() == '.') detail.pop_back();
  return failed(json_failure::invalid_json, "body is not valid JSON: " + detail);
}

// Applies a comparison operator to the value found.
json_check_result compare_found(const json_check& check, found_value found) {
  json_type expected = operand_type(check.operand);
  bool is_ordering = check.op != json_op::equals && check.op != json_op::not_equals;
  if (is_ordering && expected != json_type::number && expected != json_type::string) {
    return failed(json_failure::wrong_type,
                  subject(check) + ": " + std::string(to_string(check.op)) +
                      " cannot order operand " + to_json_text(check.operand) +
                      ", expected a number or a string operand",
                  std::move(found.text));
  }

  // Against null, equals and not_equals test for null, whatever the value's type.
  if (expected == json_type::null) {
    bool is_null = found.type == json_type::null;
    bool ok = check.op == json_op::equals ? is_null : !is_null;
    return ok ? passed(std::move(found)) : mismatch(check, std::move(found));
  }

  if (found.type != expected) return wrong_type(check, std::move(found), expected);
  if (!holds(compare(found, check.operand), check.op)) return mismatch(check, std::move(found));
  return passed(std::move(found));
}

json_check_result apply(const json_check& check, found_value found) {
  switch (check.op) {
    case json_op::exists: return passed(std::move(found));
    case json_op::type_is:
      if (found.type != check.type) return wrong_type(check, std::move(found), check.type);
      return passed(std::move(found));
    default: return compare_found(check, std::move(found));
  }
}

// Finds the value that `tokens` name in a validated document and reads it.
// NO_SUCH_FIELD means there is none.
error_code find(ondemand::document& document, std::string_view body,
                const std::vector<std::string>& tokens, found_value& found) {
  if (tokens.empty()) return read_document(document, body, found);

  ondemand::value value;
  if (error_code e = find_child(document, tokens.front()).get(value)) return e;
  for (std::size_t i = 1; i < tokens.size(); ++i) {
    if (error_code e = find_child(value, tokens[i]).get(value)) return e;
  }
  return read_value(value, found);
}

}  // namespace

std::string_view to_string(json_failure f) {
  switch (f) {
    case json_failure::none: return "none";
    case json_failure::invalid_json: return "invalid_json";
    case json_failure::missing: return "missing";
    case json_failure::wrong_type: return "wrong_type";
    case json_failure::mismatch: return "mismatch";
    case json_failure::invalid_pointer: return "invalid_pointer";
  }
  return "unknown";
}

std::string_view to_string(json_type t) {
  switch (t) {
    case json_type::null: return "null";
    case json_type::boolean: return "boolean";
    case json_type::number: return "number";
    case json_type::string: return "string";
    case json_type::array: return "array";
    case json_type::object: return "object";
  }
  return "unknown";
}

std::string_view to_string(json_op op) {
  switch (op) {
    case json_op::equals: return "equals";
    case json_op::not_equals: return "not_equals";
    case json_op::less: return "less";
    case json_op::less_equal: return "less_equal";
    case json_op::greater: return "greater";
    case json_op::greater_equal: return "greater_equal";
    case json_op::exists: return "exists";
    case json_op::type_is: return "type_is";
  }
  return "unknown";
}

std::optional<json_type> parse_json_type(std::string_view text) {
  for (json_type t : {json_type::null, json_type::boolean, json_type::number, json_type::string,
                      json_type::array, json_type::object}) {
    if (text == to_string(t)) return t;
  }
  return std::nullopt;
}

std::optional<json_op> parse_json_op(std::string_view text) {
  for (json_op op : {json_op::equals, json_op::not_equals, json_op::less, json_op::less_equal,
                     json_op::greater, json_op::greater_equal, json_op::exists, json_op::type_is}) {
    if (text == to_string(op)) return op;
  }
  return std::nullopt;
}

std::string to_json_text(const json_operand& operand) {
  if (std::holds_alternative<std::monostate>(operand)) return "null";
  if (auto* boolean = std::get_if<bool>(&operand)) return *boolean ? "true" : "false";
  if (auto* number = std::get_if<double>(&operand)) {
    // Shortest text that reads back as the same double: 5, 0.1, 1e+21.
    // Infinity and NaN have no JSON form and come out as "inf" and "nan".
    char buffer[32];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, *number);
    return std::string(buffer, end);
  }

  std::string text = "\"";
  for (char c : std::get<std::string>(operand)) {
    switch (c) {
      case '"': text += "\\\""; break;
      case '\\': text += "\\\\"; break;
      case '\n': text += "\\n"; break;
      case '\r': text += "\\r"; break;
      case '\t': text += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escape[8];
          std::snprintf(escape, sizeof escape, "\\u%04x", static_cast<unsigned>(c));
          text += escape;
        } else {
          text += c;
        }
    }
  }
  return text + "\"";
}

json_check_result evaluate(const json_check& check, std::string_view body) {
  // The pointer first: a malformed one is a config error, whatever the body.
  std::string pointer_error;
  std::optional<std::vector<std::string>> tokens = split_pointer(check.pointer, pointer_error);
  if (!tokens) return failed(json_failure::invalid_pointer, std::move(pointer_error));

  if (trim_whitespace(body).empty()) {
    return failed(json_failure::invalid_json, "body is empty, expected a JSON document");
  }

  // Parse and validate the whole body.
  simdjson::padded_string padded(body);
  ondemand::parser parser;
  // One level of room above our own limit: with its development checks (on
  // in unoptimized builds) simdjson asserts when the iterator reaches the
  // parser's max_depth, rather than returning an error.
  if (error_code e = parser.allocate(padded.size(), max_depth + 1)) {
    return failed(json_failure::invalid_json,
                  "body of " + std::to_string(body.size()) +
                      " bytes cannot be parsed: " + simdjson::error_message(e));
  }
  ondemand::document document;
  if (error_code e = parser.iterate(padded).get(document)) return invalid_json(e);
  if (error_code e = validate_document(document)) return invalid_json(e);

  // Find the value and apply the operator.
  document.rewind();
  found_value found;
  error_code e = find(document, body, *tokens, found);
  if (e == simdjson::NO_SUCH_FIELD)
    return failed(json_failure::missing, subject(check) + " is missing");
  if (e) return invalid_json(e);
  return apply(check, std::move(found));
}

}  // namespace sidecar
