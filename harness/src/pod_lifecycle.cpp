// A pod from start to end, as the kubelet runs it: volumes, init containers
// in order (native sidecars stay running), main containers with their
// restart policy and crash-loop back-off, and termination with preStop
// hooks, SIGTERM, the grace period and SIGKILL.

#include "control_plane.hpp"

#include <signal.h>

#include <algorithm>
#include <fstream>

#include <boost/asio/detached.hpp>

namespace podsim::detail {
namespace {

std::string object_of(const pod_state& pod) { return "pod/" + pod.object.meta.name; }

// Expands references as the kubelet does in command, args and env values:
// $(NAME) becomes the value of a defined variable, $$ becomes $, and a
// reference to an undefined variable stays as written.
std::string expand_references(std::string_view text, const std::map<std::string, std::string>& variables) {
  std::string expanded;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$' || i + 1 == text.size()) {
      expanded += text[i];
      continue;
    }
    if (text[i + 1] == '$') {
      expanded += '$';
      ++i;
      continue;
    }
    const std::size_t close = text[i + 1] == '(' ? text.find(')', i + 2) : std::string_view::npos;
    if (close == std::string_view::npos) {
      expanded += text[i];
      continue;
    }
    const auto variable = variables.find(std::string(text.substr(i + 2, close - i - 2)));
    expanded += variable != variables.end() ? std::string_view(variable->second) : text.substr(i, close - i + 1);
    i = close;
  }
  return expanded;
}

termination_status make_termination(const exit_info& exit, system_clock::time_point started_at) {
  termination_status t;
  t.exit_code = exit.exit_code;
  t.signal = exit.signal;
  t.reason = exit.oom_killed ? "OOMKilled" : exit.exit_code == 0 ? "Completed" : "Error";
  t.started_at = started_at;
  t.finished_at = system_clock::now();
  return t;
}

}  // namespace

void control_plane::set_waiting(container_state& c, std::string reason, std::string message) {
  if (c.status.terminated) {
    c.status.last_termination = std::move(c.status.terminated);
    c.status.terminated.reset();
  }
  c.status.state = "Waiting";
  c.status.reason = std::move(reason);
  c.status.message = std::move(message);
  c.status.ready = false;
  c.status.started = false;
  c.status.pid = 0;
}

container_options control_plane::make_container_options(const pod_state& pod, const container_state& c) const {
  const container_spec& spec = *c.spec;
  container_options options;
  options.name = spec.name;
  options.image = spec.image;
  options.memory_limit = spec.memory_limit;
  options.cpu_limit = spec.cpu_limit;

  // Container runtimes set PATH (when the image has none) and HOSTNAME; the
  // container's own variables follow, each able to refer to earlier ones.
  std::map<std::string, std::string> variables;
  const auto set_variable = [&](const std::string& name, const std::string& value) {
    variables[name] = value;
    const auto existing = std::find_if(options.env.begin(), options.env.end(),
                                       [&](const auto& entry) { return entry.first == name; });
    if (existing != options.env.end()) {
      existing->second = value;
    } else {
      options.env.emplace_back(name, value);
    }
  };
  set_variable("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  set_variable("HOSTNAME", pod.object.meta.name);
  for (const auto& [name, value] : spec.env) set_variable(name, expand_references(value, variables));

  for (const auto& word : spec.command) options.argv.push_back(expand_references(word, variables));
  for (const auto& word : spec.args) options.argv.push_back(expand_references(word, variables));

  for (const auto& mount : spec.volume_mounts) {
    const auto volume = std::find_if(pod.object.spec.volumes.begin(), pod.object.spec.volumes.end(),
                                     [&](const volume_spec& v) { return v.name == mount.name; });
    // The kubelet mounts config map volumes read-only, whatever the mount asks for.
    const bool config_map = volume != pod.object.spec.volumes.end() && volume->is_config_map();
    options.mounts.push_back({.source = pod.volume_paths.at(mount.name), .target = mount.mount_path,
                              .read_only = mount.read_only || config_map});
  }
  return options;
}

// --- The pod ---

asio::awaitable<void> control_plane::run_pod(std::shared_ptr<pod_state> pod) {
  const std::string& name = pod->object.meta.name;
  record_event("Normal", "Scheduled", object_of(*pod),
               "Assigned " + pod->object.meta.namespace_name + "/" + name + " to node " + node_name_);

  bool volumes_ready = false;
  try {
    co_await prepare_volumes(pod);
    volumes_ready = true;
  } catch (const std::exception& e) {
    record_event("Warning", "FailedMount", object_of(*pod), std::string("Volume setup failed: ") + e.what());
    pod->phase = "Failed";
  }

  if (volumes_ready && co_await run_init_containers(pod)) {
    pod->initialized = true;
    for (auto& c : pod->containers) {
      set_waiting(*c, "ContainerCreating");
      c->loop_done = false;
      asio::co_spawn(executor_, run_container_loop(pod, *c), asio::detached);
    }
  }
  update_phase(*pod);

  // Runs until deletion. A pod whose main containers have all ended for good
  // stays listed (Completed or Error), and its native sidecars stop, as the
  // kubelet stops them once nothing else runs.
  bool sidecars_stopped = false;
  while (!pod->terminating) {
    const bool main_done = std::all_of(pod->containers.begin(), pod->containers.end(),
                                       [](const auto& c) { return c->loop_done; });
    const bool finished = (pod->initialized && main_done) || pod->phase == "Failed";
    if (finished && !sidecars_stopped) {
      sidecars_stopped = true;
      std::vector<container_state*> sidecars;
      for (auto it = pod->init_containers.rbegin(); it != pod->init_containers.rend(); ++it) {
        if ((*it)->status.kind == container_status::role::sidecar) sidecars.push_back(it->get());
      }
      // NOTE: each group is a named vector, because g++ 12 rejects a braced
      // list as an argument inside a co_await expression.
      for (container_state* sidecar : sidecars) {
        const std::vector<container_state*> group{sidecar};
        co_await stop_containers(pod, group, steady_clock::now() + scaled(pod->object.spec.termination_grace_period));
      }
      update_phase(*pod);
      continue;
    }
    co_await pod->changed.wait_until(steady_clock::time_point::max());
  }

  co_await terminate_pod(pod);
  co_await remove_sandbox(pod);
  on_pod_removed(*pod);
}

asio::awaitable<void> control_plane::prepare_volumes(std::shared_ptr<pod_state> pod) {
  // Each volume: its directory, and for a config map one file per key.
  std::vector<std::pair<std::string, std::map<std::string, std::string>>> volumes;
  std::map<std::string, std::filesystem::path> host_paths;
  for (const auto& volume : pod->object.spec.volumes) {
    if (volume.is_host_path()) {
      host_paths[volume.name] = *volume.host_path;
      continue;
    }
    std::map<std::string, std::string> files;
    if (volume.is_config_map()) {
      files = config_maps_.at(pod->object.meta.namespace_name + "/" + std::get<std::string>(volume.source)).data;
    }
    volumes.emplace_back(volume.name, std::move(files));
  }

  ++pod->blocking_calls;
  auto make = [sandbox = pod->sandbox, volumes, host_paths] {
    // A hostPath directory must exist, as the kubelet requires for type Directory.
    std::map<std::string, std::filesystem::path> made;
    for (const auto& [name, dir] : host_paths) {
      std::error_code error;
      if (!std::filesystem::is_directory(dir, error)) {
        throw std::runtime_error("hostPath volume " + name + ": " + dir.string() + " is not an existing directory");
      }
      made[name] = dir;
    }
    for (const auto& [name, files] : volumes) {
      const std::filesystem::path dir = sandbox->volume_dir(name);
      for (const auto& [key, content] : files) {
        std::ofstream out(dir / key, std::ios::binary | std::ios::trunc);
        out << content;
        if (!out.flush()) throw std::runtime_error("writing " + (dir / key).string() + " failed");
      }
      made[name] = dir;
    }
    return made;
  };
  auto paths = co_await run_blocking(pool_, std::move(make));
  --pod->blocking_calls;
  pod->volume_paths = std::move(paths);
}

asio::awaitable<bool> control_plane::run_init_containers(std::shared_ptr<pod_state> pod) {
  for (auto& entry : pod->init_containers) {
    container_state& c = *entry;
    if (pod->terminating) co_return false;

    // A native sidecar keeps running; the next container waits until it has started.
    if (c.status.kind == container_status::role::sidecar) {
      c.loop_done = false;
      asio::co_spawn(executor_, run_container_loop(pod, c), asio::detached);
      while (!c.status.started && !pod->terminating) {
        co_await pod->changed.wait_until(steady_clock::time_point::max());
      }
      update_phase(*pod);
      continue;
    }

    // A regular init container runs to completion, again after each failure
    // unless the pod's restart policy is Never.
    c.loop_done = false;
    bool completed = false;
    while (!completed) {
      const auto exit = co_await run_container_once(pod, c);
      if (exit) co_await release_process(pod, c);
      if (!exit || pod->terminating) break;
      if (exit->exit_code == 0 && !exit->oom_killed) {
        completed = true;
        break;
      }
      if (pod->object.spec.restart_policy == "Never") {
        pod->phase = "Failed";
        break;
      }
      if (!co_await wait_for_backoff(pod, c)) break;
    }
    c.loop_done = true;
    pod->changed.notify();
    if (!completed) co_return false;
    update_phase(*pod);
  }
  co_return true;
}

void control_plane::update_phase(pod_state& pod) {
  if (pod.terminating || pod.phase == "Failed") return;
  if (!pod.initialized) {
    pod.phase = "Pending";
    return;
  }
  bool any_running = false;
  bool any_pending_restart = false;
  bool all_done = true;
  bool all_succeeded = true;
  for (const auto& c : pod.containers) {
    any_running = any_running || c->running;
    any_pending_restart = any_pending_restart || (!c->loop_done && c->run > 0);
    all_done = all_done && c->loop_done;
    all_succeeded = all_succeeded && c->status.terminated && c->status.terminated->exit_code == 0;
  }
  if (all_done) {
    pod.phase = all_succeeded ? "Succeeded" : "Failed";
  } else if (any_running || any_pending_restart) {
    pod.phase = "Running";
  } else {
    pod.phase = "Pending";
  }
}

// --- One container ---

bool control_plane::should_restart(const pod_state& pod, const container_state& c, const exit_info& exit) const {
  if (pod.terminating || c.stop_requested) return false;
  if (c.status.kind == container_status::role::sidecar) return true;
  const std::string& policy = pod.object.spec.restart_policy;
  if (policy == "Always") return true;
  if (policy == "OnFailure") return exit.exit_code != 0 || exit.oom_killed;
  return false;
}

asio::awaitable<void> control_plane::run_container_loop(std::shared_ptr<pod_state> pod, container_state& c) {
  while (!c.stop_requested && !pod->terminating) {
    const auto exit = co_await run_container_once(pod, c);
    // The decision is made in the same step as the exit is recorded, so no
    // view shows the exit with the pod's phase from before it.
    const bool restart = exit && should_restart(*pod, c, *exit);
    if (!restart) {
      c.loop_done = true;
      update_phase(*pod);
    }
    if (exit) co_await release_process(pod, c);
    if (!restart || !co_await wait_for_backoff(pod, c)) break;
  }
  c.loop_done = true;
  update_phase(*pod);
  pod->changed.notify();
}

asio::awaitable<bool> control_plane::wait_for_backoff(std::shared_ptr<pod_state> pod, container_state& c) {
  // The kubelet's rule: the first restart is immediate and starts a 10 s
  // back-off. Each later exit waits out the back-off, counted from the exit,
  // and doubles it up to 5 min. An entry not updated for 10 min starts over.
  const auto now = steady_clock::now();
  const steady_clock::time_point finished = now;
  const bool valid = c.backoff && now - c.backoff_updated <= scaled(backoff_reset);
  if (!valid) {
    c.backoff = initial_backoff;
  } else {
    const auto restart_at = finished + scaled(*c.backoff);
    const auto nominal = std::chrono::duration_cast<std::chrono::milliseconds>(*c.backoff);
    set_waiting(c, "CrashLoopBackOff",
                "back-off " + describe_scaled(nominal) + " restarting failed container " + c.status.name);
    record_event("Warning", "BackOff", object_of(*pod),
                 "Back-off " + describe_scaled(nominal) + " before restarting failed container " + c.status.name);
    while (steady_clock::now() < restart_at && !pod->terminating && !c.stop_requested) {
      co_await pod->changed.wait_until(restart_at);
    }
    if (pod->terminating || c.stop_requested) co_return false;
    c.backoff = std::min<steady_clock::duration>(*c.backoff * 2, max_backoff);
  }
  c.backoff_updated = finished;
  co_return true;
}

asio::awaitable<std::optional<exit_info>> control_plane::run_container_once(std::shared_ptr<pod_state> pod,
                                                                            container_state& c) {
  if (pod->terminating || c.stop_requested) co_return std::nullopt;
  if (c.run > 0) ++c.status.restart_count;
  ++c.run;
  set_waiting(c, "ContainerCreating");

  if (!co_await start_process(pod, c)) {
    exit_info failed{.exit_code = 128};
    termination_status t = make_termination(failed, system_clock::now());
    t.reason = "StartError";
    t.message = c.status.message;
    c.status.state = "Terminated";
    c.status.terminated = t;
    c.status.reason = t.reason;
    pod->changed.notify();
    co_return failed;
  }

  const std::uint64_t run = c.run;
  c.running = true;
  c.status.state = "Running";
  c.status.reason.clear();
  c.status.message.clear();
  c.status.started_at = system_clock::now();
  c.status.pid = c.process->pid();
  c.status.started = !c.spec->startup;
  c.status.ready = c.status.started && !c.spec->readiness;
  c.restart_request.reset();
  update_phase(*pod);
  pod->changed.notify();

  if (c.spec->startup) asio::co_spawn(executor_, run_probe_loop(pod, c, run, "startup"), asio::detached);
  if (c.spec->liveness) asio::co_spawn(executor_, run_probe_loop(pod, c, run, "liveness"), asio::detached);
  if (c.spec->readiness) asio::co_spawn(executor_, run_probe_loop(pod, c, run, "readiness"), asio::detached);

  const exit_info exit = co_await watch_process(pod, c);

  c.running = false;
  c.status.state = "Terminated";
  c.status.terminated = make_termination(exit, c.status.started_at);
  c.status.reason = c.status.terminated->reason;
  c.status.ready = false;
  c.status.started = false;
  c.status.pid = 0;
  pod->changed.notify();
  co_return exit;
}

asio::awaitable<bool> control_plane::start_process(std::shared_ptr<pod_state> pod, container_state& c) {
  const container_options options = make_container_options(*pod, c);
  ++pod->blocking_calls;
  std::shared_ptr<container> process;
  std::string failure;
  try {
    auto start = [sandbox = pod->sandbox, options] {
      auto made = std::make_shared<container>(*sandbox, options);
      made->start();
      return made;
    };
    process = co_await run_blocking(pool_, std::move(start));
  } catch (const std::exception& e) {
    failure = e.what();
  }
  --pod->blocking_calls;
  pod->changed.notify();

  if (!process) {
    c.status.message = failure;
    record_event("Warning", "Failed", object_of(*pod), "Error: container " + c.status.name + ": " + failure);
    co_return false;
  }
  c.process = std::move(process);
  record_event("Normal", "Created", object_of(*pod), "Created container " + c.status.name);
  record_event("Normal", "Started", object_of(*pod), "Started container " + c.status.name);
  co_return true;
}

asio::awaitable<exit_info> control_plane::watch_process(std::shared_ptr<pod_state> pod, container_state& c) {
  while (true) {
    if (auto exit = c.process->poll_exit()) co_return *exit;

    if (c.restart_request) {
      record_event("Normal", "Killing", object_of(*pod),
                   "Container " + c.status.name + " failed its " + *c.restart_request + " probe and will be restarted");
      co_return co_await kill_process(pod, c, steady_clock::now() + scaled(pod->object.spec.termination_grace_period));
    }
    if (c.stop_requested) {
      record_event("Normal", "Killing", object_of(*pod), "Stopping container " + c.status.name);
      co_return co_await kill_process(pod, c, c.stop_deadline);
    }
    co_await pod->changed.wait_until(steady_clock::now() + exit_poll);
  }
}

asio::awaitable<exit_info> control_plane::kill_process(std::shared_ptr<pod_state> pod, container_state& c,
                                                       steady_clock::time_point deadline) {
  // The preStop hook runs first and spends the grace period; SIGTERM follows,
  // with at least the kubelet's minimum before SIGKILL.
  if (c.spec->pre_stop) co_await run_pre_stop(pod, c, deadline - steady_clock::now());
  if (auto exit = c.process->poll_exit()) co_return *exit;

  const auto kill_at = std::max(deadline, steady_clock::now() + scaled(minimum_grace));
  c.process->signal(SIGTERM);
  while (steady_clock::now() < kill_at) {
    if (auto exit = c.process->poll_exit()) co_return *exit;
    co_await pod->changed.wait_until(std::min(kill_at, steady_clock::now() + exit_poll));
  }
  if (auto exit = c.process->poll_exit()) co_return *exit;

  ++pod->blocking_calls;
  auto kill = [process = c.process] { return process->stop(std::chrono::milliseconds(0)); };
  const exit_info exit = co_await run_blocking(pool_, std::move(kill));
  --pod->blocking_calls;
  pod->changed.notify();
  co_return exit;
}

asio::awaitable<void> control_plane::run_pre_stop(std::shared_ptr<pod_state> pod, container_state& c,
                                                  steady_clock::duration budget) {
  budget = std::max(budget, steady_clock::duration(std::chrono::milliseconds(1)));
  const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(budget);
  std::string failure;

  if (const auto* action = std::get_if<exec_action>(&*c.spec->pre_stop)) {
    ++pod->blocking_calls;
    exec_result result;
    try {
      auto hook = [process = c.process, command = action->command, timeout] { return process->exec(command, timeout); };
      result = co_await run_blocking(pool_, std::move(hook));
    } catch (const std::exception& e) {
      result.output = e.what();
    }
    --pod->blocking_calls;
    pod->changed.notify();
    if (result.timed_out) {
      failure = "timed out after " + std::to_string(timeout.count()) + "ms";
    } else if (result.exit_code != 0) {
      failure = "exit code " + std::to_string(result.exit_code) + (result.output.empty() ? "" : ": " + result.output);
    }
  } else {
    const auto& get = std::get<http_get_action>(*c.spec->pre_stop);
    int port = 0;
    if (const int* number = std::get_if<int>(&get.port)) {
      port = *number;
    } else {
      for (const auto& p : c.spec->ports) {
        if (p.name == std::get<std::string>(get.port)) port = p.container_port;
      }
    }
    if (port == 0) {
      failure = "port \"" + std::get<std::string>(get.port) + "\" not found in container " + c.status.name;
    } else {
      const std::string host = get.host.empty() ? pod->ip : get.host;
      const auto outcome = co_await http_get(host, port, get.path, get.headers, budget);
      if (outcome.value == probe_outcome::result::failure) failure = outcome.output;
    }
  }

  if (!failure.empty()) {
    record_event("Warning", "FailedPreStopHook", object_of(*pod),
                 "PreStop hook of container " + c.status.name + " failed: " + failure);
  }
}

asio::awaitable<void> control_plane::release_process(std::shared_ptr<pod_state> pod, container_state& c) {
  // The destructor unmounts and removes the cgroup, so it runs on the pool.
  // An exec still in flight holds its own reference and destroys it last.
  ++pod->blocking_calls;
  auto destroy = [process = std::move(c.process)]() mutable { process.reset(); };
  co_await run_blocking(pool_, std::move(destroy));
  --pod->blocking_calls;
  pod->changed.notify();
}

// --- Termination ---

asio::awaitable<void> control_plane::terminate_pod(std::shared_ptr<pod_state> pod) {
  // Main containers (and an init container still running) stop together.
  // Native sidecars then stop one by one in reverse order, because the
  // kubelet stops them only once the main containers have exited.
  const auto deadline = pod->deletion_deadline;
  std::vector<container_state*> first;
  std::vector<container_state*> sidecars;
  for (auto& c : pod->init_containers) {
    (c->status.kind == container_status::role::sidecar ? sidecars : first).push_back(c.get());
  }
  for (auto& c : pod->containers) first.push_back(c.get());
  std::reverse(sidecars.begin(), sidecars.end());

  co_await stop_containers(pod, first, deadline);
  for (container_state* sidecar : sidecars) {
    const std::vector<container_state*> group{sidecar};
    co_await stop_containers(pod, group, deadline);
  }
}

asio::awaitable<void> control_plane::stop_containers(std::shared_ptr<pod_state> pod,
                                                     const std::vector<container_state*>& containers,
                                                     steady_clock::time_point deadline) {
  for (container_state* c : containers) {
    c->stop_requested = true;
    c->stop_deadline = deadline;
  }
  pod->changed.notify();
  const auto all_done = [&] {
    return std::all_of(containers.begin(), containers.end(), [](const container_state* c) { return c->loop_done; });
  };
  while (!all_done()) co_await pod->changed.wait_until(steady_clock::time_point::max());
}

asio::awaitable<void> control_plane::remove_sandbox(std::shared_ptr<pod_state> pod) {
  // Exec probes cannot be interrupted, so the sandbox waits for the last one.
  while (pod->blocking_calls > 0) co_await pod->changed.wait_until(steady_clock::now() + exit_poll);
  auto destroy = [sandbox = std::move(pod->sandbox)]() mutable { sandbox.reset(); };
  co_await run_blocking(pool_, std::move(destroy));
  pod->removed = true;
}

// --- kubectl exec ---

asio::awaitable<exec_result> control_plane::exec(std::string pod_name, std::string container_name,
                                                 std::vector<std::string> argv, std::chrono::milliseconds timeout) {
  const auto found = pods_.find(pod_name);
  if (found == pods_.end()) throw std::runtime_error("pod " + pod_name + ": not found");
  const std::shared_ptr<pod_state> pod = found->second;
  container_state* c = pod->find_container(container_name);
  if (c == nullptr) throw std::runtime_error("pod " + pod_name + ": container " + container_name + " not found");
  if (!c->running || !c->process) {
    throw std::runtime_error("pod " + pod_name + ": container " + container_name + " is not running");
  }

  ++pod->blocking_calls;
  try {
    auto run = [process = c->process, argv = std::move(argv), timeout] { return process->exec(argv, timeout); };
    auto result = co_await run_blocking(pool_, std::move(run));
    --pod->blocking_calls;
    pod->changed.notify();
    co_return result;
  } catch (...) {
    --pod->blocking_calls;
    pod->changed.notify();
    throw;
  }
}

}  // namespace podsim::detail
