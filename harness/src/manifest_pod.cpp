// Reads a pod spec: containers, probes, lifecycle hooks, resources and
// volumes, with the API server's defaults and checks.

#include "manifest_reader.hpp"

#include <algorithm>
#include <set>
#include <utility>

namespace podsim::detail {
namespace {

using namespace std::string_literals;

// Kubernetes fields that podsim does not implement, per object type. Any other
// key that is not read below is reported as unknown.
constexpr std::string_view pod_spec_unsupported[] = {
    "activeDeadlineSeconds", "affinity",          "automountServiceAccountToken",
    "dnsConfig",             "dnsPolicy",         "enableServiceLinks",
    "ephemeralContainers",   "hostAliases",       "hostIPC",
    "hostNetwork",           "hostPID",           "hostUsers",
    "hostname",              "imagePullSecrets",  "nodeName",
    "nodeSelector",          "os",                "overhead",
    "preemptionPolicy",      "priority",          "priorityClassName",
    "readinessGates",        "resourceClaims",    "resources",
    "runtimeClassName",      "schedulerName",     "schedulingGates",
    "securityContext",       "serviceAccount",    "serviceAccountName",
    "setHostnameAsFQDN",     "subdomain",         "tolerations",
    "topologySpreadConstraints"};
constexpr std::string_view container_unsupported[] = {
    "envFrom",    "resizePolicy", "securityContext",         "stdin",
    "stdinOnce",  "tty",          "volumeDevices",           "workingDir",
    "terminationMessagePath",     "terminationMessagePolicy"};
constexpr std::string_view probe_unsupported[] = {"grpc", "terminationGracePeriodSeconds"};
constexpr std::string_view lifecycle_unsupported[] = {"postStart"};
constexpr std::string_view handler_unsupported[] = {"tcpSocket", "sleep"};
constexpr std::string_view env_unsupported[] = {"valueFrom"};
constexpr std::string_view port_unsupported[] = {"hostIP", "hostPort"};
constexpr std::string_view resources_unsupported[] = {"claims"};
constexpr std::string_view mount_unsupported[] = {"mountPropagation", "recursiveReadOnly", "subPath",
                                                  "subPathExpr"};
constexpr std::string_view volume_unsupported[] = {
    "awsElasticBlockStore", "azureDisk",       "azureFile",    "cephfs",
    "cinder",               "csi",             "downwardAPI",  "ephemeral",
    "fc",                   "flexVolume",      "flocker",      "gcePersistentDisk",
    "gitRepo",              "glusterfs",       "image",
    "iscsi",                "nfs",             "persistentVolumeClaim",
    "photonPersistentDisk", "portworxVolume",  "projected",    "quobyte",
    "rbd",                  "scaleIO",         "secret",       "storageos",
    "vsphereVolume"};
constexpr std::string_view empty_dir_unsupported[] = {"sizeLimit"};
constexpr std::string_view config_map_volume_unsupported[] = {"defaultMode", "items"};

// Reads one pod spec. The checks that span several fields (container names,
// mounts naming volumes) run once everything is read.
class pod_spec_reader {
 public:
  explicit pod_spec_reader(const manifest_reader& reader) : reader_(reader) {}

  pod_spec read(const YAML::Node& node, const std::string& path) {
    pod_spec spec;
    bool has_containers = false;
    reader_.read_map(
        node, path,
        {
            {"containers",
             [&](const YAML::Node& value, const std::string& p) {
               has_containers = true;
               spec.containers = read_containers(value, p, false);
             }},
            {"initContainers",
             [&](const YAML::Node& value, const std::string& p) {
               spec.init_containers = read_containers(value, p, true);
             }},
            {"restartPolicy",
             [&](const YAML::Node& value, const std::string& p) {
               spec.restart_policy = read_choice(value, p, {"Always", "OnFailure", "Never"});
             }},
            {"terminationGracePeriodSeconds",
             [&](const YAML::Node& value, const std::string& p) {
               spec.termination_grace_period = std::chrono::seconds(reader_.read_int(value, p, 0, 1'000'000'000));
             }},
            {"shareProcessNamespace",
             [&](const YAML::Node& value, const std::string& p) {
               spec.share_process_namespace = reader_.read_bool(value, p);
             }},
            {"volumes",
             [&](const YAML::Node& value, const std::string& p) { spec.volumes = read_volumes(value, p); }},
        },
        pod_spec_unsupported);

    if (!has_containers || spec.containers.empty()) {
      reader_.fail(child_path(path, "containers"), "required, expected at least one container");
    }
    check_container_names(spec, path);
    check_mounts(spec, path);
    return spec;
  }

 private:
  // A string that must be one of `allowed`.
  std::string read_choice(const YAML::Node& node, const std::string& path,
                                  std::initializer_list<std::string_view> allowed) {
    const std::string value = reader_.read_string(node, path);
    if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return value;
    std::string expected;
    for (const std::string_view word : allowed) expected += (expected.empty() ? "" : ", ") + std::string(word);
    reader_.fail(path, "\"" + value + "\" is invalid, expected one of " + expected);
  }

  std::vector<container_spec> read_containers(const YAML::Node& node, const std::string& path, bool init) {
    reader_.expect_sequence(node, path);
    std::vector<container_spec> containers;
    for (std::size_t i = 0; i < node.size(); ++i) containers.push_back(read_container(node[i], index_path(path, i), init));
    return containers;
  }

  container_spec read_container(const YAML::Node& node, const std::string& path, bool init) {
    container_spec c;
    bool has_image = false;
    reader_.read_map(
        node, path,
        {
            {"name", [&](const YAML::Node& v, const std::string& p) { c.name = read_name(v, p); }},
            {"image",
             [&](const YAML::Node& v, const std::string& p) {
               has_image = true;
               c.image = read_image(v, p);
             }},
            {"imagePullPolicy", [&](const YAML::Node& v, const std::string& p) { read_pull_policy(v, p); }},
            {"command", [&](const YAML::Node& v, const std::string& p) { c.command = reader_.read_string_list(v, p); }},
            {"args", [&](const YAML::Node& v, const std::string& p) { c.args = reader_.read_string_list(v, p); }},
            {"env", [&](const YAML::Node& v, const std::string& p) { c.env = read_env(v, p); }},
            {"ports", [&](const YAML::Node& v, const std::string& p) { c.ports = read_ports(v, p); }},
            {"readinessProbe",
             [&](const YAML::Node& v, const std::string& p) { c.readiness = read_probe(v, p, false); }},
            {"livenessProbe", [&](const YAML::Node& v, const std::string& p) { c.liveness = read_probe(v, p, true); }},
            {"startupProbe", [&](const YAML::Node& v, const std::string& p) { c.startup = read_probe(v, p, true); }},
            {"lifecycle", [&](const YAML::Node& v, const std::string& p) { c.pre_stop = read_lifecycle(v, p); }},
            {"resources", [&](const YAML::Node& v, const std::string& p) { read_resources(v, p, c); }},
            {"volumeMounts",
             [&](const YAML::Node& v, const std::string& p) { c.volume_mounts = read_mounts(v, p); }},
            {"restartPolicy",
             [&](const YAML::Node& v, const std::string& p) {
               if (!init) reader_.fail(p, "may not be set for containers, only for initContainers");
               c.restart_policy = read_choice(v, p, {"Always"});
             }},
        },
        container_unsupported);

    if (c.name.empty()) reader_.fail(child_path(path, "name"), "required");
    if (!has_image) c.image = "host";
    if (c.command.empty()) {
      reader_.fail(child_path(path, "command"),
                   "required, because image \"" + c.image +
                       "\" has no entrypoint: give the program to run, and args if any");
    }
    check_init_container_fields(c, path, init);
    return c;
  }

  // Probes and hooks belong to containers that keep running: regular init
  // containers run to completion and may not have them.
  void check_init_container_fields(const container_spec& c, const std::string& path, bool init) {
    if (!init || c.restart_policy) return;
    const std::pair<const char*, bool> fields[] = {{"readinessProbe", c.readiness.has_value()},
                                                   {"livenessProbe", c.liveness.has_value()},
                                                   {"startupProbe", c.startup.has_value()},
                                                   {"lifecycle", c.pre_stop.has_value()}};
    for (const auto& [field, present] : fields) {
      if (present) reader_.fail(child_path(path, field), "may not be set for init containers without restartPolicy: Always");
    }
  }

  std::string read_name(const YAML::Node& node, const std::string& path) {
    const std::string name = reader_.read_string(node, path);
    if (!is_dns1123_label(name)) {
      reader_.fail(path, "\"" + name + "\" is invalid, expected a name of " + std::string(dns1123_label_rule));
    }
    return name;
  }

  std::string read_image(const YAML::Node& node, const std::string& path) {
    const std::string image = reader_.read_string(node, path);
    if (image == "host" || image.starts_with('/')) return image;
    const std::string message = "\"" + image + "\" is not supported, expected \"host\" or the absolute path of a "
                                "directory to use as the root filesystem";
    if (!reader_.ignore_unsupported()) reader_.fail(path, message + " (pass --ignore-unsupported to run it on \"host\")");
    reader_.warn(path, message + ", running it on \"host\"");
    return "host";
  }

  // No image is ever pulled, so the policy has no effect; its value is still checked.
  void read_pull_policy(const YAML::Node& node, const std::string& path) {
    read_choice(node, path, {"Always", "IfNotPresent", "Never"});
  }

  std::vector<std::pair<std::string, std::string>> read_env(const YAML::Node& node, const std::string& path) {
    reader_.expect_sequence(node, path);
    std::vector<std::pair<std::string, std::string>> env;
    for (std::size_t i = 0; i < node.size(); ++i) {
      const std::string item_path = index_path(path, i);
      std::string name;
      std::string value;
      reader_.read_map(node[i], item_path,
                       {
                           {"name", [&](const YAML::Node& v, const std::string& p) { name = reader_.read_string(v, p); }},
                           {"value", [&](const YAML::Node& v, const std::string& p) { value = reader_.read_string(v, p); }},
                       },
                       env_unsupported);
      if (!is_env_var_name(name)) {
        reader_.fail(child_path(item_path, "name"),
                     "\"" + name + "\" is invalid, expected letters, digits, '_', '-' and '.', not starting with a digit");
      }
      env.emplace_back(std::move(name), std::move(value));
    }
    return env;
  }

  std::vector<container_port> read_ports(const YAML::Node& node, const std::string& path) {
    reader_.expect_sequence(node, path);
    std::vector<container_port> ports;
    std::set<std::string> names;
    for (std::size_t i = 0; i < node.size(); ++i) {
      const std::string item_path = index_path(path, i);
      container_port port;
      bool has_number = false;
      reader_.read_map(node[i], item_path,
                       {
                           {"containerPort",
                            [&](const YAML::Node& v, const std::string& p) {
                              has_number = true;
                              port.container_port = static_cast<int>(reader_.read_int(v, p, 1, 65535));
                            }},
                           {"name",
                            [&](const YAML::Node& v, const std::string& p) {
                              port.name = reader_.read_string(v, p);
                              if (!is_port_name(port.name)) {
                                reader_.fail(p, "\"" + port.name + "\" is invalid, expected a port name of " +
                                                    std::string(port_name_rule));
                              }
                              if (!names.insert(port.name).second) reader_.fail(p, "duplicate port name \"" + port.name + "\"");
                            }},
                           {"protocol",
                            [&](const YAML::Node& v, const std::string& p) { port.protocol = read_protocol(v, p); }},
                       },
                       port_unsupported);
      if (!has_number) reader_.fail(child_path(item_path, "containerPort"), "required");
      ports.push_back(std::move(port));
    }
    return ports;
  }

  std::string read_protocol(const YAML::Node& node, const std::string& path) {
    const std::string protocol = read_choice(node, path, {"TCP", "UDP", "SCTP"});
    if (protocol != "TCP") {
      if (!reader_.ignore_unsupported()) {
        reader_.fail(path, "\"" + protocol + "\" is not supported, expected TCP (pass --ignore-unsupported to warn instead)");
      }
      reader_.warn(path, "\"" + protocol + "\" is not supported, ignored");
    }
    return protocol;
  }

  // `restarts_container` marks liveness and startup probes, whose failure restarts the container.
  probe_spec read_probe(const YAML::Node& node, const std::string& path, bool restarts_container) {
    probe_spec probe;
    int handlers = 0;
    // The API server replaces a zero with the default, so 0 means "default" here too.
    const auto read_positive = [&](const YAML::Node& v, const std::string& p, auto& field) {
      const auto value = reader_.read_int(v, p, 0, 1'000'000'000);
      if (value != 0) field = static_cast<std::remove_reference_t<decltype(field)>>(value);
    };
    std::int64_t period = 0;
    std::int64_t timeout = 0;
    reader_.read_map(
        node, path,
        {
            {"exec",
             [&](const YAML::Node& v, const std::string& p) {
               ++handlers;
               probe.action = read_exec(v, p);
             }},
            {"httpGet",
             [&](const YAML::Node& v, const std::string& p) {
               ++handlers;
               probe.action = read_http_get(v, p);
             }},
            {"tcpSocket",
             [&](const YAML::Node& v, const std::string& p) {
               ++handlers;
               probe.action = read_tcp_socket(v, p);
             }},
            {"initialDelaySeconds",
             [&](const YAML::Node& v, const std::string& p) {
               probe.initial_delay = std::chrono::seconds(reader_.read_int(v, p, 0, 1'000'000'000));
             }},
            {"periodSeconds", [&](const YAML::Node& v, const std::string& p) { read_positive(v, p, period); }},
            {"timeoutSeconds", [&](const YAML::Node& v, const std::string& p) { read_positive(v, p, timeout); }},
            {"successThreshold",
             [&](const YAML::Node& v, const std::string& p) { read_positive(v, p, probe.success_threshold); }},
            {"failureThreshold",
             [&](const YAML::Node& v, const std::string& p) { read_positive(v, p, probe.failure_threshold); }},
        },
        probe_unsupported);

    if (period != 0) probe.period = std::chrono::seconds(period);
    if (timeout != 0) probe.timeout = std::chrono::seconds(timeout);
    if (handlers == 0) reader_.fail(path, "missing handler, expected one of exec, httpGet or tcpSocket");
    if (handlers > 1) reader_.fail(path, "more than one handler, expected one of exec, httpGet or tcpSocket");
    if (restarts_container && probe.success_threshold != 1) {
      reader_.fail(child_path(path, "successThreshold"),
                   std::to_string(probe.success_threshold) + " is invalid, expected 1 for liveness and startup probes");
    }
    return probe;
  }

  exec_action read_exec(const YAML::Node& node, const std::string& path) {
    exec_action action;
    reader_.read_map(node, path,
                     {{"command", [&](const YAML::Node& v, const std::string& p) {
                        action.command = reader_.read_string_list(v, p);
                      }}});
    if (action.command.empty()) reader_.fail(child_path(path, "command"), "required, expected at least one word");
    return action;
  }

  http_get_action read_http_get(const YAML::Node& node, const std::string& path) {
    http_get_action action;
    bool has_port = false;
    reader_.read_map(
        node, path,
        {
            {"path",
             [&](const YAML::Node& v, const std::string& p) {
               action.path = reader_.read_string(v, p);
               if (action.path.empty()) action.path = "/";
             }},
            {"port",
             [&](const YAML::Node& v, const std::string& p) {
               has_port = true;
               action.port = reader_.read_port(v, p);
             }},
            {"host", [&](const YAML::Node& v, const std::string& p) { action.host = reader_.read_string(v, p); }},
            {"scheme", [&](const YAML::Node& v, const std::string& p) { action.scheme = read_scheme(v, p); }},
            {"httpHeaders",
             [&](const YAML::Node& v, const std::string& p) { action.headers = read_http_headers(v, p); }},
        });
    if (!has_port) reader_.fail(child_path(path, "port"), "required");
    return action;
  }

  std::string read_scheme(const YAML::Node& node, const std::string& path) {
    const std::string scheme = read_choice(node, path, {"HTTP", "HTTPS"});
    if (scheme == "HTTPS") {
      if (!reader_.ignore_unsupported()) {
        reader_.fail(path, "\"HTTPS\" is not supported, expected HTTP (pass --ignore-unsupported to probe over HTTP)");
      }
      reader_.warn(path, "\"HTTPS\" is not supported, probing over HTTP");
    }
    return "HTTP";
  }

  std::vector<std::pair<std::string, std::string>> read_http_headers(const YAML::Node& node, const std::string& path) {
    reader_.expect_sequence(node, path);
    std::vector<std::pair<std::string, std::string>> headers;
    for (std::size_t i = 0; i < node.size(); ++i) {
      const std::string item_path = index_path(path, i);
      std::string name;
      std::string value;
      reader_.read_map(node[i], item_path,
                       {
                           {"name", [&](const YAML::Node& v, const std::string& p) { name = reader_.read_string(v, p); }},
                           {"value", [&](const YAML::Node& v, const std::string& p) { value = reader_.read_string(v, p); }},
                       });
      if (!is_http_header_name(name)) {
        reader_.fail(child_path(item_path, "name"), "\"" + name + "\" is invalid, expected an HTTP header name");
      }
      headers.emplace_back(std::move(name), std::move(value));
    }
    return headers;
  }

  tcp_socket_action read_tcp_socket(const YAML::Node& node, const std::string& path) {
    tcp_socket_action action;
    bool has_port = false;
    reader_.read_map(node, path,
                     {
                         {"port",
                          [&](const YAML::Node& v, const std::string& p) {
                            has_port = true;
                            action.port = reader_.read_port(v, p);
                          }},
                         {"host", [&](const YAML::Node& v, const std::string& p) { action.host = reader_.read_string(v, p); }},
                     });
    if (!has_port) reader_.fail(child_path(path, "port"), "required");
    return action;
  }

  std::optional<std::variant<exec_action, http_get_action>> read_lifecycle(const YAML::Node& node,
                                                                            const std::string& path) {
    std::optional<std::variant<exec_action, http_get_action>> pre_stop;
    reader_.read_map(
        node, path,
        {{"preStop",
          [&](const YAML::Node& v, const std::string& p) {
            int handlers = 0;
            reader_.read_map(v, p,
                             {
                                 {"exec",
                                  [&](const YAML::Node& h, const std::string& hp) {
                                    ++handlers;
                                    pre_stop = read_exec(h, hp);
                                  }},
                                 {"httpGet",
                                  [&](const YAML::Node& h, const std::string& hp) {
                                    ++handlers;
                                    pre_stop = read_http_get(h, hp);
                                  }},
                             },
                             handler_unsupported);
            if (handlers > 1) reader_.fail(p, "more than one handler, expected one of exec or httpGet");
            if (handlers == 0 && !reader_.ignore_unsupported()) {
              reader_.fail(p, "missing handler, expected one of exec or httpGet");
            }
          }}},
        lifecycle_unsupported);
    return pre_stop;
  }

  void read_resources(const YAML::Node& node, const std::string& path, container_spec& c) {
    std::optional<std::uint64_t> memory_request;
    std::optional<std::uint32_t> cpu_request;
    reader_.read_map(node, path,
                     {
                         {"limits",
                          [&](const YAML::Node& v, const std::string& p) { read_quantities(v, p, c.memory_limit, c.cpu_limit); }},
                         // Requests only guide the scheduler, and one machine has nothing to
                         // schedule, so they are checked and otherwise ignored.
                         {"requests",
                          [&](const YAML::Node& v, const std::string& p) { read_quantities(v, p, memory_request, cpu_request); }},
                     },
                     resources_unsupported);

    if (memory_request && c.memory_limit && *memory_request > *c.memory_limit) {
      reader_.fail(path + ".requests.memory", "must be less than or equal to the memory limit");
    }
    if (cpu_request && c.cpu_limit && *cpu_request > *c.cpu_limit) {
      reader_.fail(path + ".requests.cpu", "must be less than or equal to the cpu limit");
    }
  }

  void read_quantities(const YAML::Node& node, const std::string& path, std::optional<std::uint64_t>& memory,
                       std::optional<std::uint32_t>& cpu) {
    reader_.expect_map(node, path);
    if (node.IsNull()) return;
    for (const auto& entry : node) {
      const std::string key = entry.first.Scalar();
      const std::string item_path = child_path(path, key);
      if (key != "memory" && key != "cpu") {
        reader_.reject_field(item_path, true);
        continue;
      }
      // A quantity may be written as a number (1, 0.5) or as a string ("128Mi").
      if (!entry.second.IsScalar()) reader_.fail(item_path, "expected a quantity such as 128Mi or 500m");
      const std::string text = entry.second.Scalar();
      if (key == "memory") {
        memory = parse_memory_quantity(text);
        if (!memory || *memory == 0) {
          reader_.fail(item_path, "\"" + text + "\" is invalid, expected a positive quantity of bytes such as 128Mi or 1G");
        }
      } else {
        cpu = parse_cpu_quantity(text);
        if (!cpu || *cpu == 0) {
          reader_.fail(item_path, "\"" + text + "\" is invalid, expected a positive quantity of CPUs such as 500m or 2");
        }
      }
    }
  }

  std::vector<volume_mount> read_mounts(const YAML::Node& node, const std::string& path) {
    reader_.expect_sequence(node, path);
    std::vector<volume_mount> mounts;
    for (std::size_t i = 0; i < node.size(); ++i) {
      const std::string item_path = index_path(path, i);
      volume_mount mount;
      reader_.read_map(node[i], item_path,
                       {
                           {"name", [&](const YAML::Node& v, const std::string& p) { mount.name = reader_.read_string(v, p); }},
                           {"mountPath",
                            [&](const YAML::Node& v, const std::string& p) { mount.mount_path = reader_.read_string(v, p); }},
                           {"readOnly", [&](const YAML::Node& v, const std::string& p) { mount.read_only = reader_.read_bool(v, p); }},
                       },
                       mount_unsupported);
      if (mount.name.empty()) reader_.fail(child_path(item_path, "name"), "required");
      if (!mount.mount_path.starts_with('/')) {
        reader_.fail(child_path(item_path, "mountPath"), "\"" + mount.mount_path + "\" is invalid, expected an absolute path");
      }
      mounts.push_back(std::move(mount));
    }
    return mounts;
  }

  std::vector<volume_spec> read_volumes(const YAML::Node& node, const std::string& path) {
    reader_.expect_sequence(node, path);
    std::vector<volume_spec> volumes;
    std::set<std::string> names;
    for (std::size_t i = 0; i < node.size(); ++i) {
      const std::string item_path = index_path(path, i);
      volume_spec volume;
      int sources = 0;
      reader_.read_map(node[i], item_path,
                       {
                           {"name", [&](const YAML::Node& v, const std::string& p) { volume.name = read_name(v, p); }},
                           {"emptyDir",
                            [&](const YAML::Node& v, const std::string& p) {
                              ++sources;
                              read_empty_dir(v, p);
                            }},
                           {"configMap",
                            [&](const YAML::Node& v, const std::string& p) {
                              ++sources;
                              volume.source = read_config_map_source(v, p);
                            }},
                           {"hostPath",
                            [&](const YAML::Node& v, const std::string& p) {
                              ++sources;
                              volume.host_path = read_host_path_source(v, p);
                            }},
                       },
                       volume_unsupported);
      if (volume.name.empty()) reader_.fail(child_path(item_path, "name"), "required");
      if (!names.insert(volume.name).second) reader_.fail(child_path(item_path, "name"), "duplicate volume name \"" + volume.name + "\"");
      // A volume with no source is an emptyDir, as the API server defaults it.
      if (sources > 1) {
        reader_.fail(item_path, "more than one source, expected one of emptyDir, configMap or hostPath");
      }
      volumes.push_back(std::move(volume));
    }
    return volumes;
  }

  void read_empty_dir(const YAML::Node& node, const std::string& path) {
    reader_.read_map(node, path,
                     {{"medium",
                       [&](const YAML::Node& v, const std::string& p) {
                         const std::string medium = read_choice(v, p, {"", "Memory"});
                         if (medium == "Memory") reader_.reject_field(p, true);
                       }}},
                     empty_dir_unsupported);
  }

  // Only directories are supported: `type` "" (no check) or "Directory".
  std::string read_host_path_source(const YAML::Node& node, const std::string& path) {
    std::string host_path;
    reader_.read_map(node, path,
                     {
                         {"path", [&](const YAML::Node& v, const std::string& p) { host_path = reader_.read_string(v, p); }},
                         {"type",
                          [&](const YAML::Node& v, const std::string& p) {
                            const std::string type = reader_.read_string(v, p);
                            if (type != "" && type != "Directory") {
                              reader_.fail(p, "\"" + type + "\" is not supported, expected \"\" or Directory");
                            }
                          }},
                     });
    if (host_path.empty() || host_path.front() != '/') {
      reader_.fail(child_path(path, "path"), "\"" + host_path + "\" is invalid, expected an absolute path");
    }
    return host_path;
  }

  std::string read_config_map_source(const YAML::Node& node, const std::string& path) {
    std::string name;
    reader_.read_map(node, path,
                     {
                         {"name", [&](const YAML::Node& v, const std::string& p) { name = reader_.read_string(v, p); }},
                         // Only the default, a required config map, is supported.
                         {"optional",
                          [&](const YAML::Node& v, const std::string& p) {
                            if (reader_.read_bool(v, p)) reader_.reject_field(p, true);
                          }},
                     },
                     config_map_volume_unsupported);
    if (!is_dns1123_subdomain(name)) {
      reader_.fail(child_path(path, "name"),
                   "\"" + name + "\" is invalid, expected a config map name of " + std::string(dns1123_subdomain_rule));
    }
    return name;
  }

  void check_container_names(const pod_spec& spec, const std::string& path) {
    std::set<std::string> names;
    const auto check = [&](const std::vector<container_spec>& containers, const char* field) {
      for (std::size_t i = 0; i < containers.size(); ++i) {
        if (!names.insert(containers[i].name).second) {
          reader_.fail(index_path(child_path(path, field), i) + ".name",
                       "duplicate container name \"" + containers[i].name + "\"");
        }
      }
    };
    check(spec.init_containers, "initContainers");
    check(spec.containers, "containers");
  }

  void check_mounts(const pod_spec& spec, const std::string& path) {
    const auto check = [&](const std::vector<container_spec>& containers, const char* field) {
      for (std::size_t i = 0; i < containers.size(); ++i) {
        std::set<std::string> mount_paths;
        const auto& mounts = containers[i].volume_mounts;
        for (std::size_t m = 0; m < mounts.size(); ++m) {
          const std::string mount_path = index_path(index_path(child_path(path, field), i) + ".volumeMounts", m);
          const bool known = std::any_of(spec.volumes.begin(), spec.volumes.end(),
                                         [&](const volume_spec& v) { return v.name == mounts[m].name; });
          if (!known) reader_.fail(mount_path + ".name", "no volume named \"" + mounts[m].name + "\" in spec.volumes");
          if (!mount_paths.insert(mounts[m].mount_path).second) {
            reader_.fail(mount_path + ".mountPath", "\"" + mounts[m].mount_path + "\" is mounted twice");
          }
        }
      }
    };
    check(spec.init_containers, "initContainers");
    check(spec.containers, "containers");
  }

  const manifest_reader& reader_;
};

}  // namespace

pod_spec read_pod_spec(const manifest_reader& reader, const YAML::Node& node, const std::string& path) {
  if (!node.IsDefined() || node.IsNull()) reader.fail(path, "required");
  return pod_spec_reader(reader).read(node, path);
}

}  // namespace podsim::detail
