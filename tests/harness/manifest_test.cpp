#include "podsim/manifest.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

namespace {

using namespace std::chrono_literals;

podsim::manifest_set parse(const std::string& text, bool ignore_unsupported = false,
                           std::vector<std::string>* warnings = nullptr) {
  return podsim::parse_manifests(text, "test.yaml", {.ignore_unsupported = ignore_unsupported}, warnings);
}

// The message of the manifest_error that parsing `text` throws, or "" when it parses.
std::string parse_error(const std::string& text) {
  try {
    parse(text);
  } catch (const podsim::manifest_error& e) {
    return e.what();
  }
  return "";
}

// A Pod document with one container, and `extra` appended under the container.
std::string pod_with_container_fields(const std::string& extra) {
  return "apiVersion: v1\n"
         "kind: Pod\n"
         "metadata: {name: web}\n"
         "spec:\n"
         "  containers:\n"
         "    - name: app\n"
         "      command: [sleep, '100']\n" +
         extra;
}

const podsim::http_get_action& http_get(const podsim::probe_spec& probe) {
  return std::get<podsim::http_get_action>(probe.action);
}

}  // namespace

TEST_CASE("manifest pod gets API defaults") {
  const auto set = parse(R"(
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
    - name: app
      command: ["/usr/sbin/nginx"]
      ports:
        - containerPort: 8080
      readinessProbe:
        httpGet: {port: 8080}
)");
  REQUIRE(set.pods.size() == 1);
  const auto& pod = set.pods[0];
  CHECK(pod.meta.name == "web");
  CHECK(pod.meta.namespace_name == "default");
  CHECK(pod.spec.restart_policy == "Always");
  CHECK(pod.spec.termination_grace_period == 30s);
  CHECK_FALSE(pod.spec.share_process_namespace);

  REQUIRE(pod.spec.containers.size() == 1);
  const auto& app = pod.spec.containers[0];
  CHECK(app.image == "host");
  CHECK(app.ports[0].protocol == "TCP");
  CHECK(app.ports[0].name.empty());
  REQUIRE(app.readiness);
  CHECK(app.readiness->initial_delay == 0s);
  CHECK(app.readiness->period == 10s);
  CHECK(app.readiness->timeout == 1s);
  CHECK(app.readiness->success_threshold == 1);
  CHECK(app.readiness->failure_threshold == 3);
  CHECK(http_get(*app.readiness).path == "/");
  CHECK(http_get(*app.readiness).scheme == "HTTP");
  CHECK(std::get<int>(http_get(*app.readiness).port) == 8080);
  CHECK_FALSE(app.liveness);
  CHECK_FALSE(app.memory_limit);
}

TEST_CASE("manifest pod reads every supported field") {
  const auto set = parse(R"(
apiVersion: v1
kind: Pod
metadata:
  name: web-0
  namespace: shop
  labels: {app: web, tier: "1"}
  annotations:
    prometheus.io/scrape: "true"
    prometheus.io/port: "9090"
spec:
  shareProcessNamespace: true
  restartPolicy: OnFailure
  terminationGracePeriodSeconds: 5
  initContainers:
    - name: setup
      command: [sh, -c, "echo hi > /www/index.html"]
      volumeMounts: [{name: www, mountPath: /www}]
    - name: proxy
      restartPolicy: Always
      command: [/bin/proxy]
      startupProbe:
        tcpSocket: {port: 9000, host: 127.0.0.1}
        failureThreshold: 30
        periodSeconds: 1
  containers:
    - name: app
      image: /srv/rootfs
      command: [/usr/sbin/nginx]
      args: ["-g", "daemon off;"]
      env:
        - {name: MODE, value: fast}
        - {name: EMPTY}
      ports:
        - {name: http, containerPort: 8080, protocol: TCP}
      readinessProbe:
        httpGet:
          path: /ready
          port: http
          httpHeaders: [{name: X-Probe, value: "yes"}]
        initialDelaySeconds: 2
        periodSeconds: 3
        timeoutSeconds: 4
        successThreshold: 2
        failureThreshold: 5
      livenessProbe:
        exec: {command: [test, -f, /tmp/alive]}
      lifecycle:
        preStop:
          exec: {command: [sleep, "1"]}
      resources:
        limits: {memory: 64Mi, cpu: 500m}
        requests: {memory: 32Mi, cpu: 0.25}
      volumeMounts:
        - {name: www, mountPath: /usr/share/nginx/html, readOnly: true}
        - {name: config, mountPath: /etc/nginx/conf.d}
    - name: sidecar
      command: [/bin/sidecar]
      lifecycle:
        preStop:
          httpGet: {path: /drain, port: 9090}
  volumes:
    - name: www
      emptyDir: {}
    - name: config
      configMap: {name: nginx-config}
    - name: scratch
)");
  REQUIRE(set.pods.size() == 1);
  const auto& pod = set.pods[0];
  CHECK(pod.meta.namespace_name == "shop");
  CHECK(pod.meta.labels.at("tier") == "1");
  CHECK(pod.meta.annotations.at("prometheus.io/port") == "9090");
  CHECK(pod.spec.share_process_namespace);
  CHECK(pod.spec.restart_policy == "OnFailure");
  CHECK(pod.spec.termination_grace_period == 5s);

  REQUIRE(pod.spec.init_containers.size() == 2);
  CHECK_FALSE(pod.spec.init_containers[0].restart_policy);
  CHECK(pod.spec.init_containers[1].restart_policy == "Always");
  const auto& startup = *pod.spec.init_containers[1].startup;
  CHECK(std::get<podsim::tcp_socket_action>(startup.action).host == "127.0.0.1");
  CHECK(std::get<int>(std::get<podsim::tcp_socket_action>(startup.action).port) == 9000);
  CHECK(startup.failure_threshold == 30);
  CHECK(startup.period == 1s);

  REQUIRE(pod.spec.containers.size() == 2);
  const auto& app = pod.spec.containers[0];
  CHECK(app.image == "/srv/rootfs");
  CHECK(app.args == std::vector<std::string>{"-g", "daemon off;"});
  REQUIRE(app.env.size() == 2);
  CHECK(app.env[0] == std::pair<std::string, std::string>{"MODE", "fast"});
  CHECK(app.env[1] == std::pair<std::string, std::string>{"EMPTY", ""});
  CHECK(app.ports[0].name == "http");
  const auto& readiness = *app.readiness;
  CHECK(std::get<std::string>(http_get(readiness).port) == "http");
  CHECK(http_get(readiness).path == "/ready");
  CHECK(http_get(readiness).headers[0] == std::pair<std::string, std::string>{"X-Probe", "yes"});
  CHECK(readiness.initial_delay == 2s);
  CHECK(readiness.period == 3s);
  CHECK(readiness.timeout == 4s);
  CHECK(readiness.success_threshold == 2);
  CHECK(readiness.failure_threshold == 5);
  CHECK(std::get<podsim::exec_action>(app.liveness->action).command ==
        std::vector<std::string>{"test", "-f", "/tmp/alive"});
  CHECK(std::get<podsim::exec_action>(*app.pre_stop).command == std::vector<std::string>{"sleep", "1"});
  CHECK(app.memory_limit == 64u * 1024 * 1024);
  CHECK(app.cpu_limit == 500u);
  REQUIRE(app.volume_mounts.size() == 2);
  CHECK(app.volume_mounts[0].read_only);
  CHECK(app.volume_mounts[1].mount_path == "/etc/nginx/conf.d");
  CHECK(std::get<podsim::http_get_action>(*pod.spec.containers[1].pre_stop).path == "/drain");

  REQUIRE(pod.spec.volumes.size() == 3);
  CHECK_FALSE(pod.spec.volumes[0].is_config_map());
  REQUIRE(pod.spec.volumes[1].is_config_map());
  CHECK(std::get<std::string>(pod.spec.volumes[1].source) == "nginx-config");
  // A volume without a source is an emptyDir, as the API server defaults it.
  CHECK_FALSE(pod.spec.volumes[2].is_config_map());
}

TEST_CASE("manifest reads deployment service configmap") {
  const auto set = parse(R"(
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config}
data:
  nginx.conf: |
    events {}
  status.json: '{"value": 5}'
---
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  strategy: {type: RollingUpdate}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web, track: stable}
      annotations: {prometheus.io/scrape: "true"}
    spec:
      containers:
        - name: app
          command: [/usr/sbin/nginx]
          ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports:
    - {name: http, port: 8080, targetPort: http}
    - {name: metrics, port: 9090}
)");
  REQUIRE(set.config_maps.size() == 1);
  CHECK(set.config_maps[0].data.at("nginx.conf") == "events {}\n");
  CHECK(set.config_maps[0].data.at("status.json") == R"({"value": 5})");

  REQUIRE(set.deployments.size() == 1);
  const auto& deployment = set.deployments[0];
  CHECK(deployment.replicas == 2);
  CHECK(deployment.selector == std::map<std::string, std::string>{{"app", "web"}});
  CHECK(deployment.template_meta.labels.at("track") == "stable");
  CHECK(deployment.template_meta.annotations.at("prometheus.io/scrape") == "true");
  CHECK(deployment.template_spec.containers[0].name == "app");

  REQUIRE(set.services.size() == 1);
  const auto& service = set.services[0];
  CHECK(service.selector.at("app") == "web");
  REQUIRE(service.ports.size() == 2);
  CHECK(std::get<std::string>(service.ports[0].target_port) == "http");
  // targetPort defaults to port.
  CHECK(std::get<int>(service.ports[1].target_port) == 9090);
  CHECK(service.ports[1].protocol == "TCP");
}

TEST_CASE("manifest deployment defaults to one replica") {
  const auto set = parse(R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: app, command: [sleep, "1"]}]
)");
  REQUIRE(set.deployments.size() == 1);
  CHECK(set.deployments[0].replicas == 1);
  CHECK(set.deployments[0].template_spec.restart_policy == "Always");
}

TEST_CASE("manifest reads items of a list") {
  const auto set = parse(R"(
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: a}
  - apiVersion: v1
    kind: Pod
    metadata: {name: b}
    spec:
      containers: [{name: app, command: [sleep, "1"]}]
)");
  CHECK(set.config_maps.size() == 1);
  REQUIRE(set.pods.size() == 1);
  CHECK(set.pods[0].meta.name == "b");
}

TEST_CASE("manifest errors name their path") {
  struct error_case {
    const char* name;
    std::string text;
    std::string message;
  };
  const error_case cases[] = {
      {"unsupported container field", pod_with_container_fields("      securityContext: {runAsUser: 1000}\n"),
       "test.yaml: Pod web: spec.containers[0].securityContext: field is not supported (pass --ignore-unsupported to "
       "warn instead)"},
      {"unknown container field", pod_with_container_fields("      imagee: nginx\n"),
       "test.yaml: Pod web: spec.containers[0].imagee: unknown field (pass --ignore-unsupported to warn instead)"},
      {"missing command", "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers: [{name: app}]\n",
       "test.yaml: Pod web: spec.containers[0].command: required, because image \"host\" has no entrypoint: give the "
       "program to run, and args if any"},
      {"image that is not a directory", pod_with_container_fields("      image: nginx:1.25\n"),
       "test.yaml: Pod web: spec.containers[0].image: \"nginx:1.25\" is not supported, expected \"host\" or the "
       "absolute path of a directory to use as the root filesystem (pass --ignore-unsupported to run it on \"host\")"},
      {"no containers", "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec: {}\n",
       "test.yaml: Pod web: spec.containers: required, expected at least one container"},
      {"missing name", "apiVersion: v1\nkind: Pod\nmetadata: {}\nspec: {}\n",
       "test.yaml: document 1 (Pod): metadata.name: required"},
      {"invalid pod name", "apiVersion: v1\nkind: Pod\nmetadata: {name: Web_1}\n",
       "test.yaml: Pod Web_1: metadata.name: \"Web_1\" is invalid, expected a name of at most 253 lowercase "
       "letters, digits, '-' and '.', starting and ending with a letter or digit"},
      {"port out of range", pod_with_container_fields("      ports: [{containerPort: 70000}]\n"),
       "test.yaml: Pod web: spec.containers[0].ports[0].containerPort: 70000 is out of range, expected 1-65535"},
      {"quoted number in an integer field", pod_with_container_fields("      ports: [{containerPort: \"80\"}]\n"),
       "test.yaml: Pod web: spec.containers[0].ports[0].containerPort: expected an integer, found \"80\""},
      {"number in a string field", pod_with_container_fields("      env: [{name: PORT, value: 8080}]\n"),
       "test.yaml: Pod web: spec.containers[0].env[0].value: expected a string, found 8080 (put it in quotes)"},
      {"boolean annotation", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  annotations:\n"
                             "    prometheus.io/scrape: true\n",
       "test.yaml: Pod web: metadata.annotations.prometheus.io/scrape: expected a string, found true (put it in quotes)"},
      {"probe without handler", pod_with_container_fields("      readinessProbe: {periodSeconds: 1}\n"),
       "test.yaml: Pod web: spec.containers[0].readinessProbe: missing handler, expected one of exec, httpGet or "
       "tcpSocket"},
      {"probe with two handlers",
       pod_with_container_fields("      livenessProbe:\n        exec: {command: [/bin/true]}\n        tcpSocket: {port: 80}\n"),
       "test.yaml: Pod web: spec.containers[0].livenessProbe: more than one handler, expected one of exec, httpGet or "
       "tcpSocket"},
      {"liveness success threshold",
       pod_with_container_fields("      livenessProbe: {tcpSocket: {port: 80}, successThreshold: 2}\n"),
       "test.yaml: Pod web: spec.containers[0].livenessProbe.successThreshold: 2 is invalid, expected 1 for liveness "
       "and startup probes"},
      {"negative period", pod_with_container_fields("      readinessProbe: {tcpSocket: {port: 80}, periodSeconds: -1}\n"),
       "test.yaml: Pod web: spec.containers[0].readinessProbe.periodSeconds: -1 is out of range, expected 0-1000000000"},
      {"quoted port number", pod_with_container_fields("      readinessProbe: {tcpSocket: {port: \"8080\"}}\n"),
       "test.yaml: Pod web: spec.containers[0].readinessProbe.tcpSocket.port: \"8080\" is invalid, expected a port "
       "number without quotes or a port name of at most 15 lowercase letters, digits and '-', with at least one "
       "letter and no '--'"},
      {"unknown volume", pod_with_container_fields("      volumeMounts: [{name: data, mountPath: /data}]\n"),
       "test.yaml: Pod web: spec.containers[0].volumeMounts[0].name: no volume named \"data\" in spec.volumes"},
      {"relative mount path", pod_with_container_fields("      volumeMounts: [{name: data, mountPath: data}]\n"),
       "test.yaml: Pod web: spec.containers[0].volumeMounts[0].mountPath: \"data\" is invalid, expected an absolute "
       "path"},
      {"memory limit", pod_with_container_fields("      resources: {limits: {memory: 64MB}}\n"),
       "test.yaml: Pod web: spec.containers[0].resources.limits.memory: \"64MB\" is invalid, expected a positive "
       "quantity of bytes such as 128Mi or 1G"},
      {"request above limit", pod_with_container_fields("      resources: {limits: {cpu: 1}, requests: {cpu: 2}}\n"),
       "test.yaml: Pod web: spec.containers[0].resources.requests.cpu: must be less than or equal to the cpu limit"},
      {"restart policy on a container", pod_with_container_fields("      restartPolicy: Always\n"),
       "test.yaml: Pod web: spec.containers[0].restartPolicy: may not be set for containers, only for initContainers"},
      {"duplicate key", pod_with_container_fields("      args: [a]\n      args: [b]\n"),
       "test.yaml: Pod web: spec.containers[0].args: duplicate key"},
      {"probe on an init container",
       "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  initContainers:\n    - name: setup\n"
       "      command: [/bin/true]\n      readinessProbe: {tcpSocket: {port: 80}}\n"
       "  containers: [{name: app, command: [sleep, '1']}]\n",
       "test.yaml: Pod web: spec.initContainers[0].readinessProbe: may not be set for init containers without "
       "restartPolicy: Always"},
      {"duplicate container name",
       "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  initContainers: [{name: app, command: [/bin/true]}]\n"
       "  containers: [{name: app, command: [sleep, '1']}]\n",
       "test.yaml: Pod web: spec.containers[0].name: duplicate container name \"app\""},
      {"invalid restart policy",
       "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  restartPolicy: Sometimes\n"
       "  containers: [{name: app, command: [sleep, '1']}]\n",
       "test.yaml: Pod web: spec.restartPolicy: \"Sometimes\" is invalid, expected one of Always, OnFailure, Never"},
      {"deployment selector mismatch",
       "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n"
       "  template:\n    metadata: {labels: {app: api}}\n    spec:\n      containers: [{name: app, command: [x]}]\n",
       "test.yaml: Deployment web: spec.template.metadata.labels: do not match spec.selector: expected app: web"},
      {"deployment restart policy",
       "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n"
       "  template:\n    metadata: {labels: {app: web}}\n    spec:\n      restartPolicy: Never\n"
       "      containers: [{name: app, command: [x]}]\n",
       "test.yaml: Deployment web: spec.template.spec.restartPolicy: \"Never\" is invalid, expected Always for a "
       "Deployment"},
      {"deployment template error names its path",
       "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  selector: {matchLabels: {app: web}}\n"
       "  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: app, command: [x], "
       "tty: true}]\n",
       "test.yaml: Deployment web: spec.template.spec.containers[0].tty: field is not supported (pass "
       "--ignore-unsupported to warn instead)"},
      {"deployment api version",
       "apiVersion: v1\nkind: Deployment\nmetadata: {name: web}\n",
       "test.yaml: document 1 (Deployment): apiVersion: \"v1\" is not supported for Deployment, expected apps/v1"},
      {"service port names",
       "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  ports: [{port: 80}, {port: 81}]\n",
       "test.yaml: Service web: spec.ports[0].name: required when a service has more than one port"},
      {"service type", "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  type: NodePort\n"
                       "  ports: [{port: 80}]\n",
       "test.yaml: Service web: spec.type: \"NodePort\" is not supported, expected ClusterIP (pass --ignore-unsupported "
       "to run it as ClusterIP)"},
      {"service name", "apiVersion: v1\nkind: Service\nmetadata: {name: 1web}\n",
       "test.yaml: Service 1web: metadata.name: \"1web\" is invalid, expected a name of at most 63 lowercase "
       "letters, digits and '-', starting with a letter and ending with a letter or digit"},
      {"unsupported kind", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n",
       "test.yaml: document 1 (Secret): kind: kind Secret is not supported, expected Pod, Deployment, Service or "
       "ConfigMap (pass --ignore-unsupported to skip it)"},
      {"document that is not a map", "- a\n- b\n",
       "test.yaml: document 1: expected a map with apiVersion, kind and metadata"},
      {"second document", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Pod\n",
       "test.yaml: document 2 (Pod): metadata.name: required"},
      {"duplicate object", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n"
                           "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
       "test.yaml: ConfigMap a: defined twice in namespace default"},
      {"invalid YAML", "apiVersion: v1\nkind: [Pod\n", "test.yaml:3:1: invalid YAML: end of sequence flow not found"},
  };
  for (const auto& c : cases) {
    SECTION(c.name) { CHECK(parse_error(c.text) == c.message); }
  }
}

TEST_CASE("manifest warns on unsupported fields") {
  std::vector<std::string> warnings;
  const auto set = parse(pod_with_container_fields("      securityContext: {runAsUser: 1000}\n"
                                                   "      image: nginx:1.25\n"
                                                   "      imagee: x\n") +
                             "---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\n",
                         true, &warnings);
  REQUIRE(set.pods.size() == 1);
  CHECK(set.pods[0].spec.containers[0].image == "host");
  REQUIRE(warnings.size() == 4);
  CHECK(warnings[0] == "test.yaml: Pod web: spec.containers[0].securityContext: field is not supported, ignored");
  CHECK(warnings[1] == "test.yaml: Pod web: spec.containers[0].image: \"nginx:1.25\" is not supported, expected "
                       "\"host\" or the absolute path of a directory to use as the root filesystem, running it on "
                       "\"host\"");
  CHECK(warnings[2] == "test.yaml: Pod web: spec.containers[0].imagee: unknown field, ignored");
  CHECK(warnings[3] == "test.yaml: document 2 (Secret): kind: kind Secret is not supported, expected Pod, "
                       "Deployment, Service or ConfigMap, skipped");
}

TEST_CASE("manifest skips empty unsupported fields") {
  // kubectl writes these empty values in generated manifests; they set nothing.
  std::vector<std::string> warnings;
  const auto set = parse(R"(
apiVersion: v1
kind: Pod
metadata:
  name: web
  creationTimestamp: null
spec:
  securityContext: {}
  tolerations: []
  containers:
    - name: app
      command: [sleep, "1"]
      securityContext: {}
status: {}
)",
                         false, &warnings);
  CHECK(set.pods.size() == 1);
  CHECK(warnings.empty());
}

TEST_CASE("manifest memory quantities") {
  struct quantity_case {
    const char* text;
    std::optional<std::uint64_t> bytes;
  };
  const quantity_case cases[] = {
      {"128Mi", 128ull << 20}, {"1Gi", 1ull << 30},  {"500M", 500'000'000}, {"1.5Gi", 3ull << 29},
      {"1.2k", 1200},          {"100", 100},         {"1e3", 1000},         {"2E2", 200},
      {"1E", 1'000'000'000'000'000'000ull},          {"500m", 1},           {"0.1", 1},
      {"+5Ki", 5120},          {".5Ki", 512},        {"0", 0},              {"-1Mi", std::nullopt},
      {"64MB", std::nullopt},  {"Mi", std::nullopt}, {"", std::nullopt},    {"1 Mi", std::nullopt},
      {"16Ei", std::nullopt},  {"1.2.3", std::nullopt},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    CHECK(podsim::parse_memory_quantity(c.text) == c.bytes);
  }
}

TEST_CASE("manifest cpu quantities") {
  struct quantity_case {
    const char* text;
    std::optional<std::uint32_t> millicores;
  };
  const quantity_case cases[] = {
      {"250m", 250},    {"1", 1000},      {"0.5", 500},          {"1.5", 1500},
      {"0.1", 100},     {"0.0001", 1},    {"2k", 2'000'000},     {"100u", 1},
      {"-1", std::nullopt}, {"1x", std::nullopt}, {"5000000", std::nullopt},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    CHECK(podsim::parse_cpu_quantity(c.text) == c.millicores);
  }
}

TEST_CASE("manifest resolves YAML 1.1 scalars") {
  // `on` is a boolean to the API server's YAML reader, and 0x1F a number.
  CHECK(parse_error(pod_with_container_fields("      env: [{name: A, value: on}]\n")) ==
        "test.yaml: Pod web: spec.containers[0].env[0].value: expected a string, found on (put it in quotes)");
  const auto set = parse(pod_with_container_fields("      ports: [{containerPort: 0x1F}]\n"
                                                   "      env: [{name: A, value: 'on'}, {name: B, value: 1.2.3}]\n"));
  CHECK(set.pods[0].spec.containers[0].ports[0].container_port == 31);
  CHECK(set.pods[0].spec.containers[0].env[0].second == "on");
  CHECK(set.pods[0].spec.containers[0].env[1].second == "1.2.3");
}

TEST_CASE("manifest reads hostPath volumes") {
  const std::string pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n"
                          "  containers: [{name: app, command: [sleep, '1'], volumeMounts: [{name: bin, mountPath: /opt}]}]\n"
                          "  volumes: [{name: bin, hostPath: {path: ";
  const auto set = parse(pod + "/usr/local/bin, type: Directory}}]\n");
  REQUIRE(set.pods.size() == 1);
  REQUIRE(set.pods[0].spec.volumes.size() == 1);
  CHECK(set.pods[0].spec.volumes[0].is_host_path());
  CHECK(*set.pods[0].spec.volumes[0].host_path == "/usr/local/bin");

  CHECK(parse_error(pod + "relative/dir}}]\n") ==
        "test.yaml: Pod web: spec.volumes[0].hostPath.path: \"relative/dir\" is invalid, expected an absolute path");
  CHECK(parse_error(pod + "/run/docker.sock, type: Socket}}]\n") ==
        "test.yaml: Pod web: spec.volumes[0].hostPath.type: \"Socket\" is not supported, expected \"\" or Directory");
}
