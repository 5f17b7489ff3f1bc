// The requests and expectations of the config file: http, tcp and file
// checks, status ranges, JSON checks and header expectations.

#include "sidecar/config_parser.hpp"

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "sidecar/json_check.hpp"
#include "sidecar/regex.hpp"

namespace sidecar::core::config_yaml {
namespace {

constexpr std::string_view http_keys[] = {"url",      "method", "timeout",  "connect_timeout",
                                          "headers",  "body",   "max_body", "follow_redirects"};
constexpr std::string_view expect_keys[] = {"status", "json", "body", "headers"};
constexpr std::string_view json_keys[] = {"pointer",      "equals",        "not_equals",
                                          "less_than",    "less_or_equal", "greater_than",
                                          "greater_or_equal", "exists",    "type"};
constexpr std::string_view json_comparisons[] = {"equals",        "not_equals",   "less_than",
                                                 "less_or_equal", "greater_than", "greater_or_equal",
                                                 "exists",        "type"};
constexpr std::string_view header_expectation_keys[] = {"equals", "matches"};
constexpr std::string_view tcp_keys[] = {"address", "timeout"};
constexpr std::string_view file_keys[] = {"path", "max_age"};

bool is_header_name(std::string_view name) {
  constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::all_of(name.begin(), name.end(), [&](char c) {
    bool alphanumeric = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    return alphanumeric || extra.find(c) != std::string_view::npos;
  });
}

}  // namespace

void config_parser::read_http_request(const node_ref& ref, http::client_request& request) const {
  map_reader http(*this, ref, http_keys);

  request.url = read_url(http.require("url", "a URL such as /healthz or http://127.0.0.1:8080/"));
  if (auto method = http.find("method")) {
    request.method = read_string(*method);
    bool upper_case = !request.method.empty() &&
                      std::all_of(request.method.begin(), request.method.end(),
                                  [](char c) { return c >= 'A' && c <= 'Z'; });
    if (!upper_case) {
      fail(*method, '"' + request.method + "\" is not an HTTP method, expected an upper-case "
                                           "method such as GET or POST");
    }
  }
  if (auto timeout = http.find("timeout")) {
    request.timeout = read_duration(*timeout, false);
  }
  if (auto timeout = http.find("connect_timeout")) {
    request.connect_timeout = read_duration(*timeout, false);
  }
  if (auto headers = http.find("headers")) {
    request.headers = read_request_headers(*headers);
  }
  if (auto body = http.find("body")) {
    request.body = read_string(*body);
  }
  if (auto max_body = http.find("max_body")) {
    request.max_body = read_size(*max_body);
  }
  if (auto follow = http.find("follow_redirects")) {
    request.follow_redirects = read_bool(*follow);
  }
}


http::headers config_parser::read_request_headers(const node_ref& ref) const {
  expect_type(ref, YAML::NodeType::Map, "a map of header names to values");
  http::headers headers;
  for (auto it = ref.node.begin(); it != ref.node.end(); ++it) {
    std::string name = it->first.IsScalar() ? it->first.Scalar() : std::string();
    node_ref value{it->second, child_path(ref.path, name), it->second.Mark()};
    if (!is_header_name(name)) {
      fail_at(it->first.Mark(), value.path,
              "expected a header name made of letters, digits and !#$%&'*+-.^_`|~, found " +
                  describe(it->first));
    }
    std::string text = read_string(value);
    if (text.find_first_of("\r\n", 0) != std::string::npos || text.find('\0') != std::string::npos) {
      fail(value, "a header value must not contain line breaks or NUL characters");
    }
    headers.add(std::move(name), std::move(text));
  }
  return headers;
}

void config_parser::read_expect(const node_ref& ref, http_check_spec& spec) const {
  map_reader expect(*this, ref, expect_keys);

  if (auto status = expect.find("status")) {
    spec.status = read_status(*status);
  }
  if (auto json = expect.find("json")) {
    if (json->node.IsSequence()) {
      for (const node_ref& item : read_list(*json, "a JSON check or a list of them")) {
        spec.json.push_back(read_json_check(item));
      }
    } else {
      spec.json.push_back(read_json_check(*json));
    }
  }
  if (auto body = expect.find("body")) {
    spec.body = read_regex(*body);
  }
  if (auto headers = expect.find("headers")) {
    spec.headers = read_header_expectations(*headers);
  }
}

std::vector<status_range> config_parser::read_status(const node_ref& ref) const {
  std::string text;
  if (ref.node.IsSequence()) {
    for (const node_ref& item : read_list(ref, "a list of status codes or ranges")) {
      if (!text.empty()) {
        text += ',';
      }
      text += read_string(item);
    }
  } else {
    text = read_string(ref);
  }
  auto ranges = parse_status_ranges(text);
  if (!ranges || ranges->empty()) {
    fail(ref, '"' + text +
                  "\" is not a status range, expected codes, ranges or classes such as 200, "
                  "200-299 or 2xx, separated by commas");
  }
  return *ranges;
}

json_check config_parser::read_json_check(const node_ref& ref) const {
  map_reader json(*this, ref, json_keys);
  json_check check;

  node_ref pointer = json.require("pointer", "a JSON pointer such as /status");
  check.pointer = read_string(pointer);
  if (!check.pointer.empty() && check.pointer.front() != '/') {
    fail(pointer, '"' + check.pointer +
                      "\" is not a JSON pointer, expected \"\" for the whole document or a "
                      "pointer starting with \"/\"");
  }

  auto comparisons = json.present(json_comparisons);
  if (comparisons.empty()) {
    fail(ref, "missing the comparison, expected one of " + join(json_comparisons, " or "));
  }
  if (comparisons.size() > 1) {
    fail(json.key_of(comparisons[1]), "a JSON check has one comparison, found both " +
                                         std::string(comparisons[0]) + " and " +
                                         std::string(comparisons[1]) + "; use a list for several");
  }

  std::string_view op = comparisons[0];
  node_ref operand = *json.find(op);
  if (op == "exists") {
    if (!read_bool(operand)) {
      fail(operand, "false is not supported, expected true");
    }
    check.op = json_op::exists;
    return check;
  }
  if (op == "type") {
    std::string text = read_string(operand);
    auto type = parse_json_type(text);
    if (!type) {
      fail(operand, '"' + text +
                        "\" is not a JSON type, expected null, boolean, number, string, array or "
                        "object");
    }
    check.op = json_op::type_is;
    check.type = *type;
    return check;
  }

  check.operand = read_operand(operand);
  if (op == "equals") {
    check.op = json_op::equals;
  } else if (op == "not_equals") {
    check.op = json_op::not_equals;
  } else {
    bool ordered = std::holds_alternative<double>(check.operand) ||
                   std::holds_alternative<std::string>(check.operand);
    if (!ordered) {
      fail(operand, to_json_text(check.operand) + " has no order, expected a number or a string");
    }
    if (op == "less_than") {
      check.op = json_op::less;
    } else if (op == "less_or_equal") {
      check.op = json_op::less_equal;
    } else if (op == "greater_than") {
      check.op = json_op::greater;
    } else {
      check.op = json_op::greater_equal;
    }
  }
  return check;
}

// Keeps the operand's YAML type: 5 is a number and "5" a string.
json_operand config_parser::read_operand(const node_ref& ref) const {
  if (is_plain_null(ref.node)) {
    return std::monostate{};
  }
  if (!ref.node.IsScalar()) {
    fail(ref, "expected a number, a string, true, false or null, found " + describe(ref.node));
  }
  if (is_quoted(ref.node)) {
    return ref.node.Scalar();
  }
  if (auto value = plain_bool(ref.node)) {
    return *value;
  }
  if (auto value = plain_number(ref.node)) {
    return *value;
  }
  return ref.node.Scalar();
}

sidecar::regex config_parser::read_regex(const node_ref& ref) const {
  std::string pattern = read_string(ref);
  std::string error;
  auto compiled = sidecar::regex::compile(pattern, &error);
  if (!compiled) {
    fail(ref, '"' + pattern + "\" is not a valid RE2 regex: " + error);
  }
  return *compiled;
}

// Reads `{ Name: { equals: v } }`, `{ Name: { matches: re } }` and
// `{ Name: present }`, or "Name: present" strings alone or in a list.
std::vector<header_expectation> config_parser::read_header_expectations(const node_ref& ref) const {
  std::vector<header_expectation> expectations;
  if (ref.node.IsScalar()) {
    expectations.push_back(read_header_presence(ref));
    return expectations;
  }
  if (ref.node.IsSequence()) {
    for (const node_ref& item : read_list(ref, "a list of header expectations")) {
      expectations.push_back(read_header_presence(item));
    }
    return expectations;
  }

  expect_type(ref, YAML::NodeType::Map, "a map of header names to expectations");
  for (auto it = ref.node.begin(); it != ref.node.end(); ++it) {
    header_expectation expectation;
    expectation.name = it->first.IsScalar() ? it->first.Scalar() : std::string();
    YAML::Mark mark = it->second.IsNull() ? it->first.Mark() : it->second.Mark();
    node_ref value{it->second, child_path(ref.path, expectation.name), mark};
    if (!is_header_name(expectation.name)) {
      fail_at(it->first.Mark(), value.path,
              "expected a header name made of letters, digits and !#$%&'*+-.^_`|~, found " +
                  describe(it->first));
    }

    if (value.node.IsScalar()) {
      if (is_quoted(value.node) || value.node.Scalar() != "present") {
        fail(value, "expected present or a map with equals or matches, found " + describe(value.node));
      }
      expectations.push_back(std::move(expectation));
      continue;
    }

    map_reader rule(*this, value, header_expectation_keys);
    auto kinds = rule.present(header_expectation_keys);
    if (kinds.size() > 1) {
      fail(rule.key_of("matches"), "a header expectation has one rule, found both equals and matches");
    }
    if (auto equals = rule.find("equals")) {
      expectation.equals = read_string(*equals);
    }
    if (auto matches = rule.find("matches")) {
      expectation.matches = read_regex(*matches);
    }
    expectations.push_back(std::move(expectation));
  }
  return expectations;
}

header_expectation config_parser::read_header_presence(const node_ref& ref) const {
  std::string text = read_string(ref);
  auto colon = text.find(':');
  auto trim = [](std::string_view part) {
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    return std::string(part);
  };
  std::string name = colon == std::string::npos ? std::string() : trim(std::string_view(text).substr(0, colon));
  std::string rule = colon == std::string::npos ? std::string() : trim(std::string_view(text).substr(colon + 1));
  if (!is_header_name(name) || rule != "present") {
    fail(ref, '"' + text + "\" is not a header expectation, expected \"Name: present\" or a map");
  }
  header_expectation expectation;
  expectation.name = std::move(name);
  return expectation;
}

tcp_check_spec config_parser::read_tcp(const node_ref& ref) const {
  map_reader tcp(*this, ref, tcp_keys);
  tcp_check_spec spec;

  node_ref address = tcp.require("address", "host:port such as 127.0.0.1:5432");
  std::string text = read_string(address);
  try {
    auto [host, port] = http::parse_listen_address(text);
    spec.host = host;
    spec.port = port;
  } catch (const std::invalid_argument&) {
    fail(address, '"' + text + "\" is not an address, expected host:port such as 127.0.0.1:5432");
  }
  if (spec.port == 0) {
    fail(address, '"' + text + "\" has port 0, expected a port from 1 to 65535");
  }
  if (auto timeout = tcp.find("timeout")) {
    spec.timeout = read_duration(*timeout, false);
  }
  return spec;
}

file_check_spec config_parser::read_file(const node_ref& ref) const {
  map_reader file(*this, ref, file_keys);
  file_check_spec spec;

  node_ref path = file.require("path", "a file path such as /tmp/app.ready");
  std::string text = read_string(path);
  if (text.empty()) {
    fail(path, "the path is empty, expected a file path such as /tmp/app.ready");
  }
  spec.path = text;
  if (auto max_age = file.find("max_age")) {
    spec.max_age = read_duration(*max_age, false);
  }
  return spec;
}

}  // namespace sidecar::core::config_yaml
