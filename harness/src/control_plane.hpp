#pragma once

// The state of a running cluster and the coroutines that drive it. Everything
// here lives on the cluster's io_context thread; blocking runtime calls go to
// the thread pool through run_blocking() and resume on that thread.
//
// The member functions of control_plane are defined by topic, in these files.
//   control_plane.cpp   events, objects, Deployments, views, stop
//   pod_lifecycle.cpp   a pod's containers from start to termination
//   probing.cpp         readiness, liveness and startup probes
//   service_proxy.cpp   the TCP proxy of each Service port
//   scraper.cpp         Prometheus scrapes and the file_sd targets file
//   status_api.cpp      the JSON and text status API

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "podsim/cluster.hpp"
#include "podsim/manifest.hpp"
#include "podsim/runtime.hpp"
#include "sidecar/asio.hpp"
#include "sidecar/http_client.hpp"
#include "sidecar/http_server.hpp"
#include "sidecar/log.hpp"

namespace podsim::detail {

namespace asio = sidecar::asio;
using steady_clock = std::chrono::steady_clock;
using system_clock = std::chrono::system_clock;

// Runs `work` on `pool` and resumes the caller on its own executor with the
// result, or with the exception `work` threw.
//
// NOTE: pass a named lambda. g++ 12 destroys a temporary twice when it is
// written inside a co_await expression, so `co_await run_blocking(pool, [] {
// ... })` frees the captures twice.
template <typename Work>
asio::awaitable<std::invoke_result_t<Work>> run_blocking(asio::thread_pool& pool, Work work) {
  using result = std::invoke_result_t<Work>;
  auto on_pool = [work = std::move(work)]() mutable -> asio::awaitable<result> { co_return work(); };
  co_return co_await asio::co_spawn(pool.get_executor(), std::move(on_pool), asio::use_awaitable);
}

// Wakes the coroutines waiting for some state to change. Waiters recheck
// their condition after each wake-up, so a spurious wake-up is harmless.
class state_signal {
 public:
  explicit state_signal(asio::any_io_executor executor) : executor_(std::move(executor)) {}
  void notify();
  // Returns at the next notify() or at `deadline`, whichever comes first.
  asio::awaitable<void> wait_until(steady_clock::time_point deadline);

 private:
  asio::any_io_executor executor_;
  std::set<asio::steady_timer*> waiters_;
};

// The kubelet's constants, before the time scale applies.
inline constexpr std::chrono::seconds initial_backoff{10};
inline constexpr std::chrono::seconds max_backoff{300};
// The back-off starts over once a container has run this long since its last restart.
inline constexpr std::chrono::seconds backoff_reset{600};
// The kubelet never gives a container less than this to stop after SIGTERM.
inline constexpr std::chrono::seconds minimum_grace{2};
// How often a running container's process is checked for an exit.
inline constexpr std::chrono::milliseconds exit_poll{25};

struct container_state {
  const container_spec* spec = nullptr;  // points into pod_state::object.spec
  container_status status;               // the public view, kept current

  // The current run, while one exists.
  std::shared_ptr<container> process;
  std::uint64_t run = 0;  // counts runs; probes of an older run stop
  bool running = false;   // started and not yet seen exiting

  // The crash-loop back-off, as the kubelet keeps it per container.
  std::optional<steady_clock::duration> backoff;
  steady_clock::time_point backoff_updated;

  // Requests to the run: a probe that wants a restart names itself
  // ("liveness", "startup"); termination sets stop_requested.
  std::optional<std::string> restart_request;
  bool stop_requested = false;
  steady_clock::time_point stop_deadline;
  bool loop_done = false;  // its run loop has returned
};

struct pod_state {
  explicit pod_state(asio::any_io_executor executor) : changed(std::move(executor)) {}

  pod_object object;
  std::string owner;  // the Deployment, for replicas
  std::shared_ptr<pod_sandbox> sandbox;
  std::string ip;
  system_clock::time_point created;
  std::string phase = "Pending";
  bool initialized = false;  // every regular init container completed
  bool terminating = false;  // deletion or cluster stop requested
  steady_clock::time_point deletion_deadline;
  bool removed = false;  // sandbox gone
  std::vector<std::unique_ptr<container_state>> init_containers;
  std::vector<std::unique_ptr<container_state>> containers;
  std::map<std::string, std::filesystem::path> volume_paths;
  int blocking_calls = 0;  // runtime calls in flight on the pool that use the sandbox
  state_signal changed;

  container_state* find_container(const std::string& name);
};

struct service_port_state {
  service_port spec;
  std::uint16_t host_port = 0;
  std::unique_ptr<asio::ip::tcp::acceptor> acceptor;
  std::size_t next_endpoint = 0;  // round-robin position
};

struct service_state {
  service_object object;
  std::vector<std::unique_ptr<service_port_state>> ports;
};

struct deployment_state {
  deployment_object object;
  std::string replica_set;  // NAME-<pod template hash>
  std::string template_hash;
  bool scaled_up = false;
};

struct probe_outcome {
  enum class result { success, warning, failure };
  result value = result::failure;
  std::string output;
};

class control_plane {
 public:
  control_plane(asio::io_context& io, asio::thread_pool& pool, const cluster_options& options);
  ~control_plane();

  // --- Objects (control_plane.cpp) ---

  // Objects of a set, checked and ready to start: apply() makes the
  // sandboxes between prepare() and commit(), off the io thread.
  struct prepared_set {
    manifest_set set;
    std::vector<pod_object> pods;          // Pods, and the replicas of Deployments
    std::vector<std::string> pod_owners;   // for each pod: its Deployment or ""
    std::vector<std::unique_ptr<service_state>> services;
    std::vector<deployment_state> deployments;
  };
  // Checks `set` against what runs, reserves its pod names and binds its
  // Service ports. Throws std::runtime_error naming the problem.
  prepared_set prepare(manifest_set set);
  // Starts what prepare() checked, with one sandbox per pod.
  void commit(prepared_set prepared, std::vector<std::shared_ptr<pod_sandbox>> sandboxes);
  // Releases the names of a set whose sandboxes could not all be made.
  void abandon(prepared_set& prepared);

  bool delete_pod(const std::string& name);
  // Starts terminating every pod and closes the proxies, the scraper and the
  // status API. stopped() returns true once every sandbox is gone.
  void begin_stop();
  bool stopped() const;

  void record_event(const std::string& type, const std::string& reason, const std::string& object,
                    const std::string& message);
  const std::deque<event>& events() const { return events_; }

  // --- Views (control_plane.cpp) ---

  pod_status view(const pod_state& pod) const;
  std::vector<pod_status> pod_views() const;
  std::vector<service_status> service_views() const;
  std::vector<scrape_result> scrape_views() const;
  const std::map<std::string, std::shared_ptr<pod_state>>& pods() const { return pods_; }

  // --- Pods (pod_lifecycle.cpp) ---

  asio::awaitable<void> run_pod(std::shared_ptr<pod_state> pod);
  asio::awaitable<exec_result> exec(std::string pod, std::string container, std::vector<std::string> argv,
                                    std::chrono::milliseconds timeout);

  // --- Probes (probing.cpp) ---

  asio::awaitable<void> run_probe_loop(std::shared_ptr<pod_state> pod, container_state& c, std::uint64_t run,
                                       std::string kind);
  asio::awaitable<probe_outcome> run_probe_once(std::shared_ptr<pod_state> pod, container_state& c,
                                                const probe_spec& probe);
  // An HTTP GET as the kubelet sends it, for probes and preStop hooks.
  asio::awaitable<probe_outcome> http_get(const std::string& host, int port, const std::string& path,
                                          const std::vector<std::pair<std::string, std::string>>& headers,
                                          steady_clock::duration timeout);

  // --- Services (service_proxy.cpp) ---

  // Binds the proxy port of each port of `service`; throws when one is busy.
  void bind_service(service_state& service);
  void start_service(service_state& service);
  std::vector<service_endpoint> endpoints(const service_state& service, const service_port_state& port) const;

  // --- Scraper (scraper.cpp) ---

  asio::awaitable<void> run_scraper();
  // Rewrites the file_sd file when the set of scrape targets changed.
  void update_file_sd();

  // --- Status API (status_api.cpp) ---

  void start_status_api();
  std::string status_address() const { return status_address_; }

  // --- Shared helpers ---

  // A duration of the manifests or the kubelet, multiplied by the time scale.
  steady_clock::duration scaled(steady_clock::duration nominal) const;
  // "10s", or "10s (1s at time scale 0.1)".
  std::string describe_scaled(std::chrono::milliseconds nominal) const;
  asio::any_io_executor executor() const { return executor_; }
  asio::thread_pool& pool() { return pool_; }
  const cluster_options& options() const { return options_; }
  const std::string& node_name() const { return node_name_; }

 private:
  // pod_lifecycle.cpp
  asio::awaitable<void> prepare_volumes(std::shared_ptr<pod_state> pod);
  asio::awaitable<bool> run_init_containers(std::shared_ptr<pod_state> pod);
  asio::awaitable<void> run_container_loop(std::shared_ptr<pod_state> pod, container_state& c);
  asio::awaitable<std::optional<exit_info>> run_container_once(std::shared_ptr<pod_state> pod, container_state& c);
  asio::awaitable<bool> start_process(std::shared_ptr<pod_state> pod, container_state& c);
  asio::awaitable<exit_info> watch_process(std::shared_ptr<pod_state> pod, container_state& c);
  asio::awaitable<exit_info> kill_process(std::shared_ptr<pod_state> pod, container_state& c,
                                          steady_clock::time_point deadline);
  asio::awaitable<void> run_pre_stop(std::shared_ptr<pod_state> pod, container_state& c,
                                     steady_clock::duration budget);
  asio::awaitable<void> release_process(std::shared_ptr<pod_state> pod, container_state& c);
  asio::awaitable<bool> wait_for_backoff(std::shared_ptr<pod_state> pod, container_state& c);
  asio::awaitable<void> terminate_pod(std::shared_ptr<pod_state> pod);
  asio::awaitable<void> stop_containers(std::shared_ptr<pod_state> pod,
                                        const std::vector<container_state*>& containers,
                                        steady_clock::time_point deadline);
  asio::awaitable<void> remove_sandbox(std::shared_ptr<pod_state> pod);
  container_options make_container_options(const pod_state& pod, const container_state& c) const;
  bool should_restart(const pod_state& pod, const container_state& c, const exit_info& exit) const;
  void update_phase(pod_state& pod);
  void set_waiting(container_state& c, std::string reason, std::string message = {});

  // control_plane.cpp
  std::shared_ptr<pod_state> make_pod(pod_object object, std::string owner, std::shared_ptr<pod_sandbox> sandbox);
  void start_pod(std::shared_ptr<pod_state> pod);
  void on_pod_removed(const pod_state& pod);
  asio::awaitable<void> run_deployment(std::string name);
  asio::awaitable<void> create_replica(std::string deployment);
  pod_object make_replica(const deployment_state& deployment) const;
  void check_new_objects(const manifest_set& set) const;
  void check_stopped();

  // service_proxy.cpp
  asio::awaitable<void> accept_connections(service_state& service, service_port_state& port);
  asio::awaitable<void> proxy_connection(asio::ip::tcp::socket client, service_state& service,
                                         service_port_state& port);

  // scraper.cpp
  asio::awaitable<void> scrape(std::string pod, std::string url);

  asio::any_io_executor executor_;
  asio::thread_pool& pool_;
  cluster_options options_;
  std::string node_name_;
  sidecar::logger log_;

  std::map<std::string, std::shared_ptr<pod_state>> pods_;  // by name; names are unique across namespaces
  std::set<std::string> reserved_pod_names_;                 // between prepare() and commit()
  std::map<std::string, std::unique_ptr<service_state>> services_;  // by "namespace/name"
  std::map<std::string, deployment_state> deployments_;             // by "namespace/name"
  std::map<std::string, config_map_object> config_maps_;           // by "namespace/name"
  std::deque<event> events_;
  std::set<std::shared_ptr<asio::ip::tcp::socket>> proxied_sockets_;
  state_signal deployments_changed_;

  std::unique_ptr<sidecar::http::client> scrape_client_;
  std::map<std::string, scrape_result> scrapes_;  // by pod name
  std::set<std::string> scrapes_in_flight_;
  std::string file_sd_content_;
  std::unique_ptr<asio::steady_timer> scrape_timer_;

  std::unique_ptr<sidecar::http::server> status_server_;
  std::string status_address_;

  bool stopping_ = false;
  bool stopped_ = false;
};

// The STATUS column of `kubectl get pods`, with kubectl's rules.
std::string pod_status_column(const pod_status& pod);

// Text renderings served by the status API and printed by the CLI.
std::string render_pod_table(const std::vector<pod_status>& pods, bool wide);
std::string render_pod_description(const pod_status& pod, const pod_spec& spec, const std::vector<event>& events,
                                   const std::string& node);
std::string render_event_table(const std::vector<event>& events);
std::string render_service_table(const std::vector<service_status>& services);

}  // namespace podsim::detail
