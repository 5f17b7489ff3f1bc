#pragma once

// The parser behind parse_config(), shared by config_yaml.cpp (document
// structure, duties) and config_yaml_http.cpp (requests and expectations).
// Internal to the sidecar binary.

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "sidecar/config.hpp"
#include "sidecar/url.hpp"

namespace sidecar::core::config_yaml {

using key_list = std::span<const std::string_view>;

// A node of the document with the key path and position to report for it.
struct node_ref {
  YAML::Node node;
  std::string path;
  YAML::Mark mark;
};

// "a, b or c" for `words` and `last_separator` " or ".
std::string join(key_list words, std::string_view last_separator);
std::string child_path(const std::string& parent, std::string_view key);
std::string index_path(const std::string& parent, std::size_t index);
// A short description of what a node holds, for "found ..." in messages.
std::string describe(const YAML::Node& node);
// True for a scalar written in quotes, as a block literal or with an explicit
// string tag: yaml-cpp tags plain scalars "?" and quoted ones "!".
bool is_quoted(const YAML::Node& node);
// True for an empty value and for plain null, Null, NULL and ~.
bool is_plain_null(const YAML::Node& node);
// Plain true, True, TRUE, false, False or FALSE; nothing for anything else.
std::optional<bool> plain_bool(const YAML::Node& node);
// Parses a plain decimal number such as 5, -1.5 or 2e3. YAML's other number
// forms (0x1f, .inf) are left as strings.
std::optional<double> plain_number(const YAML::Node& node);

// Turns one YAML document into a sidecar_config; each read_* function checks
// one part and throws config_error at the first problem.
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
    // The key itself of an entry the map has, for errors about the key.
    node_ref key_of(std::string_view key) const;
    node_ref require(std::string_view key, std::string_view expected) const;
    // The keys out of `keys` that the map has, in the order of `keys`.
    std::vector<std::string_view> present(key_list keys) const;
    const node_ref& map() const { return map_; }

   private:
    const config_parser& parser_;
    node_ref map_;
    struct entry {
      std::string key;
      YAML::Mark key_mark;
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

}  // namespace sidecar::core::config_yaml
