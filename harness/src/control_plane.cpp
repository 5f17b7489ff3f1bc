// The objects of a running cluster: applying a set, events, the Deployment
// controller, the public views and the orderly stop.

#include "control_plane.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <random>
#include <sstream>
#include <stdexcept>

#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "sidecar/duration.hpp"

namespace podsim::detail {
namespace {

// Events kept in memory; past this the oldest are dropped. The API server
// drops events by age instead (its --event-ttl, one hour by default).
constexpr std::size_t max_events = 5000;

std::string key_of(const object_meta& meta) { return meta.namespace_name + "/" + meta.name; }

std::string machine_name() {
  std::array<char, 256> name{};
  if (gethostname(name.data(), name.size() - 1) != 0 || name[0] == '\0') return "localhost";
  return name.data();
}

// The alphabet Kubernetes uses for generated name suffixes: no vowels, so no
// words, and no characters that look alike.
constexpr std::string_view name_alphabet = "bcdfghjklmnpqrstvwxz2456789";

// FNV-1a over the parts of a pod template that make one template differ from
// another, written with the alphabet above, as the pod-template-hash label is.
std::string template_hash(const deployment_object& deployment) {
  std::uint32_t hash = 2166136261u;
  const auto add = [&](std::string_view text) {
    for (const char c : text) {
      hash ^= static_cast<unsigned char>(c);
      hash *= 16777619u;
    }
    hash ^= 0xff;
    hash *= 16777619u;
  };
  add(deployment.meta.name);
  for (const auto& [key, value] : deployment.template_meta.labels) add(key + "=" + value);
  const auto add_containers = [&](const std::vector<container_spec>& containers) {
    for (const auto& c : containers) {
      add(c.name);
      add(c.image);
      for (const auto& word : c.command) add(word);
      for (const auto& word : c.args) add(word);
      for (const auto& [name, value] : c.env) add(name + "=" + value);
    }
  };
  add_containers(deployment.template_spec.init_containers);
  add_containers(deployment.template_spec.containers);

  std::string text;
  for (const char digit : std::to_string(hash)) text += name_alphabet[static_cast<std::size_t>(digit) % name_alphabet.size()];
  return text;
}

std::string random_suffix() {
  static thread_local std::mt19937 generator{std::random_device{}()};
  std::uniform_int_distribution<std::size_t> pick(0, name_alphabet.size() - 1);
  std::string suffix;
  for (int i = 0; i < 5; ++i) suffix += name_alphabet[pick(generator)];
  return suffix;
}

bool matches(const std::map<std::string, std::string>& labels, const std::map<std::string, std::string>& selector) {
  return std::all_of(selector.begin(), selector.end(), [&](const auto& entry) {
    const auto label = labels.find(entry.first);
    return label != labels.end() && label->second == entry.second;
  });
}

}  // namespace

void state_signal::notify() {
  for (asio::steady_timer* timer : waiters_) timer->cancel();
}

asio::awaitable<void> state_signal::wait_until(steady_clock::time_point deadline) {
  asio::steady_timer timer(executor_, deadline);
  waiters_.insert(&timer);
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  waiters_.erase(&timer);
}

container_state* pod_state::find_container(const std::string& name) {
  for (auto* list : {&init_containers, &containers}) {
    for (auto& c : *list) {
      if (c->status.name == name) return c.get();
    }
  }
  return nullptr;
}

control_plane::control_plane(asio::io_context& io, asio::thread_pool& pool, const cluster_options& options)
    : executor_(io.get_executor()),
      pool_(pool),
      options_(options),
      node_name_(machine_name()),
      log_(std::make_shared<sidecar::log_sink>(sidecar::log_level::warn)->make_logger("podsim")),
      deployments_changed_(io.get_executor()) {}

control_plane::~control_plane() = default;

steady_clock::duration control_plane::scaled(steady_clock::duration nominal) const {
  if (nominal <= steady_clock::duration::zero()) return steady_clock::duration::zero();
  const auto value = std::chrono::duration_cast<steady_clock::duration>(
      std::chrono::duration<double, steady_clock::period>(static_cast<double>(nominal.count()) * options_.time_scale));
  return std::max(value, steady_clock::duration(std::chrono::milliseconds(1)));
}

std::string control_plane::describe_scaled(std::chrono::milliseconds nominal) const {
  const std::string text = sidecar::format_duration(nominal);
  if (options_.time_scale == 1.0) return text;
  const auto real = std::chrono::duration_cast<std::chrono::milliseconds>(scaled(nominal));
  std::ostringstream scale;
  scale << options_.time_scale;
  return text + " (" + sidecar::format_duration(real) + " at time scale " + scale.str() + ")";
}

void control_plane::record_event(const std::string& type, const std::string& reason, const std::string& object,
                                 const std::string& message) {
  const auto now = system_clock::now();
  // The event recorder folds an identical event into the earlier one.
  for (auto it = events_.rbegin(); it != events_.rend(); ++it) {
    if (it->object == object && it->type == type && it->reason == reason && it->message == message) {
      ++it->count;
      it->last_seen = now;
      if (options_.on_event) options_.on_event(*it);
      return;
    }
  }
  events_.push_back({.type = type, .reason = reason, .object = object, .message = message, .count = 1,
                     .first_seen = now, .last_seen = now});
  if (events_.size() > max_events) events_.pop_front();
  if (options_.on_event) options_.on_event(events_.back());
}

// --- Applying a set ---

void control_plane::check_new_objects(const manifest_set& set) const {
  for (const auto& pod : set.pods) {
    if (pods_.contains(pod.meta.name) || reserved_pod_names_.contains(pod.meta.name)) {
      throw std::runtime_error("pod " + pod.meta.name + ": a pod of that name exists already");
    }
  }
  for (const auto& deployment : set.deployments) {
    if (deployments_.contains(key_of(deployment.meta))) {
      throw std::runtime_error("deployment " + deployment.meta.name + ": exists already in namespace " +
                               deployment.meta.namespace_name);
    }
  }
  for (const auto& service : set.services) {
    if (services_.contains(key_of(service.meta))) {
      throw std::runtime_error("service " + service.meta.name + ": exists already in namespace " +
                               service.meta.namespace_name);
    }
  }
  std::set<std::string> config_maps;
  for (const auto& entry : config_maps_) config_maps.insert(entry.first);
  for (const auto& config_map : set.config_maps) {
    if (!config_maps.insert(key_of(config_map.meta)).second) {
      throw std::runtime_error("configmap " + config_map.meta.name + ": exists already in namespace " +
                               config_map.meta.namespace_name);
    }
  }

  // The kubelet would leave such a pod in ContainerCreating with FailedMount
  // events; failing at once reports the same problem sooner.
  const auto check_volumes = [&](const std::string& what, const object_meta& meta, const pod_spec& spec) {
    for (const auto& volume : spec.volumes) {
      if (!volume.is_config_map()) continue;
      const std::string& name = std::get<std::string>(volume.source);
      if (!config_maps.contains(meta.namespace_name + "/" + name)) {
        throw std::runtime_error(what + ": volume " + volume.name + ": configmap \"" + name +
                                 "\" not found in namespace " + meta.namespace_name);
      }
    }
  };
  for (const auto& pod : set.pods) check_volumes("pod " + pod.meta.name, pod.meta, pod.spec);
  for (const auto& d : set.deployments) check_volumes("deployment " + d.meta.name, d.meta, d.template_spec);
}

pod_object control_plane::make_replica(const deployment_state& deployment) const {
  pod_object pod;
  pod.meta = deployment.object.template_meta;
  pod.meta.namespace_name = deployment.object.meta.namespace_name;
  pod.meta.labels["pod-template-hash"] = deployment.template_hash;
  pod.spec = deployment.object.template_spec;
  do {
    pod.meta.name = deployment.replica_set + "-" + random_suffix();
  } while (pods_.contains(pod.meta.name) || reserved_pod_names_.contains(pod.meta.name));
  return pod;
}

control_plane::prepared_set control_plane::prepare(manifest_set set) {
  if (stopping_) throw std::runtime_error("cluster: stopping, no new objects are accepted");
  check_new_objects(set);

  prepared_set prepared;
  for (auto& service : set.services) {
    auto state = std::make_unique<service_state>();
    state->object = service;
    bind_service(*state);  // throws when a port is busy; the sockets close with `prepared`
    prepared.services.push_back(std::move(state));
  }

  for (const auto& pod : set.pods) {
    prepared.pods.push_back(pod);
    prepared.pod_owners.emplace_back();
    reserved_pod_names_.insert(pod.meta.name);
  }
  for (const auto& object : set.deployments) {
    deployment_state deployment;
    deployment.object = object;
    deployment.template_hash = template_hash(object);
    deployment.replica_set = object.meta.name + "-" + deployment.template_hash;
    for (int i = 0; i < object.replicas; ++i) {
      prepared.pods.push_back(make_replica(deployment));
      prepared.pod_owners.push_back(object.meta.name);
      reserved_pod_names_.insert(prepared.pods.back().meta.name);
    }
    prepared.deployments.push_back(std::move(deployment));
  }
  prepared.set = std::move(set);
  return prepared;
}

void control_plane::abandon(prepared_set& prepared) {
  for (const auto& pod : prepared.pods) reserved_pod_names_.erase(pod.meta.name);
  prepared.services.clear();
  check_stopped();
}

void control_plane::commit(prepared_set prepared, std::vector<std::shared_ptr<pod_sandbox>> sandboxes) {
  for (auto& config_map : prepared.set.config_maps) {
    const std::string key = key_of(config_map.meta);
    config_maps_.emplace(key, std::move(config_map));
  }

  for (auto& service : prepared.services) {
    service_state& state = *service;
    services_.emplace(key_of(state.object.meta), std::move(service));
    start_service(state);
  }

  std::vector<std::string> deployment_keys;
  for (auto& deployment : prepared.deployments) {
    const std::string key = key_of(deployment.object.meta);
    deployment_keys.push_back(key);
    record_event("Normal", "ScalingReplicaSet", "deployment/" + deployment.object.meta.name,
                 "Scaled up replica set " + deployment.replica_set + " to " +
                     std::to_string(deployment.object.replicas));
    deployments_.emplace(key, std::move(deployment));
  }

  for (std::size_t i = 0; i < prepared.pods.size(); ++i) {
    reserved_pod_names_.erase(prepared.pods[i].meta.name);
    const std::string& owner = prepared.pod_owners[i];
    if (!owner.empty()) {
      const auto& deployment = deployments_.at(prepared.pods[i].meta.namespace_name + "/" + owner);
      record_event("Normal", "SuccessfulCreate", "replicaset/" + deployment.replica_set,
                   "Created pod: " + prepared.pods[i].meta.name);
    }
    start_pod(make_pod(std::move(prepared.pods[i]), owner, std::move(sandboxes[i])));
  }

  for (const auto& key : deployment_keys) asio::co_spawn(executor_, run_deployment(key), asio::detached);
  update_file_sd();
}

std::shared_ptr<pod_state> control_plane::make_pod(pod_object object, std::string owner,
                                                   std::shared_ptr<pod_sandbox> sandbox) {
  auto pod = std::make_shared<pod_state>(executor_);
  pod->object = std::move(object);
  pod->owner = std::move(owner);
  pod->sandbox = std::move(sandbox);
  pod->ip = pod->sandbox->ip();
  pod->created = system_clock::now();

  const auto add = [&](std::vector<std::unique_ptr<container_state>>& list, const container_spec& spec,
                       container_status::role role) {
    auto c = std::make_unique<container_state>();
    c->spec = &spec;
    c->status.name = spec.name;
    c->status.kind = role;
    c->status.reason = "PodInitializing";
    c->loop_done = true;
    list.push_back(std::move(c));
  };
  for (const auto& spec : pod->object.spec.init_containers) {
    add(pod->init_containers, spec, spec.restart_policy ? container_status::role::sidecar : container_status::role::init);
  }
  for (const auto& spec : pod->object.spec.containers) add(pod->containers, spec, container_status::role::main);
  return pod;
}

void control_plane::start_pod(std::shared_ptr<pod_state> pod) {
  // A pod committed while the cluster stops goes straight to termination.
  if (stopping_) {
    pod->terminating = true;
    pod->deletion_deadline = steady_clock::now() + scaled(pod->object.spec.termination_grace_period);
  }
  pods_[pod->object.meta.name] = pod;
  asio::co_spawn(executor_, run_pod(pod), [this, name = pod->object.meta.name](std::exception_ptr error) {
    if (!error) return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      log_.error("pod worker failed", {{"pod", name}, {"error", e.what()}});
    }
  });
}

void control_plane::on_pod_removed(const pod_state& pod) {
  const std::string& name = pod.object.meta.name;
  pods_.erase(name);
  scrapes_.erase(name);
  if (!pod.owner.empty()) {
    const auto deployment = deployments_.find(pod.object.meta.namespace_name + "/" + pod.owner);
    if (deployment != deployments_.end()) {
      record_event("Normal", "SuccessfulDelete", "replicaset/" + deployment->second.replica_set,
                   "Deleted pod: " + name);
    }
  }
  update_file_sd();
  deployments_changed_.notify();
  check_stopped();
}

bool control_plane::delete_pod(const std::string& name) {
  const auto found = pods_.find(name);
  if (found == pods_.end()) return false;
  pod_state& pod = *found->second;
  if (!pod.terminating) {
    pod.terminating = true;
    pod.deletion_deadline = steady_clock::now() + scaled(pod.object.spec.termination_grace_period);
    pod.changed.notify();
    deployments_changed_.notify();
    update_file_sd();
  }
  return true;
}

// --- Deployments ---

asio::awaitable<void> control_plane::run_deployment(std::string key) {
  // The ReplicaSet controller's loop: replace every replica that is being
  // deleted, is gone or has failed, so that `replicas` pods are always on
  // their way. A failed replica is deleted too, which frees its sandbox.
  while (!stopping_) {
    const auto found = deployments_.find(key);
    if (found == deployments_.end()) co_return;
    const deployment_state& deployment = found->second;

    int active = 0;
    std::vector<std::string> failed;
    for (const auto& [name, pod] : pods_) {
      if (pod->owner != deployment.object.meta.name ||
          pod->object.meta.namespace_name != deployment.object.meta.namespace_name || pod->terminating) {
        continue;
      }
      if (pod->phase == "Failed") {
        failed.push_back(name);
      } else {
        ++active;
      }
    }
    for (const auto& name : failed) delete_pod(name);
    if (active < deployment.object.replicas) {
      co_await create_replica(key);
      continue;
    }
    co_await deployments_changed_.wait_until(steady_clock::now() + std::chrono::seconds(1));
  }
}

asio::awaitable<void> control_plane::create_replica(std::string key) {
  const deployment_state& deployment = deployments_.at(key);
  pod_object pod = make_replica(deployment);
  const std::string name = pod.meta.name;
  const std::string owner = deployment.object.meta.name;
  const std::string replica_set = deployment.replica_set;
  reserved_pod_names_.insert(name);

  sandbox_options sandbox{.pod_name = name, .share_process_namespace = pod.spec.share_process_namespace,
                          .state_dir = options_.state_root.empty() ? std::filesystem::path() : options_.state_root / name};
  std::shared_ptr<pod_sandbox> made;
  std::string failure;
  try {
    auto make = [sandbox] { return std::make_shared<pod_sandbox>(sandbox); };
    made = co_await run_blocking(pool_, std::move(make));
  } catch (const std::exception& e) {
    failure = e.what();
  }
  if (!made) {
    reserved_pod_names_.erase(name);
    record_event("Warning", "FailedCreate", "replicaset/" + replica_set, "Error creating pod " + name + ": " + failure);
    check_stopped();
    co_await deployments_changed_.wait_until(steady_clock::now() + scaled(initial_backoff));
    co_return;
  }
  if (stopping_) {
    // The name stays reserved until the sandbox is gone, so that stop() waits for it.
    auto destroy = [made = std::move(made)]() mutable { made.reset(); };
    co_await run_blocking(pool_, std::move(destroy));
    reserved_pod_names_.erase(name);
    check_stopped();
    co_return;
  }
  reserved_pod_names_.erase(name);
  record_event("Normal", "SuccessfulCreate", "replicaset/" + replica_set, "Created pod: " + name);
  start_pod(make_pod(std::move(pod), owner, std::move(made)));
  update_file_sd();
}

// --- Stopping ---

void control_plane::begin_stop() {
  if (stopping_) return;
  stopping_ = true;

  const auto now = steady_clock::now();
  for (auto& [name, pod] : pods_) {
    if (pod->terminating) continue;
    pod->terminating = true;
    pod->deletion_deadline = now + scaled(pod->object.spec.termination_grace_period);
    pod->changed.notify();
  }

  boost::system::error_code ignored;
  for (auto& [key, service] : services_) {
    for (auto& port : service->ports) {
      if (port->acceptor) port->acceptor->close(ignored);
    }
  }
  for (const auto& socket : proxied_sockets_) socket->close(ignored);
  if (scrape_timer_) scrape_timer_->cancel();
  if (scrape_client_) scrape_client_->close_idle();
  if (status_server_) status_server_->stop();
  deployments_changed_.notify();
  check_stopped();
}

void control_plane::check_stopped() {
  // A reserved name is a sandbox being made, which must be removed first.
  if (!stopping_ || stopped_ || !pods_.empty() || !reserved_pod_names_.empty()) return;
  stopped_ = true;
  std::error_code ignored;
  if (!options_.file_sd_path.empty()) std::filesystem::remove(options_.file_sd_path, ignored);
}

bool control_plane::stopped() const { return stopped_; }

// --- Views ---

pod_status control_plane::view(const pod_state& pod) const {
  pod_status status;
  status.name = pod.object.meta.name;
  status.namespace_name = pod.object.meta.namespace_name;
  status.owner = pod.owner;
  status.phase = pod.phase;
  status.created = pod.created;
  status.ip = pod.ip;
  status.terminating = pod.terminating;
  status.labels = pod.object.meta.labels;
  status.annotations = pod.object.meta.annotations;
  status.volume_paths = pod.volume_paths;
  for (const auto& c : pod.init_containers) status.init_containers.push_back(c->status);
  for (const auto& c : pod.containers) status.containers.push_back(c->status);

  // READY counts main containers and started native sidecars; the Ready
  // condition needs every one of them ready.
  bool all_ready = pod.initialized;
  const auto count = [&](const container_status& c) {
    ++status.total_containers;
    if (c.ready) ++status.ready_containers;
    all_ready = all_ready && c.ready;
    status.restarts += c.restart_count;
    if (c.last_termination &&
        (!status.last_restart || c.last_termination->finished_at > *status.last_restart)) {
      status.last_restart = c.last_termination->finished_at;
    }
  };
  for (const auto& c : status.init_containers) {
    if (c.kind == container_status::role::sidecar) {
      count(c);
    } else {
      status.restarts += c.restart_count;
    }
  }
  for (const auto& c : status.containers) count(c);
  status.ready = all_ready;
  status.status = pod_status_column(status);
  return status;
}

std::vector<pod_status> control_plane::pod_views() const {
  std::vector<pod_status> views;
  for (const auto& [name, pod] : pods_) views.push_back(view(*pod));
  return views;
}

std::vector<service_status> control_plane::service_views() const {
  std::vector<service_status> views;
  for (const auto& [key, service] : services_) {
    service_status view;
    view.name = service->object.meta.name;
    view.namespace_name = service->object.meta.namespace_name;
    view.selector = service->object.selector;
    for (const auto& port : service->ports) {
      view.ports.push_back({.name = port->spec.name, .port = port->spec.port, .target_port = port->spec.target_port,
                            .host_port = port->host_port, .endpoints = endpoints(*service, *port)});
    }
    views.push_back(std::move(view));
  }
  return views;
}

std::vector<scrape_result> control_plane::scrape_views() const {
  std::vector<scrape_result> views;
  for (const auto& [pod, result] : scrapes_) views.push_back(result);
  return views;
}

std::vector<service_endpoint> control_plane::endpoints(const service_state& service,
                                                       const service_port_state& port) const {
  std::vector<service_endpoint> result;
  if (service.object.selector.empty()) return result;
  for (const auto& [name, pod] : pods_) {
    if (pod->object.meta.namespace_name != service.object.meta.namespace_name) continue;
    if (!matches(pod->object.meta.labels, service.object.selector)) continue;
    if (pod->terminating || pod->ip.empty() || !view(*pod).ready) continue;

    int target = 0;
    if (const int* number = std::get_if<int>(&port.spec.target_port)) {
      target = *number;
    } else {
      // A named target port is looked up in each pod, so pods may differ.
      const std::string& port_name = std::get<std::string>(port.spec.target_port);
      for (const auto* list : {&pod->object.spec.containers, &pod->object.spec.init_containers}) {
        for (const auto& c : *list) {
          for (const auto& p : c.ports) {
            if (p.name == port_name && target == 0) target = p.container_port;
          }
        }
      }
    }
    if (target != 0) result.push_back({.pod = name, .ip = pod->ip, .port = target});
  }
  return result;
}

}  // namespace podsim::detail
