// Readiness, liveness and startup probes with the kubelet's semantics:
// periodic ticks, initialDelaySeconds, thresholds of consecutive results,
// startup probes holding the others back, and the events they record.

#include "control_plane.hpp"

#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>

namespace podsim::detail {
namespace {

using tcp = asio::ip::tcp;

const probe_spec& probe_of(const container_spec& spec, const std::string& kind) {
  if (kind == "startup") return *spec.startup;
  if (kind == "liveness") return *spec.liveness;
  return *spec.readiness;
}

std::string capitalized(std::string kind) {
  kind[0] = static_cast<char>(kind[0] - 'a' + 'A');
  return kind;
}

// The container port a probe names, or 0 when the container has no port of that name.
int resolve_port(const port_ref& port, const container_spec& spec) {
  if (const int* number = std::get_if<int>(&port)) return *number;
  for (const auto& p : spec.ports) {
    if (p.name == std::get<std::string>(port)) return p.container_port;
  }
  return 0;
}

std::string describe_port(const port_ref& port) {
  if (const int* number = std::get_if<int>(&port)) return std::to_string(*number);
  return "\"" + std::get<std::string>(port) + "\"";
}

asio::awaitable<probe_outcome> tcp_probe(const std::string& host, int port, steady_clock::duration timeout) {
  const std::string target = host + ":" + std::to_string(port);
  boost::system::error_code parse_error;
  const auto address = asio::ip::make_address(host, parse_error);
  if (parse_error) co_return probe_outcome{probe_outcome::result::failure, "connect to " + target + ": invalid address"};

  auto executor = co_await asio::this_coro::executor;
  tcp::socket socket(executor);
  asio::steady_timer deadline(executor, timeout);
  auto [order, connect_error, timer_error] =
      co_await asio::experimental::make_parallel_group(
          socket.async_connect(tcp::endpoint(address, static_cast<std::uint16_t>(port)), asio::deferred),
          deadline.async_wait(asio::deferred))
          .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);

  if (order[0] == 1) co_return probe_outcome{probe_outcome::result::failure, "connect to " + target + ": timed out"};
  if (connect_error) {
    co_return probe_outcome{probe_outcome::result::failure, "connect to " + target + ": " + connect_error.message()};
  }
  boost::system::error_code ignored;
  socket.close(ignored);
  co_return probe_outcome{probe_outcome::result::success, ""};
}

}  // namespace

asio::awaitable<void> control_plane::run_probe_loop(std::shared_ptr<pod_state> pod, container_state& c,
                                                    std::uint64_t run, std::string kind) {
  const probe_spec& probe = probe_of(*c.spec, kind);
  const auto period = scaled(probe.period);
  const auto initial_delay = scaled(probe.initial_delay);
  const auto started = steady_clock::now();
  // A container on its way out is not probed: its probes could only fail.
  const auto alive = [&] {
    return c.run == run && c.running && !pod->removed && !c.stop_requested && !c.restart_request;
  };

  // Ticks every period from the container's start, as the kubelet's probe
  // worker ticks; a tick before initialDelaySeconds probes nothing.
  auto next_tick = started;
  std::optional<bool> last_result;
  int streak = 0;
  while (alive()) {
    while (steady_clock::now() < next_tick && alive()) co_await pod->changed.wait_until(next_tick);
    if (!alive()) co_return;
    while (next_tick <= steady_clock::now()) next_tick += period;

    if (steady_clock::now() - started < initial_delay) continue;
    // Liveness and readiness wait for the startup probe; it stops once passed.
    if (kind != "startup" && !c.status.started) continue;
    if (kind == "startup" && c.status.started) co_return;

    const probe_outcome outcome = co_await run_probe_once(pod, c, probe);
    if (!alive()) co_return;
    const std::string object = "pod/" + pod->object.meta.name;
    if (outcome.value == probe_outcome::result::failure) {
      record_event("Warning", "Unhealthy", object, capitalized(kind) + " probe failed: " + outcome.output);
    } else if (outcome.value == probe_outcome::result::warning) {
      record_event("Warning", "ProbeWarning", object, capitalized(kind) + " probe warning: " + outcome.output);
    }

    // A result counts once it repeats the threshold's number of times in a row.
    const bool success = outcome.value != probe_outcome::result::failure;
    streak = last_result == success ? streak + 1 : 1;
    last_result = success;
    if (streak < (success ? probe.success_threshold : probe.failure_threshold)) continue;

    if (kind == "readiness") {
      if (c.status.ready != success) {
        c.status.ready = success;
        pod->changed.notify();
      }
    } else if (kind == "liveness") {
      if (!success) {
        c.restart_request = "liveness";
        pod->changed.notify();
        co_return;
      }
    } else if (success) {
      c.status.started = true;
      if (!c.spec->readiness) c.status.ready = true;
      pod->changed.notify();
      co_return;
    } else {
      c.restart_request = "startup";
      pod->changed.notify();
      co_return;
    }
  }
}

asio::awaitable<probe_outcome> control_plane::run_probe_once(std::shared_ptr<pod_state> pod, container_state& c,
                                                             const probe_spec& probe) {
  const auto timeout = scaled(probe.timeout);

  if (const auto* get = std::get_if<http_get_action>(&probe.action)) {
    const int port = resolve_port(get->port, *c.spec);
    if (port == 0) {
      co_return probe_outcome{probe_outcome::result::failure,
                              "port " + describe_port(get->port) + " not found in container " + c.status.name};
    }
    const std::string host = get->host.empty() ? pod->ip : get->host;
    co_return co_await http_get(host, port, get->path, get->headers, timeout);
  }

  if (const auto* socket = std::get_if<tcp_socket_action>(&probe.action)) {
    const int port = resolve_port(socket->port, *c.spec);
    if (port == 0) {
      co_return probe_outcome{probe_outcome::result::failure,
                              "port " + describe_port(socket->port) + " not found in container " + c.status.name};
    }
    const std::string host = socket->host.empty() ? pod->ip : socket->host;
    co_return co_await tcp_probe(host, port, timeout);
  }

  const auto& command = std::get<exec_action>(probe.action).command;
  if (!c.process) co_return probe_outcome{probe_outcome::result::failure, "container is not running"};
  ++pod->blocking_calls;
  exec_result result;
  std::string failure;
  try {
    auto run = [process = c.process, command, limit = std::chrono::duration_cast<std::chrono::milliseconds>(timeout)] {
      return process->exec(command, limit);
    };
    result = co_await run_blocking(pool_, std::move(run));
  } catch (const std::exception& e) {
    failure = e.what();
  }
  --pod->blocking_calls;
  pod->changed.notify();

  if (!failure.empty()) co_return probe_outcome{probe_outcome::result::failure, "exec failed: " + failure};
  if (result.timed_out) {
    std::string joined;
    for (const auto& word : command) joined += (joined.empty() ? "" : " ") + word;
    co_return probe_outcome{probe_outcome::result::failure,
                            "command \"" + joined + "\" timed out after " +
                                std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count()) +
                                "ms"};
  }
  if (result.exit_code != 0) {
    co_return probe_outcome{probe_outcome::result::failure,
                            "exit code " + std::to_string(result.exit_code) +
                                (result.output.empty() ? "" : ": " + result.output)};
  }
  co_return probe_outcome{probe_outcome::result::success, result.output};
}

}  // namespace podsim::detail
