// Reads the YAML config file into sidecar_config, checking each value where it
// is written so that an error can name its line, column and key path. This
// file contains the document structure and the duties, and
// config_yaml_http.cpp the requests and expectations.

#include "sidecar/config.hpp"

#include <algorithm>
#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "sidecar/config_parser.hpp"
#include "sidecar/duration.hpp"
#include "sidecar/url.hpp"

namespace sidecar::core::config_yaml {
namespace {

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
constexpr std::string_view latency_keys[] = {"http", "every", "expect", "buckets"};
constexpr std::string_view schedule_keys[] = {"http", "every", "expect"};
constexpr std::string_view duration_hint = "expected a number with a unit such as 250ms, 5s or 1m";

// The maximum duration a config may give. Deadlines and timers add a
// duration to the current steady_clock time, which overflows near 292 years,
// and a year is far beyond any sensible period or timeout.
constexpr std::chrono::milliseconds max_config_duration = std::chrono::hours(24 * 366);

}  // namespace

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
                      "repeated key, first given on line " + std::to_string(previous->key_mark.line + 1));
    }

    // yaml-cpp gives an empty value the position of the next token, so an
    // empty value is reported at its key.
    YAML::Mark mark = it->second.IsNull() ? key.Mark() : it->second.Mark();
    entries_.push_back({name, key.Mark(), node_ref{it->second, path, mark}});
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

node_ref config_parser::map_reader::key_of(std::string_view key) const {
  for (const entry& e : entries_) {
    if (e.key == key) {
      return {e.value.node, e.value.path, e.key_mark};
    }
  }
  return map_;
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
  if (*duration > max_config_duration) {
    fail(ref, '"' + text + "\" is too long, expected a duration of at most 8784h (366 days)");
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
    fail(duty.key_of(kinds[1]), "a duty has one kind, found both " + std::string(kinds[0]) +
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
    fail(check.key_of(kinds[1]), "a check has one kind, found both " + std::string(kinds[0]) +
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

}  // namespace sidecar::core::config_yaml

namespace sidecar::core {

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
  sidecar_config config = config_yaml::config_parser(file_name).parse(root);
  validate(config, file_name);
  return config;
}

}  // namespace sidecar::core