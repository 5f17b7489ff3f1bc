#pragma once

// Kubernetes objects that podsim runs, parsed from the YAML a user would
// `kubectl apply`: Pod, Deployment, Service and ConfigMap (v1, apps/v1).

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace podsim {

// A manifest problem. what() names the file, the document's kind/name and
// the field path: "demo.yaml: Pod web: spec.containers[1].securityContext:
// field is not supported (pass --ignore-unsupported to warn instead)".
class manifest_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A port given as a number or as the name of a container port.
using port_ref = std::variant<int, std::string>;

struct http_get_action {
  std::string path = "/";
  port_ref port = 0;
  std::string host;                 // empty: the pod's IP
  std::string scheme = "HTTP";      // only HTTP is supported
  std::vector<std::pair<std::string, std::string>> headers;
};

struct tcp_socket_action {
  port_ref port = 0;
  std::string host;
};

struct exec_action {
  std::vector<std::string> command;
};

using probe_action = std::variant<http_get_action, tcp_socket_action, exec_action>;

// Durations as in the Pod API, defaults as the kubelet applies them.
struct probe_spec {
  probe_action action;
  std::chrono::seconds initial_delay{0};
  std::chrono::seconds period{10};
  std::chrono::seconds timeout{1};
  int success_threshold = 1;
  int failure_threshold = 3;
};

struct container_port {
  std::string name;
  int container_port = 0;
  std::string protocol = "TCP";
};

struct volume_mount {
  std::string name;
  std::string mount_path;
  bool read_only = false;
};

struct container_spec {
  std::string name;
  std::string image = "host";  // "host", or a directory used as the root filesystem's lower layer
  std::vector<std::string> command;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  std::vector<container_port> ports;
  std::optional<probe_spec> readiness;
  std::optional<probe_spec> liveness;
  std::optional<probe_spec> startup;
  std::optional<std::variant<exec_action, http_get_action>> pre_stop;
  std::optional<std::uint64_t> memory_limit;  // bytes
  std::optional<std::uint32_t> cpu_limit;     // millicores
  std::vector<volume_mount> volume_mounts;
  // Only for initContainers: "Always" makes it a native sidecar.
  std::optional<std::string> restart_policy;
};

struct volume_spec {
  std::string name;
  // An emptyDir, or the name of a ConfigMap whose keys become files.
  std::variant<std::monostate, std::string> source;
  // A hostPath volume: a directory of the host, bind-mounted as it is.
  std::optional<std::string> host_path;
  bool is_config_map() const { return source.index() == 1; }
  bool is_host_path() const { return host_path.has_value(); }
};

struct pod_spec {
  std::vector<container_spec> init_containers;
  std::vector<container_spec> containers;
  bool share_process_namespace = false;
  std::string restart_policy = "Always";  // Always, OnFailure, Never
  std::chrono::seconds termination_grace_period{30};
  std::vector<volume_spec> volumes;
};

struct object_meta {
  std::string name;
  std::string namespace_name = "default";
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
};

struct pod_object {
  object_meta meta;
  pod_spec spec;
};

struct deployment_object {
  object_meta meta;
  int replicas = 1;
  std::map<std::string, std::string> selector;  // matchLabels
  object_meta template_meta;
  pod_spec template_spec;
};

struct service_port {
  std::string name;
  int port = 0;
  port_ref target_port = 0;  // defaults to `port`
  std::string protocol = "TCP";
};

struct service_object {
  object_meta meta;
  std::map<std::string, std::string> selector;
  std::vector<service_port> ports;
};

struct config_map_object {
  object_meta meta;
  std::map<std::string, std::string> data;
};

struct manifest_set {
  std::vector<pod_object> pods;
  std::vector<deployment_object> deployments;
  std::vector<service_object> services;
  std::vector<config_map_object> config_maps;
};

struct parse_options {
  // Warn about unsupported fields in place of failing on them.
  bool ignore_unsupported = false;
};

// Parses multi-document YAML. Throws manifest_error on the first problem.
// Warnings (unsupported fields under ignore_unsupported) are appended to
// `warnings`.
manifest_set parse_manifests(const std::string& text, const std::string& file_name, parse_options options,
                             std::vector<std::string>* warnings = nullptr);

// Parses Kubernetes quantities: "128Mi", "1Gi", "500M" to bytes; "250m", "1", "0.5" to millicores.
std::optional<std::uint64_t> parse_memory_quantity(const std::string& text);
std::optional<std::uint32_t> parse_cpu_quantity(const std::string& text);

}  // namespace podsim
