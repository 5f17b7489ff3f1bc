// Reads the YAML config file into sidecar_config, checking each value where it
// is written so that an error can name its line, column and key path.

#include "sidecar/config.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "sidecar/duration.hpp"
#include "sidecar/json_check.hpp"
#include "sidecar/regex.hpp"
#include "sidecar/url.hpp"

namespace sidecar::core {
namespace {

using key_list = std::span<const std::string_view>;

constexpr std::string_view top_keys[] = {"listen", "app", "log_level", "shutdown", "server", "duties"};
constexpr std::string_view shutdown_keys[] = {"grace", "drain"};
constexpr std::string_view server_keys[] = {"max_connections", "read_timeout", "idle_timeout"};
constexpr std::string_view duty_keys[] = {"name", "probe", "latency", "schedule"};
constexpr std::string_view duty_kinds[] = {"probe", "latency", "schedule"};
constexpr std::string_view probe_keys[] = {"path",          "mode",
                                           "every",         "max_staleness",
                                           "success_threshold", "failure_threshold",
                                           "checks"};
constexpr std::string_view check_keys[] = {"name", "http", "tcp", "file", "expect"};
constexpr std::string_view check_kinds[] = {"http", "tcp", "file"};
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
constexpr std::string_view latency_keys[] = {"http", "every", "expect", "buckets"};
constexpr std::string_view schedule_keys[] = {"http", "every", "expect"};

constexpr std::string_view duration_hint = "expected a number with a unit such as 250ms, 5s or 1m";

// A node of the document with the key path and position to report for it.
struct node_ref {
  YAML::Node node;
  std::string path;
  YAML::Mark mark;
};

std::string join(key_list words, std::string_view last_separator) {
  std::string text;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i > 0) {
      text += i + 1 == words.size() ? last_separator : std::string_view(", ");
    }
    text += words[i];
  }
  return text;
}

std::string child_path(const std::string& parent, std::string_view key) {
  return parent.empty() ? std::string(key) : parent + '.' + std::string(key);
}

std::string index_path(const std::string& parent, std::size_t index) {
  return parent + '[' + std::to_string(index) + ']';
}

// A short description of what a node holds, for "found ..." in messages.
std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return '"' + node.Scalar() + '"';
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    default:
      return "nothing";
  }
}

// True for a scalar written in quotes, as a block literal or with an explicit
// string tag: yaml-cpp tags plain scalars "?" and quoted ones "!".
bool is_quoted(const YAML::Node& node) {
  return node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str";
}

bool is_plain_null(const YAML::Node& node) {
  if (node.IsNull()) {
    return true;
  }
  if (!node.IsScalar() || is_quoted(node)) {
    return false;
  }
  const std::string& text = node.Scalar();
  return text == "null" || text == "Null" || text == "NULL" || text == "~" || text.empty();
}

std::optional<bool> plain_bool(const YAML::Node& node) {
  if (!node.IsScalar() || is_quoted(node)) {
    return std::nullopt;
  }
  const std::string& text = node.Scalar();
  if (text == "true" || text == "True" || text == "TRUE") {
    return true;
  }
  if (text == "false" || text == "False" || text == "FALSE") {
    return false;
  }
  return std::nullopt;
}

// Parses a plain decimal number such as 5, -1.5 or 2e3. YAML's other number
// forms (0x1f, .inf) are left as strings.
std::optional<double> plain_number(const YAML::Node& node) {
  if (!node.IsScalar() || is_quoted(node)) {
    return std::nullopt;
  }
  std::string_view text = node.Scalar();
  if (!text.empty() && text.front() == '+') {
    text.remove_prefix(1);
  }
  bool digits_only = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || c == '-' || c == '.' || c == 'e' || c == 'E' || c == '+';
  });
  if (!digits_only) {
    return std::nullopt;
  }
  double value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

class config_parser {
 public:
  explicit config_parser(std::string file_name) : file_(std::move(file_name)) {}

  sidecar_config parse(const YAML::Node& root);

 private:
  // The entries of one YAML map whose keys come from a fixed list. The
  // constructor rejects unknown and repeated keys.
  class map_reader {
   public:
    map_reader(const config_parser& parser, const node_ref& map, key_list keys);

    std::optional<node_ref> find(std::string_view key) const;
    node_ref require(std::string_view key, std::string_view expected) const;
    // The keys out of `keys` that the map has, in the order of `keys`.
    std::vector<std::string_view> present(key_list keys) const;
    const node_ref& map() const { return map_; }

   private:
    const config_parser& parser_;
    node_ref map_;
    struct entry {
      std::string key;
      int key_line = 0;  // one-based
      node_ref value;
    };
    std::vector<entry> entries_;
  };

  [[noreturn]] void fail(const node_ref& at, std::string problem) const;
  [[noreturn]] void fail_at(const YAML::Mark& mark, std::string path, std::string problem) const;

  void expect_type(const node_ref& ref, YAML::NodeType::value type, std::string_view expected) const;
  std::string read_string(const node_ref& ref) const;
  std::chrono::milliseconds read_duration(const node_ref& ref, bool allow_zero) const;
  std::size_t read_size(const node_ref& ref) const;
  int read_positive_int(const node_ref& ref) const;
  bool read_bool(const node_ref& ref) const;
  std::string read_url(const node_ref& ref) const;
  std::vector<node_ref> read_list(const node_ref& ref, std::string_view expected) const;

  void read_shutdown(const node_ref& ref, sidecar_config& config) const;
  void read_server(const node_ref& ref, sidecar_config& config) const;
  duty_config read_duty(const node_ref& ref) const;
  probe_duty_config read_probe(const node_ref& ref) const;
  check_config read_check(const node_ref& ref) const;
  void name_checks(const node_ref& checks, std::vector<check_config>& configs,
                   const std::vector<bool>& named) const;
  latency_duty_config read_latency(const node_ref& ref) const;
  schedule_duty_config read_schedule(const node_ref& ref) const;
  void read_http_request(const node_ref& ref, http::client_request& request) const;
  http::headers read_request_headers(const node_ref& ref) const;
  void read_expect(const node_ref& ref, http_check_spec& spec) const;
  std::vector<status_range> read_status(const node_ref& ref) const;
  json_check read_json_check(const node_ref& ref) const;
  json_operand read_operand(const node_ref& ref) const;
  sidecar::regex read_regex(const node_ref& ref) const;
  std::vector<header_expectation> read_header_expectations(const node_ref& ref) const;
  header_expectation read_header_presence(const node_ref& ref) const;
  tcp_check_spec read_tcp(const node_ref& ref) const;
  file_check_spec read_file(const node_ref& ref) const;
  std::vector<double> read_buckets(const node_ref& ref) const;

  std::string file_;
  std::optional<sidecar::url> app_base_;
};

// --- map_reader ---------------------------------------------------------

config_parser::map_reader::map_reader(const config_parser& parser, const node_ref& map,
                                      key_list keys)
    : parser_(parser), map_(map) {
  parser_.expect_type(map, YAML::NodeType::Map, "a map");

  for (auto it = map.node.begin(); it != map.node.end(); ++it) {
    const YAML::Node& key = it->first;
    if (!key.IsScalar()) {
      parser_.fail_at(key.Mark(), map.path, "expected a key name, found " + describe(key));
    }
    std::string name = key.Scalar();
    std::string path = child_path(map.path, name);

    if (std::find(keys.begin(), keys.end(), name) == keys.end()) {
      auto suggestion = nearest_key(name, keys);
      std::string problem = suggestion
                                ? "unknown key, did you mean \"" + std::string(*suggestion) + "\"?"
                                : "unknown key, expected one of " + join(keys, " or ");
      parser_.fail_at(key.Mark(), path, problem);
    }

    auto previous = std::find_if(entries_.begin(), entries_.end(),
                                 [&](const entry& e) { return e.key == name; });
    if (previous != entries_.end()) {
      parser_.fail_at(key.Mark(), path,
                      "repeated key, first given on line " + std::to_string(previous->key_line));
    }

    // yaml-cpp gives an empty value the position of the next token, so an
    // empty value is reported at its key.
    YAML::Mark mark = it->second.IsNull() ? key.Mark() : it->second.Mark();
    entries_.push_back({name, key.Mark().line + 1, node_ref{it->second, path, mark}});
  }
}

std::optional<node_ref> config_parser::map_reader::find(std::string_view key) const {
  for (const entry& e : entries_) {
    if (e.key == key) {
      return e.value;
    }
  }
  return std::nullopt;
}

node_ref config_parser::map_reader::require(std::string_view key, std::string_view expected) const {
  auto found = find(key);
  if (!found) {
    parser_.fail_at(map_.mark, child_path(map_.path, key),
                    "missing key, expected " + std::string(expected));
  }
  return *found;
}

std::vector<std::string_view> config_parser::map_reader::present(key_list keys) const {
  std::vector<std::string_view> found;
  for (std::string_view key : keys) {
    if (find(key)) {
      found.push_back(key);
    }
  }
  return found;
}

// --- scalars ------------------------------------------------------------

void config_parser::fail(const node_ref& at, std::string problem) const {
  fail_at(at.mark, at.path, std::move(problem));
}

void config_parser::fail_at(const YAML::Mark& mark, std::string path, std::string problem) const {
  source_position position;
  if (!mark.is_null()) {
    position.line = mark.line + 1;
    position.column = mark.column + 1;
  }
  position.key_path = std::move(path);
  throw config_error(file_, std::move(position), std::move(problem));
}

void config_parser::expect_type(const node_ref& ref, YAML::NodeType::value type,
                                std::string_view expected) const {
  if (ref.node.Type() != type) {
    fail(ref, "expected " + std::string(expected) + ", found " + describe(ref.node));
  }
}

std::string config_parser::read_string(const node_ref& ref) const {
  expect_type(ref, YAML::NodeType::Scalar, "a string");
  return ref.node.Scalar();
}

std::chrono::milliseconds config_parser::read_duration(const node_ref& ref, bool allow_zero) const {
  expect_type(ref, YAML::NodeType::Scalar, "a duration such as 250ms, 5s or 1m");
  const std::string& text = ref.node.Scalar();
  auto duration = parse_duration(text);
  if (!duration) {
    fail(ref, '"' + text + "\" is not a duration, " + std::string(duration_hint));
  }
  if (!allow_zero && duration->count() <= 0) {
    fail(ref, '"' + text + "\" is too short, expected a duration of at least 1ms");
  }
  return *duration;
}

std::size_t config_parser::read_size(const node_ref& ref) const {
  expect_type(ref, YAML::NodeType::Scalar, "a size such as 512, 64KiB or 1MiB");
  const std::string& text = ref.node.Scalar();
  auto size = parse_size(text);
  if (!size) {
    fail(ref, '"' + text + "\" is not a size, expected a number of bytes such as 512, 64KiB or 1MiB");
  }
  if (*size == 0) {
    fail(ref, '"' + text + "\" is too small, expected at least 1 byte");
  }
  return *size;
}

int config_parser::read_positive_int(const node_ref& ref) const {
  expect_type(ref, YAML::NodeType::Scalar, "a whole number");
  const std::string& text = ref.node.Scalar();
  int value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || is_quoted(ref.node)) {
    fail(ref, '"' + text + "\" is not a whole number, expected a number such as 1 or 3");
  }
  if (value < 1) {
    fail(ref, '"' + text + "\" is too small, expected at least 1");
  }
  return value;
}

bool config_parser::read_bool(const node_ref& ref) const {
  auto value = plain_bool(ref.node);
  if (!value) {
    fail(ref, "expected true or false, found " + describe(ref.node));
  }
  return *value;
}

std::string config_parser::read_url(const node_ref& ref) const {
  std::string text = read_string(ref);
  std::string error;
  auto resolved = resolve_url(*app_base_, text, &error);
  if (!resolved) {
    fail(ref, error);
  }
  return resolved->to_string();
}

std::vector<node_ref> config_parser::read_list(const node_ref& ref, std::string_view expected) const {
  expect_type(ref, YAML::NodeType::Sequence, expected);
  std::vector<node_ref> items;
  for (std::size_t i = 0; i < ref.node.size(); ++i) {
    YAML::Node item = ref.node[i];
    YAML::Mark mark = item.IsNull() ? ref.mark : item.Mark();
    items.push_back({item, index_path(ref.path, i), mark});
  }
  return items;
}

// --- top level ------------------------------------------------------------

sidecar_config config_parser::parse(const YAML::Node& root) {
  if (root.IsNull()) {
    throw config_error(file_, {}, "the file is empty, expected a map with a duties list");
  }
  node_ref top{root, "", root.Mark()};
  map_reader settings(*this, top, top_keys);
  sidecar_config config;

  // The base URL comes first because every relative URL of the duties is
  // resolved against it.
  if (auto app = settings.find("app")) {
    config.app_url = read_string(*app);
  }
  std::string error;
  app_base_ = parse_url(config.app_url, &error);
  if (!app_base_) {
    fail(*settings.find("app"), error);
  }

  if (auto listen = settings.find("listen")) {
    config.listen = read_string(*listen);
    try {
      http::parse_listen_address(config.listen);
    } catch (const std::invalid_argument& e) {
      fail(*listen, e.what());
    }
  }
  config.server.listen = config.listen;

  if (auto level = settings.find("log_level")) {
    std::string text = read_string(*level);
    try {
      config.level = parse_log_level(text);
    } catch (const std::invalid_argument&) {
      fail(*level, '"' + text + "\" is not a log level, expected debug, info, warn or error");
    }
  }
  if (auto shutdown = settings.find("shutdown")) {
    read_shutdown(*shutdown, config);
  }
  if (auto server = settings.find("server")) {
    read_server(*server, config);
  }

  node_ref duties = settings.require("duties", "a list of duties");
  for (const node_ref& item : read_list(duties, "a list of duties")) {
    config.duties.push_back(read_duty(item));
  }
  if (config.duties.empty()) {
    fail(duties, "the list is empty, expected at least one duty");
  }
  return config;
}

void config_parser::read_shutdown(const node_ref& ref, sidecar_config& config) const {
  map_reader shutdown(*this, ref, shutdown_keys);
  if (auto grace = shutdown.find("grace")) {
    config.grace = read_duration(*grace, true);
  }
  if (auto drain = shutdown.find("drain")) {
    config.drain = read_duration(*drain, true);
  }
}

void config_parser::read_server(const node_ref& ref, sidecar_config& config) const {
  map_reader server(*this, ref, server_keys);
  if (auto max_connections = server.find("max_connections")) {
    config.server.max_connections = static_cast<std::size_t>(read_positive_int(*max_connections));
  }
  if (auto read_timeout = server.find("read_timeout")) {
    config.server.read_timeout = read_duration(*read_timeout, false);
  }
  if (auto idle_timeout = server.find("idle_timeout")) {
    config.server.idle_timeout = read_duration(*idle_timeout, false);
  }
}

// --- duties ---------------------------------------------------------------

duty_config config_parser::read_duty(const node_ref& ref) const {
  map_reader duty(*this, ref, duty_keys);
  duty_config config;

  node_ref name = duty.require("name", "a duty name such as ready");
  config.name = read_string(name);
  if (!is_valid_name(config.name)) {
    fail(name, '"' + config.name +
                   "\" is not a valid name, expected lower-case letters, digits, \"_\" and \"-\"");
  }
  config.name_position = {name.mark.line + 1, name.mark.column + 1, name.path};

  auto kinds = duty.present(duty_kinds);
  if (kinds.empty()) {
    fail(ref, "missing the duty kind, expected one of probe, latency or schedule");
  }
  if (kinds.size() > 1) {
    fail(*duty.find(kinds[1]), "a duty has one kind, found both " + std::string(kinds[0]) +
                                   " and " + std::string(kinds[1]));
  }

  node_ref body = *duty.find(kinds[0]);
  if (kinds[0] == "probe") {
    config.kind = read_probe(body);
  } else if (kinds[0] == "latency") {
    config.kind = read_latency(body);
  } else {
    config.kind = read_schedule(body);
  }
  return config;
}

probe_duty_config config_parser::read_probe(const node_ref& ref) const {
  map_reader probe(*this, ref, probe_keys);
  probe_duty_config config;

  node_ref path = probe.require("path", "a path such as /ready");
  config.path = read_string(path);
  if (config.path.empty() || config.path.front() != '/' ||
      config.path.find_first_of("?# ") != std::string::npos) {
    fail(path, '"' + config.path + "\" is not a path, expected a path such as /ready without a query");
  }
  config.path_position = {path.mark.line + 1, path.mark.column + 1, path.path};

  if (auto mode = probe.find("mode")) {
    std::string text = read_string(*mode);
    if (text == "on_request") {
      config.options.mode = probe_mode::on_request;
    } else if (text == "periodic") {
      config.options.mode = probe_mode::periodic;
    } else {
      fail(*mode, '"' + text + "\" is not a probe mode, expected on_request or periodic");
    }
  }
  if (auto every = probe.find("every")) {
    config.options.every = read_duration(*every, false);
  }
  if (auto max_staleness = probe.find("max_staleness")) {
    config.options.max_staleness = read_duration(*max_staleness, true);
  }
  if (auto threshold = probe.find("success_threshold")) {
    config.options.success_threshold = read_positive_int(*threshold);
  }
  if (auto threshold = probe.find("failure_threshold")) {
    config.options.failure_threshold = read_positive_int(*threshold);
  }

  node_ref checks = probe.require("checks", "a list of checks");
  std::vector<bool> named;
  for (const node_ref& item : read_list(checks, "a list of checks")) {
    check_config check = read_check(item);
    named.push_back(!check.name.empty());
    config.checks.push_back(std::move(check));
  }
  if (config.checks.empty()) {
    fail(checks, "the list is empty, expected at least one check");
  }
  name_checks(checks, config.checks, named);
  return config;
}

// Gives each unnamed check its kind as name, numbered (http-1, http-2) when
// several unnamed checks share a kind, and rejects repeated names.
void config_parser::name_checks(const node_ref& checks, std::vector<check_config>& configs,
                                const std::vector<bool>& named) const {
  auto kind_of = [](const check_config& check) -> std::string_view {
    return check_kinds[check.spec.index()];
  };

  std::vector<std::size_t> unnamed_of_kind(std::size(check_kinds), 0);
  for (std::size_t i = 0; i < configs.size(); ++i) {
    if (!named[i]) {
      ++unnamed_of_kind[configs[i].spec.index()];
    }
  }
  std::vector<std::size_t> next_number(std::size(check_kinds), 1);
  for (std::size_t i = 0; i < configs.size(); ++i) {
    if (named[i]) {
      continue;
    }
    std::size_t kind = configs[i].spec.index();
    configs[i].name = std::string(kind_of(configs[i]));
    if (unnamed_of_kind[kind] > 1) {
      configs[i].name += '-' + std::to_string(next_number[kind]++);
    }
  }

  for (std::size_t i = 0; i < configs.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (configs[j].name == configs[i].name) {
        throw config_error(file_, configs[i].position,
                           '"' + configs[i].name + "\" is already the name of " +
                               index_path(child_path("", "checks"), j) +
                               ", expected a unique check name");
      }
    }
  }
}

check_config config_parser::read_check(const node_ref& ref) const {
  map_reader check(*this, ref, check_keys);
  check_config config;
  config.position = {ref.mark.line + 1, ref.mark.column + 1, ref.path};

  if (auto name = check.find("name")) {
    config.name = read_string(*name);
    if (!is_valid_name(config.name)) {
      fail(*name, '"' + config.name +
                      "\" is not a valid name, expected lower-case letters, digits, \"_\" and \"-\"");
    }
    config.position = {name->mark.line + 1, name->mark.column + 1, name->path};
  }

  auto kinds = check.present(check_kinds);
  if (kinds.empty()) {
    fail(ref, "missing the check kind, expected one of http, tcp or file");
  }
  if (kinds.size() > 1) {
    fail(*check.find(kinds[1]), "a check has one kind, found both " + std::string(kinds[0]) +
                                    " and " + std::string(kinds[1]));
  }

  auto expect = check.find("expect");
  if (kinds[0] == "http") {
    http_check_spec spec;
    read_http_request(*check.find("http"), spec.request);
    if (expect) {
      read_expect(*expect, spec);
    }
    config.spec = std::move(spec);
    return config;
  }

  if (expect) {
    fail(*expect, "only an http check has expectations, this is a " + std::string(kinds[0]) + " check");
  }
  if (kinds[0] == "tcp") {
    config.spec = read_tcp(*check.find("tcp"));
  } else {
    config.spec = read_file(*check.find("file"));
  }
  return config;
}

latency_duty_config config_parser::read_latency(const node_ref& ref) const {
  map_reader latency(*this, ref, latency_keys);
  latency_duty_config config;

  read_http_request(latency.require("http", "a request such as { url: / }"), config.request.request);
  if (auto every = latency.find("every")) {
    config.every = read_duration(*every, false);
  }
  if (auto expect = latency.find("expect")) {
    read_expect(*expect, config.request);
  }
  if (auto buckets = latency.find("buckets")) {
    config.buckets = read_buckets(*buckets);
  }
  return config;
}

schedule_duty_config config_parser::read_schedule(const node_ref& ref) const {
  map_reader schedule(*this, ref, schedule_keys);
  schedule_duty_config config;

  read_http_request(schedule.require("http", "a request such as { method: POST, url: /flush }"),
                    config.request.request);
  config.every = read_duration(schedule.require("every", "a duration such as 30s"), false);
  if (auto expect = schedule.find("expect")) {
    read_expect(*expect, config.request);
  }
  return config;
}

std::vector<double> config_parser::read_buckets(const node_ref& ref) const {
  std::vector<double> buckets;
  for (const node_ref& item : read_list(ref, "a list of bucket bounds in seconds")) {
    auto bound = plain_number(item.node);
    if (!bound) {
      fail(item, "expected a number of seconds, found " + describe(item.node));
    }
    if (*bound <= 0) {
      fail(item, item.node.Scalar() + " is not positive, expected a bound above 0 seconds");
    }
    if (!buckets.empty() && *bound <= buckets.back()) {
      fail(item, item.node.Scalar() + " is not above the bound before it, expected increasing bounds");
    }
    buckets.push_back(*bound);
  }
  if (buckets.empty()) {
    fail(ref, "the list is empty, expected at least one bound");
  }
  return buckets;
}

// --- checks and requests --------------------------------------------------

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

bool is_header_name(std::string_view name) {
  constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::all_of(name.begin(), name.end(), [&](char c) {
    bool alphanumeric = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    return alphanumeric || extra.find(c) != std::string_view::npos;
  });
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
      text += (text.empty() ? "" : ",") + read_string(item);
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
    fail(*json.find(comparisons[1]), "a JSON check has one comparison, found both " +
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
      fail(*rule.find("matches"), "a header expectation has one rule, found both equals and matches");
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

}  // namespace

sidecar_config parse_config(std::string_view text, const std::string& file_name) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    source_position position;
    if (!e.mark.is_null()) {
      position.line = e.mark.line + 1;
      position.column = e.mark.column + 1;
    }
    throw config_error(file_name, position, "invalid YAML: " + e.msg);
  }
  if (documents.size() > 1) {
    YAML::Mark mark = documents[1].Mark();
    source_position position;
    if (!mark.is_null()) {
      position.line = mark.line + 1;
      position.column = mark.column + 1;
    }
    throw config_error(file_name, position, "found a second YAML document, expected one");
  }

  YAML::Node root = documents.empty() ? YAML::Node() : documents.front();
  sidecar_config config = config_parser(file_name).parse(root);
  validate(config, file_name);
  return config;
}

}  // namespace sidecar::core
