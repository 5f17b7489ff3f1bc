#pragma once

// podsim's control plane: what a kubelet, kube-proxy and the Deployment
// controller do for manifests, on one machine, for one process. Needs root.
//
//   podsim::cluster cluster({.time_scale = 0.1});
//   cluster.apply_files({"deploy/examples/demo.yaml"});
//   REQUIRE(cluster.wait_for([&] { return cluster.ready_pods("app=demo") == 2; }, 20s));
//   auto port = cluster.service_host_port("demo", 8080);  // a TCP proxy on 127.0.0.1
//   ...
//   cluster.stop();  // the destructor does it too, so a failed REQUIRE cleans up
//
// Pods run as podsim::pod_sandbox and podsim::container objects (runtime.hpp).
// The control plane runs on a thread of its own with an Asio io_context.
// Blocking runtime calls (start, stop, exec) run on a small thread pool. The
// public member functions are thread-safe: they run on that thread and wait
// for it. docs/harness.md lists what is reproduced of Kubernetes and what is
// not.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "podsim/exposition.hpp"
#include "podsim/manifest.hpp"
#include "podsim/runtime.hpp"

namespace podsim {

// An event as `kubectl get events` shows it. Repeats of an event with the same
// object, type, reason and message are counted in one entry, as the
// Kubernetes event recorder aggregates them.
struct event {
  std::string type;     // "Normal" or "Warning"
  std::string reason;   // Scheduled, Pulled, Created, Started, Unhealthy, Killing, BackOff, ...
  std::string object;   // "pod/web-0", "deployment/web", "replicaset/web-6d8f9c7b5"
  std::string message;
  int count = 1;
  std::chrono::system_clock::time_point first_seen;
  std::chrono::system_clock::time_point last_seen;
};

// Every member has an initializer so that designated initializers may leave
// any of them out.
struct cluster_options {
  // Multiplies every duration that the manifests and the kubelet define:
  // probe delays, periods and timeouts, grace periods and the crash-loop
  // back-off. 0.1 runs ten times faster. Must be positive.
  double time_scale = 1.0;
  // Warn about unsupported manifest fields in place of failing on them.
  bool ignore_unsupported = false;
  // host:port of the JSON status API, port 0 for any free port; empty for none.
  std::string status_listen{};
  // A Prometheus file_sd targets file, rewritten atomically as scraped pods
  // come and go; empty for none.
  std::filesystem::path file_sd_path{};
  // How often the built-in scraper scrapes pods annotated
  // prometheus.io/scrape: "true". Real time: the time scale does not apply.
  std::chrono::milliseconds scrape_interval{15000};
  // Host port of each Service port, for tests that must avoid fixed ports:
  // Service port -> host port, 0 for any free port. A Service port without
  // an entry listens on the same port number.
  std::map<int, std::uint16_t> service_host_ports{};
  // Where pod sandboxes keep their state; empty for the runtime's default.
  std::filesystem::path state_root{};
  // Called on the cluster's thread for each new event and each repeat.
  // It must not call back into the cluster.
  std::function<void(const event&)> on_event{};
};

struct termination_status {
  std::string reason;  // Completed, Error, OOMKilled, StartError
  int exit_code = 0;
  int signal = 0;
  std::string message;
  std::chrono::system_clock::time_point started_at;
  std::chrono::system_clock::time_point finished_at;
};

struct container_status {
  enum class role { init, sidecar, main };

  std::string name;
  role kind = role::main;
  std::string state = "Waiting";  // Waiting, Running or Terminated
  // Why it waits (ContainerCreating, PodInitializing, CrashLoopBackOff) or
  // how it ended (one of termination_status::reason).
  std::string reason;
  std::string message;
  std::optional<termination_status> terminated;       // when state is Terminated
  std::optional<termination_status> last_termination;  // the run before this one
  bool ready = false;
  // False until the startup probe succeeds; true while running without one.
  bool started = false;
  int restart_count = 0;
  std::chrono::system_clock::time_point started_at;  // of the current run
  pid_t pid = 0;                                      // host PID while running
};

struct pod_status {
  std::string name;
  std::string namespace_name;
  std::string owner;  // the Deployment of a replica, else empty
  std::string phase;  // Pending, Running, Succeeded or Failed
  // The STATUS column of `kubectl get pods`: Running, Pending, Init:1/2,
  // CrashLoopBackOff, OOMKilled, Error, Completed, Terminating, ...
  std::string status;
  int ready_containers = 0;
  int total_containers = 0;  // main containers and native sidecars
  int restarts = 0;
  std::optional<std::chrono::system_clock::time_point> last_restart;
  std::chrono::system_clock::time_point created;
  std::string ip;
  bool ready = false;  // the Ready condition: every container ready
  bool terminating = false;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::vector<container_status> init_containers;
  std::vector<container_status> containers;
  // Host directory of each volume, by volume name.
  std::map<std::string, std::filesystem::path> volume_paths;

  // "1/2", as the READY column shows it.
  std::string ready_column() const;
};

struct service_endpoint {
  std::string pod;
  std::string ip;
  int port = 0;
};

struct service_port_status {
  std::string name;
  int port = 0;
  port_ref target_port = 0;
  std::uint16_t host_port = 0;  // the proxy's port on 127.0.0.1
  // Ready pods that new connections are balanced over, in round-robin order.
  std::vector<service_endpoint> endpoints;
};

struct service_status {
  std::string name;
  std::string namespace_name;
  std::map<std::string, std::string> selector;
  std::vector<service_port_status> ports;
};

// The latest scrape of one target.
struct scrape_result {
  std::string pod;
  std::string url;  // http://10.213.0.2:9090/metrics
  int scrapes = 0;  // attempts so far
  int failures = 0;
  bool up = false;  // the latest attempt fetched and parsed the page
  std::string error;  // why the latest attempt failed
  std::chrono::system_clock::time_point time;
  std::chrono::milliseconds duration{0};
  std::vector<metric_sample> samples;
};

class cluster {
 public:
  // Starts the control plane thread and, when asked, the status API.
  // Throws std::runtime_error when the status address cannot be bound.
  explicit cluster(cluster_options options = {});
  // Calls stop().
  ~cluster();
  cluster(const cluster&) = delete;
  cluster& operator=(const cluster&) = delete;

  // Runs every object of `set`. Pods and Deployments start at once, and
  // their sandboxes are made before this returns. Throws std::runtime_error,
  // and leaves nothing of `set` behind, when:
  //   - an object of that kind and name exists already,
  //   - a config map volume names a missing config map,
  //   - a Service port cannot be bound,
  //   - a sandbox cannot be made, as when another podsim runs a pod of the same name.
  void apply(const manifest_set& set);
  // Parses the files (manifest_error on a problem) and applies all their
  // objects as one set. Returns the warnings of --ignore-unsupported.
  std::vector<std::string> apply_files(const std::vector<std::filesystem::path>& files);

  std::vector<pod_status> pods() const;
  std::optional<pod_status> pod(const std::string& name) const;
  // Pods whose labels contain every "key=value" of the comma-separated `selector`.
  std::vector<pod_status> pods_matching(const std::string& selector) const;
  // How many of those are ready.
  int ready_pods(const std::string& selector) const;
  std::vector<event> events() const;
  // Events about one object, such as "pod/web-0".
  std::vector<event> events_for(const std::string& object) const;
  std::vector<service_status> services() const;
  // The port on 127.0.0.1 that proxies `port` of the Service, if it exists.
  std::optional<std::uint16_t> service_host_port(const std::string& service, int port) const;
  std::vector<scrape_result> scrapes() const;

  // Polls `condition` until it returns true (true) or `timeout` passes (false).
  bool wait_for(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll = std::chrono::milliseconds(20)) const;

  // Deletes a pod as `kubectl delete pod` does: preStop hooks, SIGTERM, the
  // grace period, SIGKILL, then the sandbox goes. A Deployment replaces its
  // replica at once. Returns false when no such pod exists.
  bool delete_pod(const std::string& name);
  // Runs `argv` in a running container, as `kubectl exec` does. Throws
  // std::runtime_error when the pod or container does not exist or does not run.
  exec_result exec(const std::string& pod, const std::string& container, const std::vector<std::string>& argv,
                   std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // "127.0.0.1:10250", or empty without a status API.
  std::string status_address() const;
  const cluster_options& options() const;

  // Stops every pod as deletion does (main containers first, then native
  // sidecars in reverse order), removes their sandboxes, closes the Service
  // proxies, the scraper and the status API, and joins the thread. Waits for
  // the grace periods. Safe to call twice.
  void stop();

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

// kubectl's way of writing an age: 45s, 3m12s, 5h, 2d3h.
std::string format_age(std::chrono::system_clock::duration age);

// One line of `kubectl get events --watch`, with fixed column widths, after
// the header line when `header` is true.
std::string format_event_row(const event& e, bool header);

}  // namespace podsim
