#pragma once

// The pieces shared by the manifest parser's files. A reader walks one YAML
// document and names the field path in every message. Scalar conversions
// follow the Kubernetes API server's typing rules, and the name checks are
// the ones the API server applies.

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "podsim/manifest.hpp"

namespace podsim::detail {

// The type that a plain (unquoted) YAML scalar resolves to. The API server
// reads YAML through a YAML 1.1 resolver, so `yes`, `on` and `0x1F` are not
// strings.
enum class scalar_kind { null, boolean, integer, floating, string };
scalar_kind classify_plain_scalar(std::string_view text);

// One known field of a map and what to do with its value.
struct field_handler {
  std::string_view key;
  std::function<void(const YAML::Node& value, const std::string& path)> read;
};

std::string child_path(const std::string& parent, std::string_view key);
std::string index_path(const std::string& parent, std::size_t index);

class manifest_reader {
 public:
  manifest_reader(std::string file_name, parse_options options, std::vector<std::string>* warnings);

  // The object named in messages: "Pod web" or "document 3 (Pod)".
  void set_object(std::string object) { object_ = std::move(object); }
  const std::string& object() const { return object_; }
  bool ignore_unsupported() const { return options_.ignore_unsupported; }

  [[noreturn]] void fail(const std::string& path, const std::string& message) const;
  void warn(const std::string& path, const std::string& message) const;
  // A field that podsim does not implement, or that Kubernetes does not
  // know: an error, or a warning under ignore_unsupported.
  void reject_field(const std::string& path, bool known_to_kubernetes) const;

  // Calls the handler of each key of the map `node`. Keys listed in
  // `unsupported` are Kubernetes fields that podsim does not implement; any
  // other key is unknown. Both go through reject_field, except that an
  // unsupported field with an empty value (null, {} or []) changes nothing
  // and is skipped without a word. Duplicate keys are an error.
  void read_map(const YAML::Node& node, const std::string& path, std::span<const field_handler> fields,
                std::span<const std::string_view> unsupported = {}) const;
  void read_map(const YAML::Node& node, const std::string& path, std::initializer_list<field_handler> fields,
                std::span<const std::string_view> unsupported = {}) const {
    read_map(node, path, std::span<const field_handler>(fields.begin(), fields.size()), unsupported);
  }

  // Scalars, typed as the API server types them: a plain `8080` is a number
  // and not a string, a quoted "8080" is a string and not a number.
  std::string read_string(const YAML::Node& node, const std::string& path) const;
  std::int64_t read_int(const YAML::Node& node, const std::string& path, std::int64_t min,
                        std::int64_t max) const;
  bool read_bool(const YAML::Node& node, const std::string& path) const;
  std::vector<std::string> read_string_list(const YAML::Node& node, const std::string& path) const;
  std::map<std::string, std::string> read_string_map(const YAML::Node& node, const std::string& path) const;
  // A port number (1-65535) or the name of a container port.
  port_ref read_port(const YAML::Node& node, const std::string& path) const;

  // Checks that `node` is a map or a sequence; null counts as empty.
  void expect_map(const YAML::Node& node, const std::string& path) const;
  void expect_sequence(const YAML::Node& node, const std::string& path) const;

 private:
  std::string prefix(const std::string& path) const;

  std::string file_name_;
  parse_options options_;
  std::vector<std::string>* warnings_;
  std::string object_;
};

// Name rules of the API server.
bool is_dns1123_label(std::string_view text);      // container, volume and namespace names
bool is_dns1123_subdomain(std::string_view text);  // pod, deployment and config map names
bool is_dns1035_label(std::string_view text);      // service names
bool is_port_name(std::string_view text);          // IANA service names: container and service port names
bool is_label_key(std::string_view text);          // also annotation keys
bool is_label_value(std::string_view text);
bool is_config_map_key(std::string_view text);
bool is_env_var_name(std::string_view text);
bool is_http_header_name(std::string_view text);

// The rule behind each name check, for messages: "expected a name of " + rule.
inline constexpr std::string_view dns1123_label_rule =
    "at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit";
inline constexpr std::string_view dns1123_subdomain_rule =
    "at most 253 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit";
inline constexpr std::string_view dns1035_label_rule =
    "at most 63 lowercase letters, digits and '-', starting with a letter and ending with a letter or "
    "digit";
inline constexpr std::string_view port_name_rule =
    "at most 15 lowercase letters, digits and '-', with at least one letter and no '--'";

// Reads the spec of a Pod or of a pod template; `path` is "spec" or
// "spec.template.spec".
pod_spec read_pod_spec(const manifest_reader& reader, const YAML::Node& node, const std::string& path);

}  // namespace podsim::detail
