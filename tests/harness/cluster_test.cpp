#include "podsim/cluster.hpp"

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "support/http_get.hpp"
#include "support/process.hpp"
#include "support/prometheus.hpp"

// End-to-end tests of the control plane on real namespaces: they need root.
// Every test runs at time scale 0.1, so a periodSeconds of 1 is 100 ms, and
// ends by checking that nothing of podsim is left on the machine.

namespace {

using namespace std::chrono_literals;

constexpr double time_scale = 0.1;
// Generous limits for things that take well under a second on an idle machine.
constexpr auto start_limit = 20s;
constexpr auto change_limit = 10s;

podsim::manifest_set parse(const std::string& yaml) { return podsim::parse_manifests(yaml, "test.yaml", {}); }

std::string join(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  return text;
}

std::string describe_events(const podsim::cluster& cluster) {
  std::string text;
  for (const auto& e : cluster.events()) {
    text += e.object + " " + e.type + " " + e.reason + " x" + std::to_string(e.count) + ": " + e.message + "\n";
  }
  return text;
}

// What podsim left on the machine that names one of `pods` (a pod name or
// the start of one). Other programs' pods are left out, so that test
// programs may run side by side.
std::vector<std::string> leftovers_of(const std::vector<std::string>& pods) {
  std::vector<std::string> found;
  for (const auto& line : podsim::list_leftovers()) {
    const bool ours = std::any_of(pods.begin(), pods.end(), [&](const std::string& pod) {
      return line.find(pod) != std::string::npos;
    });
    if (ours) found.push_back(line);
  }
  return found;
}

void check_no_leftovers(const std::vector<std::string>& pods) {
  const auto leftovers = leftovers_of(pods);
  INFO("left behind:\n" << join(leftovers));
  CHECK(leftovers.empty());
}

// Stops the cluster and checks that nothing of its pods remains.
void stop_and_check(podsim::cluster& cluster, const std::vector<std::string>& pods) {
  cluster.stop();
  check_no_leftovers(pods);
}

bool has_event(const podsim::cluster& cluster, const std::string& object, const std::string& reason,
               const std::string& message_part) {
  const auto events = cluster.events_for(object);
  return std::any_of(events.begin(), events.end(), [&](const podsim::event& e) {
    return e.reason == reason && e.message.find(message_part) != std::string::npos;
  });
}

// Position of the first event matching reason and message, or -1.
long event_index(const std::vector<podsim::event>& events, const std::string& reason, const std::string& message) {
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (events[i].reason == reason && events[i].message == message) return static_cast<long>(i);
  }
  return -1;
}

const podsim::container_status& container_named(const podsim::pod_status& pod, const std::string& name) {
  for (const auto* list : {&pod.init_containers, &pod.containers}) {
    for (const auto& c : *list) {
      if (c.name == name) return c;
    }
  }
  throw std::runtime_error("no container " + name + " in pod " + pod.name);
}

// A condition on one pod, false while the pod does not exist.
std::function<bool()> pod_is(const podsim::cluster& cluster, const std::string& name,
                             std::function<bool(const podsim::pod_status&)> condition) {
  return [&cluster, name, condition] {
    const auto pod = cluster.pod(name);
    return pod && condition(*pod);
  };
}

// nginx serving /www on port 8080 as one process, with every writable path in /tmp.
const std::string nginx_config_map = R"(
apiVersion: v1
kind: ConfigMap
metadata: {name: nginx}
data:
  nginx.conf: |
    daemon off;
    master_process off;
    pid /tmp/nginx.pid;
    error_log stderr warn;
    events { worker_connections 64; }
    http {
      access_log off;
      client_body_temp_path /tmp/client_body;
      proxy_temp_path /tmp/proxy;
      fastcgi_temp_path /tmp/fastcgi;
      uwsgi_temp_path /tmp/uwsgi;
      scgi_temp_path /tmp/scgi;
      server {
        listen 8080;
        root /www;
        location / { default_type text/plain; }
      }
    }
)";

// A pod whose nginx serves its own name at /name and is ready while /www/ready exists.
std::string web_pod(const std::string& name) {
  return R"(
---
apiVersion: v1
kind: Pod
metadata:
  name: )" + name + R"(
  labels: {app: web}
spec:
  terminationGracePeriodSeconds: 2
  initContainers:
    - name: content
      command: [sh, -c, "echo $(POD) > /www/name && touch /www/ready"]
      env: [{name: POD, value: )" + name + R"(}]
      volumeMounts: [{name: www, mountPath: /www}]
  containers:
    - name: nginx
      command: [/usr/sbin/nginx, -c, /etc/web/nginx.conf, -p, /tmp/]
      ports: [{name: http, containerPort: 8080}]
      readinessProbe:
        httpGet: {path: /ready, port: http}
        periodSeconds: 2
        failureThreshold: 2
        timeoutSeconds: 5
      volumeMounts:
        - {name: www, mountPath: /www}
        - {name: config, mountPath: /etc/web}
  volumes:
    - {name: www, emptyDir: {}}
    - {name: config, configMap: {name: nginx}}
)";
}

const std::string web_service = R"(
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 8080, targetPort: http}]
)";

std::vector<std::string> endpoint_pods(const podsim::cluster& cluster, const std::string& service) {
  std::vector<std::string> pods;
  for (const auto& s : cluster.services()) {
    if (s.name != service) continue;
    for (const auto& e : s.ports.at(0).endpoints) pods.push_back(e.pod);
  }
  return pods;
}

// The bodies of `count` requests to /name through the Service proxy.
std::map<std::string, int> names_served(std::uint16_t port, int count) {
  std::map<std::string, int> served;
  for (int i = 0; i < count; ++i) {
    const auto r = support::http_get(port, "/name");
    ++served[r.ok() && r.status == 200 ? r.body : "failed: " + r.error + " " + std::to_string(r.status)];
  }
  return served;
}

std::string podsim_binary() { return std::string(SIDECAR_BIN_DIR) + "/podsim"; }

}  // namespace

TEST_CASE("cluster readiness drives service endpoints") {
  const std::uint16_t service_port = support::free_port();
  podsim::cluster cluster({.time_scale = time_scale, .service_host_ports = {{8080, service_port}}});
  cluster.apply(parse(nginx_config_map + web_pod("ct-web-a") + web_pod("ct-web-b") + web_service));

  REQUIRE(cluster.wait_for([&] { return cluster.ready_pods("app=web") == 2; }, start_limit));
  REQUIRE(cluster.service_host_port("web", 8080) == service_port);
  REQUIRE(endpoint_pods(cluster, "web") == std::vector<std::string>{"ct-web-a", "ct-web-b"});
  // New connections alternate between the ready pods.
  CHECK(names_served(service_port, 4) == std::map<std::string, int>{{"ct-web-a\n", 2}, {"ct-web-b\n", 2}});

  SECTION("failure removes the pod within period x failureThreshold") {
    const auto removed_at = [&] {
      REQUIRE(cluster.exec("ct-web-a", "nginx", {"rm", "/www/ready"}).exit_code == 0);
      const auto start = std::chrono::steady_clock::now();
      REQUIRE(cluster.wait_for([&] { return endpoint_pods(cluster, "web") == std::vector<std::string>{"ct-web-b"}; },
                               change_limit));
      return std::chrono::steady_clock::now() - start;
    }();
    // periodSeconds 2 x failureThreshold 2 at time scale 0.1, plus one
    // probe's time and slack for a loaded machine.
    CHECK(removed_at < 400ms + 1500ms);
    CHECK(names_served(service_port, 4) == std::map<std::string, int>{{"ct-web-b\n", 4}});
    const auto pod = cluster.pod("ct-web-a");
    REQUIRE(pod);
    CHECK_FALSE(pod->ready);
    CHECK(pod->ready_column() == "0/1");
    CHECK(pod->status == "Running");
    CHECK(has_event(cluster, "pod/ct-web-a", "Unhealthy",
                    "Readiness probe failed: GET http://" + pod->ip + ":8080/ready: HTTP status 404, expected 200-399"));

    // Success brings it back.
    REQUIRE(cluster.exec("ct-web-a", "nginx", {"touch", "/www/ready"}).exit_code == 0);
    REQUIRE(cluster.wait_for([&] { return endpoint_pods(cluster, "web").size() == 2; }, change_limit));
    CHECK(names_served(service_port, 4) == std::map<std::string, int>{{"ct-web-a\n", 2}, {"ct-web-b\n", 2}});
  }

  SECTION("no ready pod closes connections at once") {
    REQUIRE(cluster.exec("ct-web-a", "nginx", {"rm", "/www/ready"}).exit_code == 0);
    REQUIRE(cluster.exec("ct-web-b", "nginx", {"rm", "/www/ready"}).exit_code == 0);
    REQUIRE(cluster.wait_for([&] { return endpoint_pods(cluster, "web").empty(); }, change_limit));
    const auto r = support::http_get(service_port, "/name", 2s);
    CHECK_FALSE(r.ok());
    CHECK(r.status == 0);
  }

  stop_and_check(cluster, {"ct-web-a", "ct-web-b"});
}

TEST_CASE("cluster liveness failure restarts container") {
  podsim::cluster cluster({.time_scale = time_scale});
  cluster.apply(parse(R"(
apiVersion: v1
kind: Pod
metadata: {name: ct-alive}
spec:
  terminationGracePeriodSeconds: 5
  containers:
    - name: app
      command: [sh, -c, "touch /tmp/alive && exec sleep 1000"]
      livenessProbe:
        exec: {command: [test, -f, /tmp/alive]}
        periodSeconds: 1
        failureThreshold: 2
        timeoutSeconds: 10
)"));
  REQUIRE(cluster.wait_for(pod_is(cluster, "ct-alive", [](const auto& p) { return p.ready; }), start_limit));
  const auto first_pid = container_named(*cluster.pod("ct-alive"), "app").pid;

  REQUIRE(cluster.exec("ct-alive", "app", {"rm", "/tmp/alive"}).exit_code == 0);
  // A restarted container gets a fresh /tmp, so the new run is alive again.
  REQUIRE(cluster.wait_for(pod_is(cluster, "ct-alive", [](const auto& p) { return p.restarts == 1 && p.ready; }),
                           change_limit));

  const auto pod = cluster.pod("ct-alive");
  REQUIRE(pod);
  CHECK(pod->status == "Running");
  const auto& app = container_named(*pod, "app");
  CHECK(app.restart_count == 1);
  CHECK(app.pid != first_pid);
  REQUIRE(app.last_termination);
  // sleep ends on SIGTERM: 128 + 15.
  CHECK(app.last_termination->exit_code == 143);
  CHECK(app.last_termination->reason == "Error");
  INFO(describe_events(cluster));
  CHECK(has_event(cluster, "pod/ct-alive", "Unhealthy", "Liveness probe failed: exit code 1"));
  CHECK(has_event(cluster, "pod/ct-alive", "Killing", "Container app failed its liveness probe and will be restarted"));
  // The first restart needs no back-off.
  CHECK_FALSE(has_event(cluster, "pod/ct-alive", "BackOff", ""));

  stop_and_check(cluster, {"ct-alive"});
}

TEST_CASE("cluster startup probe holds back others") {
  podsim::cluster cluster({.time_scale = time_scale});
  // Liveness fails until /tmp/started exists, so a liveness probe that ran
  // before the startup probe passed would restart the container.
  cluster.apply(parse(R"(
apiVersion: v1
kind: Pod
metadata: {name: ct-slow}
spec:
  terminationGracePeriodSeconds: 5
  containers:
    - name: app
      command: [sleep, "1000"]
      startupProbe:
        exec: {command: [test, -f, /tmp/started]}
        periodSeconds: 1
        failureThreshold: 1000
        timeoutSeconds: 10
      livenessProbe:
        exec: {command: [test, -f, /tmp/started]}
        periodSeconds: 1
        failureThreshold: 1
        timeoutSeconds: 10
      readinessProbe:
        exec: {command: [test, -f, /tmp/started]}
        periodSeconds: 1
        timeoutSeconds: 10
)"));
  REQUIRE(cluster.wait_for(pod_is(cluster, "ct-slow", [](const auto& p) { return p.containers[0].state == "Running"; }),
                           start_limit));
  // Many startup periods (100 ms each) pass while the startup probe fails.
  REQUIRE(cluster.wait_for([&] {
    const auto events = cluster.events_for("pod/ct-slow");
    return std::any_of(events.begin(), events.end(), [](const auto& e) {
      return e.reason == "Unhealthy" && e.message.starts_with("Startup probe failed") && e.count >= 8;
    });
  }, change_limit));
  {
    const auto pod = cluster.pod("ct-slow");
    REQUIRE(pod);
    const auto& app = container_named(*pod, "app");
    CHECK_FALSE(app.started);
    CHECK_FALSE(app.ready);
    CHECK(app.restart_count == 0);
    CHECK(pod->status == "Running");
    CHECK(pod->ready_column() == "0/1");
    INFO(describe_events(cluster));
    CHECK_FALSE(has_event(cluster, "pod/ct-slow", "Unhealthy", "Liveness probe failed"));
    CHECK_FALSE(has_event(cluster, "pod/ct-slow", "Unhealthy", "Readiness probe failed"));
  }

  REQUIRE(cluster.exec("ct-slow", "app", {"touch", "/tmp/started"}).exit_code == 0);
  REQUIRE(cluster.wait_for(pod_is(cluster, "ct-slow", [](const auto& p) { return p.ready; }), change_limit));
  const auto& app = container_named(*cluster.pod("ct-slow"), "app");
  CHECK(app.started);
  CHECK(app.restart_count == 0);

  stop_and_check(cluster, {"ct-slow"});
}

TEST_CASE("cluster native sidecar starts first") {
  podsim::cluster cluster({.time_scale = time_scale});
  cluster.apply(parse(R"(
apiVersion: v1
kind: Pod
metadata: {name: ct-pair}
spec:
  terminationGracePeriodSeconds: 5
  initContainers:
    - name: helper
      restartPolicy: Always
      command: [sleep, "1000"]
      startupProbe:
        exec: {command: [test, -f, /tmp/up]}
        periodSeconds: 1
        failureThreshold: 1000
        timeoutSeconds: 10
  containers:
    - name: app
      command: [sleep, "1000"]
)"));
  REQUIRE(cluster.wait_for(
      pod_is(cluster, "ct-pair", [](const auto& p) { return p.init_containers[0].state == "Running"; }), start_limit));
  // The main container waits while the sidecar has not started.
  REQUIRE(cluster.wait_for([&] { return has_event(cluster, "pod/ct-pair", "Unhealthy", "Startup probe failed"); },
                           change_limit));
  {
    const auto pod = cluster.pod("ct-pair");
    REQUIRE(pod);
    CHECK(pod->status == "Init:0/1");
    CHECK(pod->phase == "Pending");
    CHECK(pod->ready_column() == "0/2");
    CHECK(container_named(*pod, "app").state == "Waiting");
    CHECK(container_named(*pod, "app").reason == "PodInitializing");
    CHECK_FALSE(has_event(cluster, "pod/ct-pair", "Started", "Started container app"));
  }

  REQUIRE(cluster.exec("ct-pair", "helper", {"touch", "/tmp/up"}).exit_code == 0);
  REQUIRE(cluster.wait_for(pod_is(cluster, "ct-pair", [](const auto& p) { return p.ready; }), change_limit));
  const auto pod = cluster.pod("ct-pair");
  CHECK(pod->status == "Running");
  CHECK(pod->ready_column() == "2/2");
  const auto events = cluster.events_for("pod/ct-pair");
  CHECK(event_index(events, "Started", "Started container helper") <
        event_index(events, "Started", "Started container app"));

  // Termination stops the main container before the sidecar.
  cluster.stop();
  const auto after = cluster.events_for("pod/ct-pair");
  INFO(describe_events(cluster));
  REQUIRE(event_index(after, "Killing", "Stopping container app") >= 0);
  CHECK(event_index(after, "Killing", "Stopping container app") <
        event_index(after, "Killing", "Stopping container helper"));
  check_no_leftovers({"ct-pair"});
}

TEST_CASE("cluster memory hog is OOMKilled") {
  podsim::cluster cluster({.time_scale = time_scale});
  // tail keeps the whole line it reads, and /dev/zero never ends one.
  cluster.apply(parse(R"(
apiVersion: v1
kind: Pod
metadata: {name: ct-hog}
spec:
  restartPolicy: Never
  containers:
    - name: app
      command: [tail, /dev/zero]
      resources:
        limits: {memory: 32Mi}
)"));
  REQUIRE(cluster.wait_for(pod_is(cluster, "ct-hog", [](const auto& p) { return p.status == "OOMKilled"; }), start_limit));
  const auto pod = cluster.pod("ct-hog");
  REQUIRE(pod);
  CHECK(pod->phase == "Failed");
  CHECK(pod->ready_column() == "0/1");
  const auto& app = container_named(*pod, "app");
  CHECK(app.state == "Terminated");
  REQUIRE(app.terminated);
  CHECK(app.terminated->reason == "OOMKilled");
  CHECK(app.terminated->exit_code == 137);
  CHECK(app.restart_count == 0);

  stop_and_check(cluster, {"ct-hog"});
}

TEST_CASE("cluster crashing container backs off") {
  podsim::cluster cluster({.time_scale = time_scale});
  const auto start = std::chrono::steady_clock::now();
  cluster.apply(parse(R"(
apiVersion: v1
kind: Pod
metadata: {name: ct-crash}
spec:
  containers:
    - name: app
      command: [sh, -c, "exit 3"]
)"));
  REQUIRE(cluster.wait_for(pod_is(cluster, "ct-crash", [](const auto& p) { return p.status == "CrashLoopBackOff"; }),
                           start_limit));
  REQUIRE(cluster.wait_for(pod_is(cluster, "ct-crash", [](const auto& p) { return p.restarts >= 3; }), change_limit));
  // Restarts 2 and 3 waited out 10 s and 20 s of back-off at time scale 0.1.
  CHECK(std::chrono::steady_clock::now() - start >= 3s);

  const auto pod = cluster.pod("ct-crash");
  REQUIRE(pod);
  CHECK(pod->phase == "Running");
  const auto& app = container_named(*pod, "app");
  const auto& last = app.terminated ? app.terminated : app.last_termination;
  REQUIRE(last);
  CHECK(last->exit_code == 3);
  CHECK(last->reason == "Error");
  INFO(describe_events(cluster));
  CHECK(has_event(cluster, "pod/ct-crash", "BackOff",
                  "Back-off 10s (1s at time scale 0.1) before restarting failed container app"));
  CHECK(has_event(cluster, "pod/ct-crash", "BackOff",
                  "Back-off 20s (2s at time scale 0.1) before restarting failed container app"));

  stop_and_check(cluster, {"ct-crash"});
}

TEST_CASE("cluster deployment replaces deleted pod") {
  podsim::cluster cluster({.time_scale = time_scale});
  cluster.apply(parse(R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: ct-api}
spec:
  replicas: 2
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
        - name: app
          command: [sleep, "1000"]
)"));
  REQUIRE(cluster.wait_for([&] { return cluster.ready_pods("app=api") == 2; }, start_limit));
  const auto pods = cluster.pods_matching("app=api");
  REQUIRE(pods.size() == 2);
  const std::regex generated("ct-api-[bcdfghjklmnpqrstvwxz2456789]+-[bcdfghjklmnpqrstvwxz2456789]{5}");
  for (const auto& pod : pods) {
    CHECK(std::regex_match(pod.name, generated));
    CHECK(pod.owner == "ct-api");
    CHECK(pod.labels.contains("pod-template-hash"));
  }

  const std::string deleted = pods[0].name;
  REQUIRE(cluster.delete_pod(deleted));
  REQUIRE(cluster.wait_for([&] {
    const auto now = cluster.pods_matching("app=api");
    const bool gone = std::none_of(now.begin(), now.end(), [&](const auto& p) { return p.name == deleted; });
    return gone && cluster.ready_pods("app=api") == 2;
  }, change_limit));
  INFO(describe_events(cluster));
  CHECK(has_event(cluster, "pod/" + deleted, "Killing", "Stopping container app"));
  const auto events = cluster.events();
  CHECK(std::count_if(events.begin(), events.end(), [](const auto& e) { return e.reason == "SuccessfulCreate"; }) == 3);
  CHECK_FALSE(cluster.delete_pod("no-such-pod"));

  stop_and_check(cluster, {"ct-api-"});
}

TEST_CASE("cluster second podsim fails cleanly") {
  support::temp_dir dir("podsim-test");
  dir.write_file("twin.yaml", R"(
apiVersion: v1
kind: Pod
metadata: {name: ct-twin}
spec:
  terminationGracePeriodSeconds: 2
  containers:
    - name: app
      command: [sleep, "1000"]
)");
  const std::string manifest = (dir.path() / "twin.yaml").string();
  const std::string status = "127.0.0.1:" + std::to_string(support::free_port());

  support::process first({podsim_binary(), "apply", "-f", manifest, "--time-scale", "0.1", "--status", status});
  const auto get_pods = [&] {
    support::process get({podsim_binary(), "get", "pods", "--status", status});
    get.wait_for_exit(5s);
    return get.stdout_content();
  };
  REQUIRE(support::wait_until([&] { return get_pods().find("1/1     Running") != std::string::npos; }, start_limit,
                              100ms));

  support::process second({podsim_binary(), "apply", "-f", manifest, "--time-scale", "0.1", "--status",
                           "127.0.0.1:" + std::to_string(support::free_port())});
  CHECK(second.wait_for_exit(start_limit) == 1);
  INFO(second.stdout_content());
  // The runtime's message names the pod and what is in the way.
  CHECK(second.stderr_content().starts_with("podsim: pod ct-twin "));
  CHECK(second.stderr_content().find("already exists") != std::string::npos);

  // The first podsim's pod is unharmed, and `podsim get` still finds it.
  CHECK(get_pods().find("ct-twin   1/1     Running   0") != std::string::npos);
  CHECK(support::read_file("/run/podsim/status-address") == status + "\n");
  first.signal(SIGTERM);
  CHECK(first.wait_for_exit(start_limit) == 0);
  INFO(first.stdout_content());
  CHECK(first.stdout_content().find("Stopping container app") != std::string::npos);
  check_no_leftovers({"ct-twin"});
}

TEST_CASE("cluster scrapes annotated pods") {
  support::temp_dir dir("podsim-test");
  const auto file_sd = dir.path() / "targets.json";
  const std::string metrics_pod = R"(
---
apiVersion: v1
kind: ConfigMap
metadata: {name: pages}
data:
  good: |
    # HELP demo_up Whether the demo runs.
    # TYPE demo_up gauge
    demo_up{pod="a"} 1
  bad: |
    # TYPE demo_up gauge
    demo_up{pod="a" 1
---
apiVersion: v1
kind: Pod
metadata:
  name: ct-metrics-good
  annotations: {prometheus.io/scrape: "true", prometheus.io/port: "8080", prometheus.io/path: /good}
spec:
  terminationGracePeriodSeconds: 2
  containers:
    - name: nginx
      command: [/usr/sbin/nginx, -c, /etc/web/nginx.conf, -p, /tmp/]
      volumeMounts:
        - {name: pages, mountPath: /www}
        - {name: config, mountPath: /etc/web}
  volumes:
    - {name: pages, configMap: {name: pages}}
    - {name: config, configMap: {name: nginx}}
---
apiVersion: v1
kind: Pod
metadata:
  name: ct-metrics-bad
  annotations: {prometheus.io/scrape: "true", prometheus.io/port: "8080", prometheus.io/path: /bad}
spec:
  terminationGracePeriodSeconds: 2
  containers:
    - name: nginx
      command: [/usr/sbin/nginx, -c, /etc/web/nginx.conf, -p, /tmp/]
      volumeMounts:
        - {name: pages, mountPath: /www}
        - {name: config, mountPath: /etc/web}
  volumes:
    - {name: pages, configMap: {name: pages}}
    - {name: config, configMap: {name: nginx}}
)";
  podsim::cluster cluster({.time_scale = time_scale, .file_sd_path = file_sd, .scrape_interval = 200ms});
  cluster.apply(parse(nginx_config_map + metrics_pod));

  const auto scrape_of = [&](const std::string& pod) -> std::optional<podsim::scrape_result> {
    for (const auto& s : cluster.scrapes()) {
      if (s.pod == pod && s.scrapes > 0 && (s.up || s.error.find("invalid exposition") != std::string::npos)) return s;
    }
    return std::nullopt;
  };
  REQUIRE(cluster.wait_for([&] { return scrape_of("ct-metrics-good") && scrape_of("ct-metrics-bad"); }, start_limit));

  const auto good = *scrape_of("ct-metrics-good");
  CHECK(good.up);
  CHECK(good.error.empty());
  REQUIRE(good.samples.size() == 1);
  CHECK(good.samples[0].name == "demo_up");
  CHECK(good.samples[0].labels == std::vector<std::pair<std::string, std::string>>{{"pod", "a"}});
  CHECK(good.samples[0].value == 1);
  const auto ip = cluster.pod("ct-metrics-good")->ip;
  CHECK(good.url == "http://" + ip + ":8080/good");

  const auto bad = *scrape_of("ct-metrics-bad");
  CHECK_FALSE(bad.up);
  CHECK(bad.error == "invalid exposition: line 2: expected ',' or '}' in the labels of demo_up");
  CHECK(bad.samples.empty());

  // The file_sd file lists both pods for a real Prometheus.
  const std::string targets = support::read_file(file_sd);
  CHECK(targets.find("{\"targets\": [\"" + ip + ":8080\"], \"labels\": {\"__metrics_path__\": \"/good\", "
                     "\"namespace\": \"default\", \"pod\": \"ct-metrics-good\"}}") != std::string::npos);
  CHECK(targets.find("\"pod\": \"ct-metrics-bad\"") != std::string::npos);

  // A deleted pod leaves the file.
  REQUIRE(cluster.delete_pod("ct-metrics-bad"));
  REQUIRE(cluster.wait_for([&] { return support::read_file(file_sd).find("ct-metrics-bad") == std::string::npos; },
                           change_limit));
  stop_and_check(cluster, {"ct-metrics-good", "ct-metrics-bad"});
  CHECK_FALSE(std::filesystem::exists(file_sd));
}

TEST_CASE("cluster rejects a busy service port") {
  const std::uint16_t port = support::free_port();
  podsim::cluster first({.time_scale = time_scale, .service_host_ports = {{8080, port}}});
  podsim::cluster second({.time_scale = time_scale, .service_host_ports = {{8080, port}}});
  const std::string manifest = R"(
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 8080}]
)";
  first.apply(parse(manifest));
  try {
    second.apply(parse(manifest + "---\n" + nginx_config_map + web_pod("ct-web-a")));
    FAIL("apply succeeded on a busy port");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()) == "service web: port 8080: listening on 127.0.0.1:" + std::to_string(port) +
                                       " failed: Address already in use");
  }
  // Nothing of the failed set was started.
  CHECK(second.pods().empty());
  CHECK(leftovers_of({"ct-web-a"}).empty());
  second.stop();
  first.stop();
}

TEST_CASE("cluster runs the demo manifest") {
  std::string manifest = support::read_file(std::string(SIDECAR_SOURCE_DIR) + "/deploy/examples/demo.yaml");
  REQUIRE_FALSE(manifest.empty());
  const std::string placeholder = "@SIDECAR_DIR@";
  REQUIRE(manifest.find(placeholder) != std::string::npos);
  for (auto at = manifest.find(placeholder); at != std::string::npos; at = manifest.find(placeholder)) {
    manifest.replace(at, placeholder.size(), std::string(SIDECAR_BIN_DIR));
  }

  const std::uint16_t service_port = support::free_port();
  podsim::cluster cluster({.time_scale = time_scale, .scrape_interval = 300ms, .service_host_ports = {{8080, service_port}}});
  cluster.apply(parse(manifest));
  const bool ready = cluster.wait_for([&] { return cluster.ready_pods("app=demo") == 2; }, start_limit);
  INFO(describe_events(cluster));
  REQUIRE(ready);
  const auto pods = cluster.pods_matching("app=demo");
  REQUIRE(pods.size() == 2);
  for (const auto& pod : pods) {
    CHECK(pod.ready_column() == "2/2");
    CHECK(pod.status == "Running");
  }
  const auto front = support::http_get(service_port, "/");
  CHECK(front.status == 200);
  CHECK(front.body.starts_with("demo app "));

  // The built-in scraper reads each sidecar's /metrics.
  REQUIRE(cluster.wait_for([&] {
    const auto scrapes = cluster.scrapes();
    return scrapes.size() == 2 && std::all_of(scrapes.begin(), scrapes.end(), [](const auto& s) { return s.up; });
  }, change_limit));

  // value 4 in one pod's status file takes that pod out of the Service.
  const auto& failing = pods[0];
  const auto& serving = pods[1];
  const auto status_file = failing.volume_paths.at("www") / "status.json";
  support::write_file_atomically(status_file, R"({"value": 4})");
  REQUIRE(cluster.wait_for([&] { return endpoint_pods(cluster, "demo") == std::vector<std::string>{serving.name}; },
                           change_limit));
  CHECK(has_event(cluster, "pod/" + failing.name, "Unhealthy", "Readiness probe failed: GET http://" + failing.ip));
  for (int i = 0; i < 4; ++i) CHECK(support::http_get(service_port, "/").status == 200);
  CHECK(cluster.pod(failing.name)->ready_column() == "1/2");

  support::write_file_atomically(status_file, R"({"value": 5})");
  REQUIRE(cluster.wait_for([&] { return endpoint_pods(cluster, "demo").size() == 2; }, change_limit));

  stop_and_check(cluster, {failing.name, serving.name});
}

TEST_CASE("cluster HTTP probes follow kubelet rules") {
  // nginx serves the cases; each probing container only sleeps, and its
  // readiness probe asks nginx on the pod's address.
  const std::string big_body(20 * 1024, 'x');
  const auto probe = [](const std::string& container, const std::string& handler) {
    return "    - name: " + container + "\n      command: [sleep, \"1000\"]\n      readinessProbe:\n        " + handler +
           "\n        periodSeconds: 1\n        failureThreshold: 1\n        timeoutSeconds: 20\n";
  };
  const std::string manifest = R"(
apiVersion: v1
kind: ConfigMap
metadata: {name: cases}
data:
  big: )" + big_body + R"(
  nginx.conf: |
    daemon off;
    master_process off;
    pid /tmp/nginx.pid;
    error_log stderr warn;
    events { worker_connections 64; }
    http {
      access_log off;
      client_body_temp_path /tmp/client_body;
      proxy_temp_path /tmp/proxy;
      fastcgi_temp_path /tmp/fastcgi;
      uwsgi_temp_path /tmp/uwsgi;
      scgi_temp_path /tmp/scgi;
      server {
        listen 8080;
        root /cases;
        location = /ok { return 200 "ok\n"; }
        location = /same-host { return 302 /ok; }
        location = /other-host { return 302 http://127.0.0.2:8080/ok; }
        location = /loop { return 302 /loop; }
        location = /no-location { return 399; }
        location = /headers {
          if ($http_user_agent !~ "^kube-probe/1\.[0-9]+$") { return 500; }
          if ($http_accept != "*/*") { return 500; }
          if ($http_x_case != "yes") { return 500; }
          return 200;
        }
      }
    }
---
apiVersion: v1
kind: Pod
metadata: {name: ct-probes}
spec:
  terminationGracePeriodSeconds: 2
  containers:
    - name: nginx
      command: [/usr/sbin/nginx, -c, /cases/nginx.conf, -p, /tmp/]
      volumeMounts: [{name: cases, mountPath: /cases}]
)" + probe("same-host", "httpGet: {path: /same-host, port: 8080}") +
                               probe("other-host", "httpGet: {path: /other-host, port: 8080}") +
                               probe("loop", "httpGet: {path: /loop, port: 8080}") +
                               probe("no-location", "httpGet: {path: /no-location, port: 8080}") +
                               probe("big-body", "httpGet: {path: /big, port: 8080}") +
                               probe("headers", "httpGet: {path: /headers, port: 8080, httpHeaders: [{name: X-Case, value: \"yes\"}]}") +
                               probe("tcp-open", "tcpSocket: {port: 8080}") + probe("tcp-closed", "tcpSocket: {port: 8081}") + R"(
  volumes: [{name: cases, configMap: {name: cases}}]
)";
  podsim::cluster cluster({.time_scale = time_scale});
  cluster.apply(parse(manifest));

  const auto ready = [&](const std::string& name) { return container_named(*cluster.pod("ct-probes"), name).ready; };
  // Every probe has had a few periods, and the loop's failure has been seen.
  REQUIRE(cluster.wait_for([&] {
    return cluster.pod("ct-probes") && ready("same-host") && ready("tcp-open") &&
           has_event(cluster, "pod/ct-probes", "Unhealthy", "stopped after 10 redirects") &&
           has_event(cluster, "pod/ct-probes", "Unhealthy", ":8081: Connection refused");
  }, start_limit));
  const bool all_ready = cluster.wait_for(
      [&] { return ready("other-host") && ready("no-location") && ready("big-body") && ready("headers"); }, change_limit);
  INFO(describe_events(cluster));
  REQUIRE(all_ready);
  CHECK_FALSE(ready("loop"));
  CHECK_FALSE(ready("tcp-closed"));

  const std::string ip = cluster.pod("ct-probes")->ip;
  CHECK(has_event(cluster, "pod/ct-probes", "Unhealthy",
                  "Readiness probe failed: GET http://" + ip + ":8080/loop: stopped after 10 redirects"));
  CHECK(has_event(cluster, "pod/ct-probes", "ProbeWarning",
                  "Readiness probe warning: GET http://" + ip +
                      ":8080/other-host: redirect to another host (http://127.0.0.2:8080/ok) not followed, counted as "
                      "success"));
  CHECK(has_event(cluster, "pod/ct-probes", "ProbeWarning",
                  "Readiness probe warning: GET http://" + ip +
                      ":8080/no-location: HTTP status 399 without a redirect to follow, counted as success"));
  CHECK(has_event(cluster, "pod/ct-probes", "Unhealthy",
                  "Readiness probe failed: connect to " + ip + ":8081: Connection refused"));
  // Probes that ran before nginx listened were refused; none saw a wrong answer.
  CHECK_FALSE(has_event(cluster, "pod/ct-probes", "Unhealthy", "/headers: HTTP status"));
  CHECK_FALSE(has_event(cluster, "pod/ct-probes", "Unhealthy", "/big: HTTP status"));
  CHECK_FALSE(has_event(cluster, "pod/ct-probes", "Unhealthy", "/big: reading the body"));

  stop_and_check(cluster, {"ct-probes"});
}

TEST_CASE("cluster file_sd feeds a real Prometheus") {
  support::temp_dir dir("podsim-test");
  const auto file_sd = dir.path() / "targets.json";
  podsim::cluster cluster({.time_scale = time_scale, .file_sd_path = file_sd});
  cluster.apply(parse(nginx_config_map + R"(
---
apiVersion: v1
kind: ConfigMap
metadata: {name: page}
data:
  metrics: |
    # TYPE demo_value gauge
    demo_value 5
---
apiVersion: v1
kind: Pod
metadata:
  name: ct-scraped
  annotations: {prometheus.io/scrape: "true", prometheus.io/port: "8080"}
spec:
  terminationGracePeriodSeconds: 2
  containers:
    - name: nginx
      command: [/usr/sbin/nginx, -c, /etc/web/nginx.conf, -p, /tmp/]
      volumeMounts:
        - {name: page, mountPath: /www}
        - {name: config, mountPath: /etc/web}
  volumes:
    - {name: page, configMap: {name: page}}
    - {name: config, configMap: {name: nginx}}
)"));
  REQUIRE(cluster.wait_for([&] { return support::read_file(file_sd).find("ct-scraped") != std::string::npos; },
                           start_limit));

  const std::uint16_t prometheus_port = support::free_port();
  dir.write_file("prometheus.yml", "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
                                   "scrape_configs:\n"
                                   "  - job_name: pods\n"
                                   "    file_sd_configs: [{files: [" + file_sd.string() + "], refresh_interval: 1s}]\n");
  support::process prometheus({"/usr/bin/prometheus", "--config.file=" + (dir.path() / "prometheus.yml").string(),
                               "--storage.tsdb.path=" + (dir.path() / "data").string(),
                               "--web.listen-address=127.0.0.1:" + std::to_string(prometheus_port)});
  const auto query = [&](const std::string& expr) {
    return support::http_get(prometheus_port, "/api/v1/query?query=" + support::url_encode(expr), 5s).body;
  };
  // The pod's labels from the file reach the series, and so does its value.
  const bool scraped = support::wait_until(
      [&] { return query("demo_value{job=\"pods\",pod=\"ct-scraped\",namespace=\"default\"}").find("\"5\"") != std::string::npos; },
      30s, 200ms);
  INFO(support::last_lines(prometheus.stderr_content(), 20));
  CHECK(scraped);
  CHECK(prometheus.stop(SIGTERM, 10s) == 0);

  stop_and_check(cluster, {"ct-scraped"});
}
