#include "manifest_reader.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <set>
#include <utility>

namespace podsim::detail {
namespace {

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool all_of(std::string_view text, bool (*predicate)(char)) {
  return std::all_of(text.begin(), text.end(), predicate);
}

bool is_one_of(std::string_view text, std::initializer_list<std::string_view> words) {
  return std::find(words.begin(), words.end(), text) != words.end();
}

// Digits with optional '_' separators, as the YAML 1.1 resolver allows.
bool is_digit_run(std::string_view text, bool (*digit)(char)) {
  if (text.empty() || text.front() == '_') return false;
  return std::all_of(text.begin(), text.end(), [&](char c) { return c == '_' || digit(c); });
}

bool is_yaml_integer(std::string_view text) {
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) text.remove_prefix(1);
  if (text.starts_with("0x")) {
    return is_digit_run(text.substr(2), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; });
  }
  if (text.starts_with("0b")) return is_digit_run(text.substr(2), [](char c) { return c == '0' || c == '1'; });
  return is_digit_run(text, is_digit);
}

bool is_yaml_float(std::string_view text) {
  if (is_one_of(text, {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan",
                       ".NaN", ".NAN"})) {
    return true;
  }
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) text.remove_prefix(1);
  const std::size_t exponent = text.find_first_of("eE");
  std::string_view mantissa = text.substr(0, exponent);
  const std::size_t dot = mantissa.find('.');
  if (dot == std::string_view::npos) {
    if (exponent == std::string_view::npos || !is_digit_run(mantissa, is_digit)) return false;
  } else {
    const std::string_view whole = mantissa.substr(0, dot);
    const std::string_view fraction = mantissa.substr(dot + 1);
    if (whole.empty() && fraction.empty()) return false;
    if (!whole.empty() && !is_digit_run(whole, is_digit)) return false;
    if (!fraction.empty() && !all_of(fraction, is_digit)) return false;
  }
  if (exponent == std::string_view::npos) return true;
  std::string_view power = text.substr(exponent + 1);
  if (!power.empty() && (power.front() == '-' || power.front() == '+')) power.remove_prefix(1);
  return !power.empty() && all_of(power, is_digit);
}

bool is_empty_value(const YAML::Node& node) {
  return node.IsNull() || ((node.IsMap() || node.IsSequence()) && node.size() == 0);
}

std::string describe_node(const YAML::Node& node) {
  if (node.IsMap()) return "a map";
  if (node.IsSequence()) return "a list";
  if (node.IsNull()) return "nothing";
  return node.Tag() == "?" ? node.Scalar() : "\"" + node.Scalar() + "\"";
}

}  // namespace

scalar_kind classify_plain_scalar(std::string_view text) {
  if (is_one_of(text, {"", "~", "null", "Null", "NULL"})) return scalar_kind::null;
  if (is_one_of(text, {"y",   "Y",    "yes",  "Yes",   "YES",   "n",     "N",  "no", "No", "NO", "true",
                       "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF"})) {
    return scalar_kind::boolean;
  }
  if (is_yaml_integer(text)) return scalar_kind::integer;
  if (is_yaml_float(text)) return scalar_kind::floating;
  return scalar_kind::string;
}

std::string child_path(const std::string& parent, std::string_view key) {
  return parent.empty() ? std::string(key) : parent + '.' + std::string(key);
}

std::string index_path(const std::string& parent, std::size_t index) {
  return parent + '[' + std::to_string(index) + ']';
}

manifest_reader::manifest_reader(std::string file_name, parse_options options, std::vector<std::string>* warnings)
    : file_name_(std::move(file_name)), options_(options), warnings_(warnings) {}

std::string manifest_reader::prefix(const std::string& path) const {
  std::string text = file_name_ + ": ";
  if (!object_.empty()) text += object_ + ": ";
  if (!path.empty()) text += path + ": ";
  return text;
}

void manifest_reader::fail(const std::string& path, const std::string& message) const {
  throw manifest_error(prefix(path) + message);
}

void manifest_reader::warn(const std::string& path, const std::string& message) const {
  if (warnings_ != nullptr) warnings_->push_back(prefix(path) + message);
}

void manifest_reader::reject_field(const std::string& path, bool known_to_kubernetes) const {
  const std::string problem = known_to_kubernetes ? "field is not supported" : "unknown field";
  if (options_.ignore_unsupported) {
    warn(path, problem + ", ignored");
    return;
  }
  fail(path, problem + " (pass --ignore-unsupported to warn instead)");
}

void manifest_reader::read_map(const YAML::Node& node, const std::string& path,
                               std::span<const field_handler> fields,
                               std::span<const std::string_view> unsupported) const {
  expect_map(node, path);
  if (node.IsNull()) return;

  std::set<std::string> seen;
  for (const auto& entry : node) {
    if (!entry.first.IsScalar()) fail(path, "expected a map with string keys, found " + describe_node(entry.first));
    const std::string key = entry.first.Scalar();
    const std::string field_path = child_path(path, key);
    if (!seen.insert(key).second) fail(field_path, "duplicate key");

    const auto handler = std::find_if(fields.begin(), fields.end(),
                                      [&](const field_handler& field) { return field.key == key; });
    if (handler != fields.end()) {
      handler->read(entry.second, field_path);
      continue;
    }
    const bool known = std::find(unsupported.begin(), unsupported.end(), key) != unsupported.end();
    if (known && is_empty_value(entry.second)) continue;
    reject_field(field_path, known);
  }
}

void manifest_reader::expect_map(const YAML::Node& node, const std::string& path) const {
  if (!node.IsMap() && !node.IsNull()) fail(path, "expected a map, found " + describe_node(node));
}

void manifest_reader::expect_sequence(const YAML::Node& node, const std::string& path) const {
  if (!node.IsSequence() && !node.IsNull()) fail(path, "expected a list, found " + describe_node(node));
}

std::string manifest_reader::read_string(const YAML::Node& node, const std::string& path) const {
  if (node.IsNull()) return "";
  if (!node.IsScalar()) fail(path, "expected a string, found " + describe_node(node));
  if (node.Tag() == "?") {
    const scalar_kind kind = classify_plain_scalar(node.Scalar());
    if (kind == scalar_kind::null) return "";
    if (kind != scalar_kind::string) {
      fail(path, "expected a string, found " + node.Scalar() + " (put it in quotes)");
    }
  }
  return node.Scalar();
}

std::int64_t manifest_reader::read_int(const YAML::Node& node, const std::string& path, std::int64_t min,
                                       std::int64_t max) const {
  const bool plain = node.IsScalar() && node.Tag() == "?";
  if (!plain || classify_plain_scalar(node.Scalar()) != scalar_kind::integer) {
    fail(path, "expected an integer, found " + describe_node(node));
  }

  std::string digits;
  std::copy_if(node.Scalar().begin(), node.Scalar().end(), std::back_inserter(digits),
               [](char c) { return c != '_' && c != '+'; });
  std::string_view text = digits;
  const bool negative = text.starts_with('-');
  if (negative) text.remove_prefix(1);
  int base = 10;
  if (text.starts_with("0x") || text.starts_with("0b")) {
    base = text[1] == 'x' ? 16 : 2;
    text.remove_prefix(2);
  }
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (error != std::errc() || end != text.data() + text.size()) {
    fail(path, node.Scalar() + " is out of range, expected " + std::to_string(min) + "-" + std::to_string(max));
  }
  if (negative) value = -value;
  if (value < min || value > max) {
    fail(path, node.Scalar() + " is out of range, expected " + std::to_string(min) + "-" + std::to_string(max));
  }
  return value;
}

bool manifest_reader::read_bool(const YAML::Node& node, const std::string& path) const {
  const bool plain = node.IsScalar() && node.Tag() == "?";
  if (!plain || classify_plain_scalar(node.Scalar()) != scalar_kind::boolean) {
    fail(path, "expected true or false, found " + describe_node(node));
  }
  return is_one_of(node.Scalar(), {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"});
}

std::vector<std::string> manifest_reader::read_string_list(const YAML::Node& node, const std::string& path) const {
  expect_sequence(node, path);
  std::vector<std::string> items;
  for (std::size_t i = 0; i < node.size(); ++i) items.push_back(read_string(node[i], index_path(path, i)));
  return items;
}

std::map<std::string, std::string> manifest_reader::read_string_map(const YAML::Node& node,
                                                                    const std::string& path) const {
  expect_map(node, path);
  std::map<std::string, std::string> values;
  if (node.IsNull()) return values;
  for (const auto& entry : node) {
    if (!entry.first.IsScalar()) fail(path, "expected a map with string keys, found " + describe_node(entry.first));
    const std::string key = entry.first.Scalar();
    if (values.contains(key)) fail(child_path(path, key), "duplicate key");
    values[key] = read_string(entry.second, child_path(path, key));
  }
  return values;
}

port_ref manifest_reader::read_port(const YAML::Node& node, const std::string& path) const {
  const bool plain = node.IsScalar() && node.Tag() == "?";
  if (plain && classify_plain_scalar(node.Scalar()) == scalar_kind::integer) {
    return static_cast<int>(read_int(node, path, 1, 65535));
  }
  const std::string name = read_string(node, path);
  if (name.empty()) fail(path, "missing, expected a port number or a container port name");
  if (!is_port_name(name)) {
    fail(path, "\"" + name + "\" is invalid, expected a port number without quotes or a port name of " +
                   std::string(port_name_rule));
  }
  return name;
}

bool is_dns1123_label(std::string_view text) {
  return !text.empty() && text.size() <= 63 && is_lower_alnum(text.front()) && is_lower_alnum(text.back()) &&
         std::all_of(text.begin(), text.end(), [](char c) { return is_lower_alnum(c) || c == '-'; });
}

bool is_dns1123_subdomain(std::string_view text) {
  if (text.empty() || text.size() > 253) return false;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = text.find('.', start);
    const std::string_view label = text.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (label.empty() || !is_lower_alnum(label.front()) || !is_lower_alnum(label.back())) return false;
    if (!std::all_of(label.begin(), label.end(), [](char c) { return is_lower_alnum(c) || c == '-'; })) {
      return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool is_dns1035_label(std::string_view text) {
  return is_dns1123_label(text) && text.front() >= 'a' && text.front() <= 'z';
}

bool is_port_name(std::string_view text) {
  if (text.empty() || text.size() > 15) return false;
  if (text.front() == '-' || text.back() == '-' || text.find("--") != std::string_view::npos) return false;
  if (!std::all_of(text.begin(), text.end(), [](char c) { return is_lower_alnum(c) || c == '-'; })) return false;
  return std::any_of(text.begin(), text.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

namespace {

// The name part of a label key, and every non-empty label value.
bool is_qualified_name_part(std::string_view text) {
  return !text.empty() && text.size() <= 63 && is_alnum(text.front()) && is_alnum(text.back()) &&
         std::all_of(text.begin(), text.end(), [](char c) { return is_alnum(c) || c == '-' || c == '_' || c == '.'; });
}

}  // namespace

bool is_label_key(std::string_view text) {
  const std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) return is_qualified_name_part(text);
  return is_dns1123_subdomain(text.substr(0, slash)) && is_qualified_name_part(text.substr(slash + 1));
}

bool is_label_value(std::string_view text) { return text.empty() || is_qualified_name_part(text); }

bool is_config_map_key(std::string_view text) {
  return !text.empty() && text.size() <= 253 && text != "." && text != ".." &&
         std::all_of(text.begin(), text.end(), [](char c) { return is_alnum(c) || c == '-' || c == '_' || c == '.'; });
}

bool is_env_var_name(std::string_view text) {
  if (text.empty() || is_digit(text.front())) return false;
  return std::all_of(text.begin(), text.end(), [](char c) { return is_alnum(c) || c == '-' || c == '_' || c == '.'; });
}

bool is_http_header_name(std::string_view text) {
  constexpr std::string_view token_symbols = "!#$%&'*+-.^_`|~";
  return !text.empty() && std::all_of(text.begin(), text.end(), [&](char c) {
    return is_alnum(c) || token_symbols.find(c) != std::string_view::npos;
  });
}

}  // namespace podsim::detail
