// Reads multi-document YAML into the object model: each document's kind,
// metadata, Deployment, Service and ConfigMap fields, and quantities. The pod
// spec is read in manifest_pod.cpp.

#include "podsim/manifest.hpp"

#include <charconv>
#include <limits>
#include <set>
#include <tuple>
#include <utility>

#include <yaml-cpp/yaml.h>

#include "manifest_reader.hpp"

namespace podsim {
namespace {

using detail::child_path;
using detail::index_path;
using detail::manifest_reader;

constexpr std::string_view supported_kinds = "Pod, Deployment, Service or ConfigMap";
constexpr std::string_view other_kinds[] = {
    "CronJob",        "DaemonSet",  "Endpoints",     "EndpointSlice",        "HorizontalPodAutoscaler",
    "Ingress",        "Job",        "LimitRange",    "Namespace",            "NetworkPolicy",
    "PersistentVolume", "PersistentVolumeClaim", "PodDisruptionBudget", "ReplicaSet", "ResourceQuota",
    "Role",           "RoleBinding", "Secret",       "ServiceAccount",       "StatefulSet",
    "ClusterRole",    "ClusterRoleBinding", "CustomResourceDefinition", "StorageClass"};
constexpr std::string_view metadata_unsupported[] = {
    "creationTimestamp", "deletionGracePeriodSeconds", "deletionTimestamp", "finalizers", "generateName",
    "generation",        "managedFields",              "ownerReferences",   "resourceVersion", "selfLink",
    "uid"};
constexpr std::string_view deployment_spec_unsupported[] = {"minReadySeconds", "paused"};
constexpr std::string_view selector_unsupported[] = {"matchExpressions"};
constexpr std::string_view service_spec_unsupported[] = {
    "allocateLoadBalancerNodePorts", "clusterIP",       "clusterIPs",          "externalIPs",
    "externalName",                  "externalTrafficPolicy", "healthCheckNodePort", "internalTrafficPolicy",
    "ipFamilies",                    "ipFamilyPolicy",  "loadBalancerClass",   "loadBalancerIP",
    "loadBalancerSourceRanges",      "publishNotReadyAddresses", "sessionAffinity", "sessionAffinityConfig",
    "trafficDistribution"};
constexpr std::string_view service_port_unsupported[] = {"nodePort"};
constexpr std::string_view config_map_unsupported[] = {"binaryData"};
constexpr std::string_view top_level_unsupported[] = {"status"};

enum class name_rule { subdomain, dns1035 };

// The value of `key` in the map `node`, or null when it is absent. yaml-cpp
// throws on most uses of an absent member.
YAML::Node member(const YAML::Node& node, const char* key) {
  const YAML::Node value = node[key];
  return value.IsDefined() ? value : YAML::Node();
}

// Reads the documents of one file into a manifest_set.
class document_reader {
 public:
  document_reader(manifest_reader& reader, manifest_set& set) : reader_(reader), set_(set) {}

  void read(const YAML::Node& document, std::size_t number) {
    reader_.set_object("document " + std::to_string(number));
    if (!document.IsMap()) reader_.fail("", "expected a map with apiVersion, kind and metadata");

    const std::string kind = reader_.read_string(member(document, "kind"), "kind");
    const std::string api_version = reader_.read_string(member(document, "apiVersion"), "apiVersion");
    if (kind.empty()) reader_.fail("kind", "required, expected " + std::string(supported_kinds));
    reader_.set_object("document " + std::to_string(number) + " (" + kind + ")");

    if (kind == "List") {
      read_list(document, api_version, number);
      return;
    }
    if (!is_supported_kind(kind)) {
      reject_kind(kind);
      return;
    }
    check_api_version(kind, api_version);
    read_object(document, kind);
  }

 private:
  static bool is_supported_kind(const std::string& kind) {
    return kind == "Pod" || kind == "Deployment" || kind == "Service" || kind == "ConfigMap";
  }

  void reject_kind(const std::string& kind) {
    const bool known = std::find(std::begin(other_kinds), std::end(other_kinds), kind) != std::end(other_kinds);
    const std::string problem = "kind " + kind + (known ? " is not supported" : " is unknown") + ", expected " +
                                std::string(supported_kinds);
    if (!reader_.ignore_unsupported()) reader_.fail("kind", problem + " (pass --ignore-unsupported to skip it)");
    reader_.warn("kind", problem + ", skipped");
  }

  void check_api_version(const std::string& kind, const std::string& api_version) {
    const std::string expected = kind == "Deployment" ? "apps/v1" : "v1";
    if (api_version.empty()) reader_.fail("apiVersion", "required, expected " + expected);
    if (api_version != expected) {
      reader_.fail("apiVersion", "\"" + api_version + "\" is not supported for " + kind + ", expected " + expected);
    }
  }

  // A v1 List, as `kubectl get -o yaml` writes it: each item is read as a document.
  void read_list(const YAML::Node& document, const std::string& api_version, std::size_t number) {
    if (api_version != "v1") reader_.fail("apiVersion", "\"" + api_version + "\" is not supported for List, expected v1");
    const std::string list_object = reader_.object();
    YAML::Node items;
    reader_.read_map(document, "",
                     {
                         {"apiVersion", [](const YAML::Node&, const std::string&) {}},
                         {"kind", [](const YAML::Node&, const std::string&) {}},
                         {"metadata", [](const YAML::Node&, const std::string&) {}},
                         {"items", [&](const YAML::Node& v, const std::string&) { items = v; }},
                     });
    reader_.expect_sequence(items, "items");
    for (std::size_t i = 0; i < items.size(); ++i) {
      reader_.set_object(list_object);
      if (!items[i].IsMap()) reader_.fail(index_path("items", i), "expected a map with apiVersion, kind and metadata");
      read(items[i], number);
    }
  }

  void read_object(const YAML::Node& document, const std::string& kind) {
    object_meta meta;
    YAML::Node spec;
    YAML::Node data;
    const auto ignore = [](const YAML::Node&, const std::string&) {};
    const auto keep_spec = [&](const YAML::Node& v, const std::string&) { spec = v; };

    const std::initializer_list<detail::field_handler> common = {
        {"apiVersion", ignore},
        {"kind", ignore},
        {"metadata",
         [&](const YAML::Node& v, const std::string& p) {
           meta = read_meta(v, p, kind == "Service" ? name_rule::dns1035 : name_rule::subdomain);
         }},
    };
    std::vector<detail::field_handler> fields(common);
    if (kind == "ConfigMap") {
      fields.push_back({"data", [&](const YAML::Node& v, const std::string&) { data = v; }});
      // podsim never updates an object, so every config map is immutable already.
      fields.push_back({"immutable", [&](const YAML::Node& v, const std::string& p) { reader_.read_bool(v, p); }});
    } else {
      fields.push_back({"spec", keep_spec});
    }
    // The name labels every message about this object, so it is looked up first.
    const YAML::Node metadata = member(document, "metadata");
    const YAML::Node name = metadata.IsMap() ? member(metadata, "name") : YAML::Node();
    if (name.IsScalar() && !name.Scalar().empty()) reader_.set_object(kind + " " + name.Scalar());

    reader_.read_map(document, "", fields,
                     kind == "ConfigMap" ? std::span<const std::string_view>(config_map_unsupported)
                                         : std::span<const std::string_view>(top_level_unsupported));
    if (meta.name.empty()) reader_.fail("metadata.name", "required");

    if (kind == "Pod") {
      set_.pods.push_back({meta, detail::read_pod_spec(reader_, spec, "spec")});
    } else if (kind == "Deployment") {
      set_.deployments.push_back(read_deployment(meta, spec));
    } else if (kind == "Service") {
      set_.services.push_back(read_service(meta, spec));
    } else {
      set_.config_maps.push_back({meta, read_config_map_data(data)});
    }
  }

  object_meta read_meta(const YAML::Node& node, const std::string& path, name_rule rule) {
    object_meta meta;
    reader_.read_map(
        node, path,
        {
            {"name", [&](const YAML::Node& v, const std::string& p) { meta.name = read_object_name(v, p, rule); }},
            {"namespace",
             [&](const YAML::Node& v, const std::string& p) {
               meta.namespace_name = reader_.read_string(v, p);
               if (meta.namespace_name.empty()) meta.namespace_name = "default";
               if (!detail::is_dns1123_label(meta.namespace_name)) {
                 reader_.fail(p, "\"" + meta.namespace_name + "\" is invalid, expected a name of " +
                                     std::string(detail::dns1123_label_rule));
               }
             }},
            {"labels", [&](const YAML::Node& v, const std::string& p) { meta.labels = read_labels(v, p); }},
            {"annotations",
             [&](const YAML::Node& v, const std::string& p) { meta.annotations = read_annotations(v, p); }},
        },
        metadata_unsupported);
    return meta;
  }

  std::string read_object_name(const YAML::Node& node, const std::string& path, name_rule rule) {
    const std::string name = reader_.read_string(node, path);
    const bool valid = rule == name_rule::dns1035 ? detail::is_dns1035_label(name) : detail::is_dns1123_subdomain(name);
    if (!valid) {
      const std::string_view text = rule == name_rule::dns1035 ? detail::dns1035_label_rule : detail::dns1123_subdomain_rule;
      reader_.fail(path, "\"" + name + "\" is invalid, expected a name of " + std::string(text));
    }
    return name;
  }

  std::map<std::string, std::string> read_labels(const YAML::Node& node, const std::string& path) {
    auto labels = reader_.read_string_map(node, path);
    for (const auto& [key, value] : labels) {
      if (!detail::is_label_key(key)) {
        reader_.fail(child_path(path, key), "invalid label key, expected an optional DNS subdomain prefix and '/', "
                                            "then at most 63 letters, digits, '-', '_' and '.'");
      }
      if (!detail::is_label_value(value)) {
        reader_.fail(child_path(path, key), "\"" + value + "\" is invalid, expected a label value of at most 63 "
                                            "letters, digits, '-', '_' and '.', starting and ending with a letter or digit");
      }
    }
    return labels;
  }

  std::map<std::string, std::string> read_annotations(const YAML::Node& node, const std::string& path) {
    auto annotations = reader_.read_string_map(node, path);
    for (const auto& entry : annotations) {
      if (!detail::is_label_key(entry.first)) {
        reader_.fail(child_path(path, entry.first), "invalid annotation key, expected an optional DNS subdomain "
                                                    "prefix and '/', then at most 63 letters, digits, '-', '_' and '.'");
      }
    }
    return annotations;
  }

  deployment_object read_deployment(const object_meta& meta, const YAML::Node& spec) {
    deployment_object deployment;
    deployment.meta = meta;
    bool has_template = false;
    const auto accept_map = [&](const YAML::Node& v, const std::string& p) { reader_.expect_map(v, p); };
    reader_.read_map(
        spec, "spec",
        {
            {"replicas",
             [&](const YAML::Node& v, const std::string& p) {
               deployment.replicas = static_cast<int>(reader_.read_int(v, p, 0, 1000));
             }},
            {"selector", [&](const YAML::Node& v, const std::string& p) { deployment.selector = read_selector(v, p); }},
            {"template",
             [&](const YAML::Node& v, const std::string& p) {
               has_template = true;
               read_template(v, p, deployment);
             }},
            // These shape updates and rollbacks, and podsim never updates an object.
            {"strategy", accept_map},
            {"revisionHistoryLimit", [&](const YAML::Node& v, const std::string& p) { reader_.read_int(v, p, 0, 1'000'000); }},
            {"progressDeadlineSeconds",
             [&](const YAML::Node& v, const std::string& p) { reader_.read_int(v, p, 1, 1'000'000'000); }},
        },
        deployment_spec_unsupported);

    if (deployment.selector.empty()) reader_.fail("spec.selector.matchLabels", "required, expected at least one label");
    if (!has_template) reader_.fail("spec.template", "required");
    for (const auto& [key, value] : deployment.selector) {
      const auto label = deployment.template_meta.labels.find(key);
      if (label == deployment.template_meta.labels.end() || label->second != value) {
        reader_.fail("spec.template.metadata.labels", "do not match spec.selector: expected " + key + ": " + value);
      }
    }
    if (deployment.template_spec.restart_policy != "Always") {
      reader_.fail("spec.template.spec.restartPolicy",
                   "\"" + deployment.template_spec.restart_policy + "\" is invalid, expected Always for a Deployment");
    }
    return deployment;
  }

  std::map<std::string, std::string> read_selector(const YAML::Node& node, const std::string& path) {
    std::map<std::string, std::string> labels;
    reader_.read_map(node, path,
                     {{"matchLabels", [&](const YAML::Node& v, const std::string& p) { labels = read_labels(v, p); }}},
                     selector_unsupported);
    return labels;
  }

  void read_template(const YAML::Node& node, const std::string& path, deployment_object& deployment) {
    const std::string object = reader_.object();
    YAML::Node pod_spec_node;
    reader_.read_map(
        node, path,
        {
            {"metadata",
             [&](const YAML::Node& v, const std::string& p) {
               // The API server ignores a template's name; pods get generated names.
               reader_.read_map(v, p,
                                {
                                    {"name", [&](const YAML::Node& n, const std::string& np) { reader_.read_string(n, np); }},
                                    {"labels",
                                     [&](const YAML::Node& n, const std::string& np) {
                                       deployment.template_meta.labels = read_labels(n, np);
                                     }},
                                    {"annotations",
                                     [&](const YAML::Node& n, const std::string& np) {
                                       deployment.template_meta.annotations = read_annotations(n, np);
                                     }},
                                },
                                metadata_unsupported);
             }},
            {"spec", [&](const YAML::Node& v, const std::string&) { pod_spec_node = v; }},
        });
    reader_.set_object(object);
    deployment.template_meta.namespace_name = deployment.meta.namespace_name;
    deployment.template_spec = detail::read_pod_spec(reader_, pod_spec_node, child_path(path, "spec"));
  }

  service_object read_service(const object_meta& meta, const YAML::Node& spec) {
    service_object service;
    service.meta = meta;
    reader_.read_map(
        spec, "spec",
        {
            {"selector",
             [&](const YAML::Node& v, const std::string& p) { service.selector = read_labels(v, p); }},
            {"ports", [&](const YAML::Node& v, const std::string& p) { service.ports = read_service_ports(v, p); }},
            {"type",
             [&](const YAML::Node& v, const std::string& p) {
               const std::string type = reader_.read_string(v, p);
               if (type != "ClusterIP") {
                 if (!reader_.ignore_unsupported()) {
                   reader_.fail(p, "\"" + type + "\" is not supported, expected ClusterIP (pass "
                                   "--ignore-unsupported to run it as ClusterIP)");
                 }
                 reader_.warn(p, "\"" + type + "\" is not supported, running it as ClusterIP");
               }
             }},
        },
        service_spec_unsupported);
    if (service.ports.empty()) reader_.fail("spec.ports", "required, expected at least one port");
    return service;
  }

  std::vector<service_port> read_service_ports(const YAML::Node& node, const std::string& path) {
    reader_.expect_sequence(node, path);
    std::vector<service_port> ports;
    for (std::size_t i = 0; i < node.size(); ++i) {
      const std::string item_path = index_path(path, i);
      service_port port;
      bool has_target = false;
      reader_.read_map(
          node[i], item_path,
          {
              {"name",
               [&](const YAML::Node& v, const std::string& p) {
                 port.name = reader_.read_string(v, p);
                 if (!detail::is_port_name(port.name)) {
                   reader_.fail(p, "\"" + port.name + "\" is invalid, expected a port name of " +
                                       std::string(detail::port_name_rule));
                 }
               }},
              {"port",
               [&](const YAML::Node& v, const std::string& p) { port.port = static_cast<int>(reader_.read_int(v, p, 1, 65535)); }},
              {"targetPort",
               [&](const YAML::Node& v, const std::string& p) {
                 has_target = true;
                 port.target_port = reader_.read_port(v, p);
               }},
              {"protocol",
               [&](const YAML::Node& v, const std::string& p) {
                 port.protocol = reader_.read_string(v, p);
                 if (port.protocol != "TCP") {
                   reader_.fail(p, "\"" + port.protocol + "\" is not supported, expected TCP");
                 }
               }},
              // A hint for tools about the protocol above TCP; it changes nothing here.
              {"appProtocol", [&](const YAML::Node& v, const std::string& p) { reader_.read_string(v, p); }},
          },
          service_port_unsupported);
      if (port.port == 0) reader_.fail(child_path(item_path, "port"), "required");
      if (!has_target) port.target_port = port.port;
      ports.push_back(std::move(port));
    }
    check_service_ports(ports, path);
    return ports;
  }

  void check_service_ports(const std::vector<service_port>& ports, const std::string& path) {
    std::set<std::string> names;
    std::set<int> numbers;
    for (std::size_t i = 0; i < ports.size(); ++i) {
      const std::string item_path = index_path(path, i);
      if (ports.size() > 1 && ports[i].name.empty()) {
        reader_.fail(child_path(item_path, "name"), "required when a service has more than one port");
      }
      if (!ports[i].name.empty() && !names.insert(ports[i].name).second) {
        reader_.fail(child_path(item_path, "name"), "duplicate port name \"" + ports[i].name + "\"");
      }
      if (!numbers.insert(ports[i].port).second) {
        reader_.fail(child_path(item_path, "port"), "duplicate port " + std::to_string(ports[i].port));
      }
    }
  }

  std::map<std::string, std::string> read_config_map_data(const YAML::Node& node) {
    auto data = reader_.read_string_map(node, "data");
    for (const auto& entry : data) {
      if (!detail::is_config_map_key(entry.first)) {
        reader_.fail(child_path("data", entry.first),
                     "invalid key, expected at most 253 letters, digits, '-', '_' and '.'");
      }
    }
    return data;
  }

  manifest_reader& reader_;
  manifest_set& set_;
};

// Two objects of one kind with the same namespace and name.
template <typename Object>
void check_unique(const std::vector<Object>& objects, std::string_view kind, const std::string& file_name) {
  std::set<std::pair<std::string, std::string>> names;
  for (const Object& object : objects) {
    if (!names.emplace(object.meta.namespace_name, object.meta.name).second) {
      throw manifest_error(file_name + ": " + std::string(kind) + " " + object.meta.name + ": defined twice in namespace " +
                           object.meta.namespace_name);
    }
  }
}

// A quantity as mantissa x 10^decimal_exponent x 2^binary_exponent, so that
// "1.2k" is exactly 1200 and no floating-point rounding creeps in.
struct exact_quantity {
  unsigned __int128 mantissa = 0;
  int decimal_exponent = 0;
  int binary_exponent = 0;
  bool negative = false;
};

std::optional<exact_quantity> parse_quantity(std::string_view text) {
  // A sign, a decimal number, then a binary suffix (Ki .. Ei), a decimal
  // suffix (n u m k M G T P E) or a decimal exponent (e3, E-2).
  exact_quantity quantity;
  std::size_t end = 0;
  if (end < text.size() && (text[end] == '+' || text[end] == '-')) quantity.negative = text[end++] == '-';
  std::size_t digits = 0;
  bool after_point = false;
  for (; end < text.size(); ++end) {
    const char c = text[end];
    if (c == '.' && !after_point) {
      after_point = true;
      continue;
    }
    if (c < '0' || c > '9') break;
    // 38 digits always fit in 128 bits.
    if (++digits > 38) return std::nullopt;
    quantity.mantissa = quantity.mantissa * 10 + static_cast<unsigned>(c - '0');
    if (after_point) --quantity.decimal_exponent;
  }
  if (digits == 0) return std::nullopt;

  const std::string_view suffix = text.substr(end);
  static const std::tuple<std::string_view, int, int> suffixes[] = {
      {"", 0, 0},   {"Ki", 0, 10}, {"Mi", 0, 20}, {"Gi", 0, 30}, {"Ti", 0, 40}, {"Pi", 0, 50},
      {"Ei", 0, 60}, {"n", -9, 0},  {"u", -6, 0},  {"m", -3, 0},  {"k", 3, 0},   {"M", 6, 0},
      {"G", 9, 0},  {"T", 12, 0},  {"P", 15, 0},  {"E", 18, 0}};
  for (const auto& [name, decimal, binary] : suffixes) {
    if (suffix == name) {
      quantity.decimal_exponent += decimal;
      quantity.binary_exponent = binary;
      return quantity;
    }
  }
  if (suffix.size() > 1 && (suffix.front() == 'e' || suffix.front() == 'E')) {
    std::string_view power = suffix.substr(1);
    if (power.front() == '+') power.remove_prefix(1);
    int exponent = 0;
    const auto [power_end, error] = std::from_chars(power.data(), power.data() + power.size(), exponent);
    if (error != std::errc() || power_end != power.data() + power.size() || exponent > 100 || exponent < -100) {
      return std::nullopt;
    }
    quantity.decimal_exponent += exponent;
    return quantity;
  }
  return std::nullopt;
}

// The quantity times 10^scale, rounded up to a whole number as the API
// server rounds; nothing when negative or too large for 64 bits.
std::optional<std::uint64_t> round_up(const exact_quantity& quantity, int scale) {
  if (quantity.negative && quantity.mantissa != 0) return std::nullopt;
  constexpr unsigned __int128 limit = std::numeric_limits<std::uint64_t>::max();
  unsigned __int128 value = quantity.mantissa;
  const auto multiply = [&](unsigned factor) {
    if (value > limit) return false;  // value * factor can then exceed 128 bits
    value *= factor;
    return true;
  };
  for (int i = 0; i < quantity.binary_exponent; ++i) {
    if (!multiply(2)) return std::nullopt;
  }
  int exponent = quantity.decimal_exponent + scale;
  for (; exponent > 0; --exponent) {
    if (!multiply(10)) return std::nullopt;
  }
  unsigned __int128 divisor = 1;
  for (; exponent < 0; ++exponent) {
    if (divisor > limit) return value == 0 ? std::optional<std::uint64_t>(0) : std::optional<std::uint64_t>(1);
    divisor *= 10;
  }
  const unsigned __int128 rounded = value / divisor + (value % divisor != 0 ? 1 : 0);
  if (rounded > limit) return std::nullopt;
  return static_cast<std::uint64_t>(rounded);
}

}  // namespace

manifest_set parse_manifests(const std::string& text, const std::string& file_name, parse_options options,
                             std::vector<std::string>* warnings) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    throw manifest_error(file_name + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1) +
                         ": invalid YAML: " + e.msg);
  }

  manifest_set set;
  manifest_reader reader(file_name, options, warnings);
  document_reader documents_reader(reader, set);
  for (std::size_t i = 0; i < documents.size(); ++i) {
    if (documents[i].IsNull()) continue;
    documents_reader.read(documents[i], i + 1);
  }

  check_unique(set.pods, "Pod", file_name);
  check_unique(set.deployments, "Deployment", file_name);
  check_unique(set.services, "Service", file_name);
  check_unique(set.config_maps, "ConfigMap", file_name);
  return set;
}

std::optional<std::uint64_t> parse_memory_quantity(const std::string& text) {
  const auto quantity = parse_quantity(text);
  if (!quantity) return std::nullopt;
  return round_up(*quantity, 0);
}

std::optional<std::uint32_t> parse_cpu_quantity(const std::string& text) {
  const auto quantity = parse_quantity(text);
  if (!quantity) return std::nullopt;
  const auto millicores = round_up(*quantity, 3);
  if (!millicores || *millicores > std::numeric_limits<std::uint32_t>::max()) return std::nullopt;
  return static_cast<std::uint32_t>(*millicores);
}

}  // namespace podsim
