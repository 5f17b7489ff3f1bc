// Output in kubectl's formats: the STATUS column with kubectl's rules, ages,
// and the tables of `get pods`, `get events`, `get services` and `describe pod`.

#include "control_plane.hpp"

#include <algorithm>
#include <ctime>
#include <sstream>

namespace podsim {

std::string format_age(std::chrono::system_clock::duration age) {
  using namespace std::chrono;
  const auto s = duration_cast<seconds>(age).count();
  if (s < 0) return "0s";
  const auto m = s / 60;
  const auto h = s / 3600;
  const auto d = s / 86400;
  const auto with = [](long long big, const char* big_unit, long long small, const char* small_unit) {
    return std::to_string(big) + big_unit + (small == 0 ? "" : std::to_string(small) + small_unit);
  };
  if (s < 120) return std::to_string(s) + "s";
  if (m < 10) return with(m, "m", s % 60, "s");
  if (m < 180) return std::to_string(m) + "m";
  if (h < 8) return with(h, "h", m % 60, "m");
  if (h < 48) return std::to_string(h) + "h";
  if (h < 24 * 8) return with(d, "d", h % 24, "h");
  if (d < 365 * 2) return std::to_string(d) + "d";
  const auto y = d / 365;
  if (y < 8) return with(y, "y", d % 365, "d");
  return std::to_string(y) + "y";
}

std::string pod_status::ready_column() const {
  return std::to_string(ready_containers) + "/" + std::to_string(total_containers);
}

namespace detail {
namespace {

using role = container_status::role;

std::string exit_reason(const termination_status& t) {
  return t.signal != 0 ? "Signal:" + std::to_string(t.signal) : "ExitCode:" + std::to_string(t.exit_code);
}

// Columns padded to the widest cell plus three spaces, as kubectl aligns them.
std::string render_table(const std::vector<std::vector<std::string>>& rows, const std::string& indent = "") {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string text;
  for (const auto& row : rows) {
    std::string line = indent;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 3, ' ');
    }
    text += line + "\n";
  }
  return text;
}

std::string format_time(system_clock::time_point time) {
  const std::time_t t = system_clock::to_time_t(time);
  std::tm tm{};
  localtime_r(&t, &tm);
  char text[64];
  std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S %z", &tm);
  return text;
}

std::string last_seen(const event& e, system_clock::time_point now) {
  std::string text = format_age(now - e.last_seen);
  if (e.count > 1) text += " (x" + std::to_string(e.count) + " over " + format_age(now - e.first_seen) + ")";
  return text;
}

std::string event_source(const event& e) {
  if (e.reason == "Scheduled") return "default-scheduler";
  if (e.object.starts_with("replicaset/")) return "replicaset-controller";
  if (e.object.starts_with("deployment/")) return "deployment-controller";
  return "kubelet";
}

std::string quantity_of_bytes(std::uint64_t bytes) {
  constexpr std::pair<const char*, std::uint64_t> units[] = {
      {"Gi", 1ull << 30}, {"Mi", 1ull << 20}, {"Ki", 1ull << 10}};
  for (const auto& [suffix, size] : units) {
    if (bytes % size == 0) return std::to_string(bytes / size) + suffix;
  }
  return std::to_string(bytes);
}

std::string describe_port(const port_ref& port) {
  if (const int* number = std::get_if<int>(&port)) return std::to_string(*number);
  return std::get<std::string>(port);
}

std::string describe_probe(const probe_spec& probe) {
  std::string action;
  if (const auto* get = std::get_if<http_get_action>(&probe.action)) {
    action = "http-get http://" + get->host + ":" + describe_port(get->port) + get->path;
  } else if (const auto* socket = std::get_if<tcp_socket_action>(&probe.action)) {
    action = "tcp-socket " + socket->host + ":" + describe_port(socket->port);
  } else {
    std::string words;
    for (const auto& word : std::get<exec_action>(probe.action).command) words += (words.empty() ? "" : " ") + word;
    action = "exec [" + words + "]";
  }
  return action + " delay=" + std::to_string(probe.initial_delay.count()) + "s timeout=" +
         std::to_string(probe.timeout.count()) + "s period=" + std::to_string(probe.period.count()) +
         "s #success=" + std::to_string(probe.success_threshold) + " #failure=" +
         std::to_string(probe.failure_threshold);
}

void describe_state(std::ostringstream& out, const char* title, const std::string& state,
                    const std::string& reason, const std::string& message, const termination_status* t,
                    system_clock::time_point started_at) {
  out << "    " << title << std::string(16 - std::string_view(title).size(), ' ') << state << "\n";
  if (!reason.empty() && state != "Running") out << "      Reason:       " << reason << "\n";
  if (!message.empty() && state == "Waiting") out << "      Message:      " << message << "\n";
  if (t != nullptr) {
    out << "      Exit Code:    " << t->exit_code << "\n";
    if (t->signal != 0) out << "      Signal:       " << t->signal << "\n";
    out << "      Started:      " << format_time(t->started_at) << "\n";
    out << "      Finished:     " << format_time(t->finished_at) << "\n";
  } else if (state == "Running") {
    out << "      Started:      " << format_time(started_at) << "\n";
  }
}

void describe_container(std::ostringstream& out, const container_status& status, const container_spec& spec) {
  out << "  " << status.name << ":\n";
  out << "    Image:          " << spec.image << "\n";

  if (status.pid != 0) out << "    Host PID:       " << status.pid << "\n";
  for (const auto& port : spec.ports) {
    out << "    Port:           " << port.container_port << "/" << port.protocol
        << (port.name.empty() ? "" : " (" + port.name + ")") << "\n";
  }
  if (!spec.command.empty()) {
    out << "    Command:\n";
    for (const auto& word : spec.command) out << "      " << word << "\n";
  }
  if (!spec.args.empty()) {
    out << "    Args:\n";
    for (const auto& word : spec.args) out << "      " << word << "\n";
  }

  describe_state(out, "State:", status.state, status.reason, status.message,
                 status.terminated ? &*status.terminated : nullptr, status.started_at);
  if (status.last_termination) {
    describe_state(out, "Last State:", "Terminated", status.last_termination->reason, "", &*status.last_termination,
                   status.started_at);
  }
  out << "    Ready:          " << (status.ready ? "True" : "False") << "\n";
  out << "    Restart Count:  " << status.restart_count << "\n";

  if (spec.memory_limit || spec.cpu_limit) {
    out << "    Limits:\n";
    if (spec.cpu_limit) out << "      cpu:     " << *spec.cpu_limit << "m\n";
    if (spec.memory_limit) out << "      memory:  " << quantity_of_bytes(*spec.memory_limit) << "\n";
  }
  if (spec.liveness) out << "    Liveness:       " << describe_probe(*spec.liveness) << "\n";
  if (spec.readiness) out << "    Readiness:      " << describe_probe(*spec.readiness) << "\n";
  if (spec.startup) out << "    Startup:        " << describe_probe(*spec.startup) << "\n";

  out << "    Environment:";
  if (spec.env.empty()) out << "    <none>";
  out << "\n";
  for (const auto& [name, value] : spec.env) out << "      " << name << ":  " << value << "\n";
  out << "    Mounts:";
  if (spec.volume_mounts.empty()) out << "         <none>";
  out << "\n";
  for (const auto& mount : spec.volume_mounts) {
    out << "      " << mount.mount_path << " from " << mount.name << (mount.read_only ? " (ro)" : " (rw)") << "\n";
  }
}

void describe_map(std::ostringstream& out, const char* title, const std::map<std::string, std::string>& values,
                  const char* separator) {
  out << title << std::string(18 - std::string_view(title).size(), ' ');
  if (values.empty()) out << "<none>\n";
  bool first = true;
  for (const auto& [key, value] : values) {
    if (!first) out << std::string(18, ' ');
    out << key << separator << value << "\n";
    first = false;
  }
}

}  // namespace

std::string pod_status_column(const pod_status& pod) {
  std::string reason = pod.phase;

  // The first init container that is not done decides, as in kubectl.
  bool initializing = false;
  for (std::size_t i = 0; i < pod.init_containers.size(); ++i) {
    const container_status& c = pod.init_containers[i];
    if (c.state == "Terminated" && c.terminated && c.terminated->exit_code == 0) continue;
    if (c.kind == role::sidecar && c.started) continue;
    initializing = true;
    if (c.state == "Terminated" && c.terminated) {
      reason = "Init:" + (c.terminated->reason.empty() ? exit_reason(*c.terminated) : c.terminated->reason);
    } else if (c.state == "Waiting" && !c.reason.empty() && c.reason != "PodInitializing") {
      reason = "Init:" + c.reason;
    } else {
      reason = "Init:" + std::to_string(i) + "/" + std::to_string(pod.init_containers.size());
    }
    break;
  }

  if (!initializing) {
    bool has_running = false;
    for (auto it = pod.containers.rbegin(); it != pod.containers.rend(); ++it) {
      const container_status& c = *it;
      if (c.state == "Waiting" && !c.reason.empty()) {
        reason = c.reason;
      } else if (c.state == "Terminated" && c.terminated) {
        reason = c.terminated->reason.empty() ? exit_reason(*c.terminated) : c.terminated->reason;
      } else if (c.ready && c.state == "Running") {
        has_running = true;
      }
    }
    if (reason == "Completed" && has_running) reason = pod.ready ? "Running" : "NotReady";
  }

  if (pod.terminating) reason = "Terminating";
  return reason;
}

std::string render_pod_table(const std::vector<pod_status>& pods, bool wide) {
  const auto now = system_clock::now();
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> header = {"NAME", "READY", "STATUS", "RESTARTS", "AGE"};
  if (wide) header.insert(header.end(), {"IP", "NODE"});
  rows.push_back(header);
  for (const auto& pod : pods) {
    std::string restarts = std::to_string(pod.restarts);
    if (pod.last_restart) restarts += " (" + format_age(now - *pod.last_restart) + " ago)";
    std::vector<std::string> row = {pod.name, pod.ready_column(), pod.status, restarts, format_age(now - pod.created)};
    if (wide) row.insert(row.end(), {pod.ip.empty() ? "<none>" : pod.ip, "<this machine>"});
    rows.push_back(std::move(row));
  }
  if (pods.empty()) return "No resources found in default namespace.\n";
  return render_table(rows);
}

std::string render_event_table(const std::vector<event>& events) {
  if (events.empty()) return "No events found.\n";
  std::vector<event> sorted = events;
  std::stable_sort(sorted.begin(), sorted.end(), [](const event& a, const event& b) { return a.last_seen < b.last_seen; });
  const auto now = system_clock::now();
  std::vector<std::vector<std::string>> rows = {{"LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"}};
  for (const auto& e : sorted) rows.push_back({last_seen(e, now), e.type, e.reason, e.object, e.message});
  return render_table(rows);
}

std::string render_service_table(const std::vector<service_status>& services) {
  if (services.empty()) return "No resources found in default namespace.\n";
  std::vector<std::vector<std::string>> rows = {{"NAME", "PORT(S)", "HOST ADDRESS", "ENDPOINTS"}};
  for (const auto& service : services) {
    for (const auto& port : service.ports) {
      std::string endpoints;
      for (const auto& e : port.endpoints) endpoints += (endpoints.empty() ? "" : ",") + e.ip + ":" + std::to_string(e.port);
      rows.push_back({service.name, std::to_string(port.port) + "/TCP",
                      "127.0.0.1:" + std::to_string(port.host_port), endpoints.empty() ? "<none>" : endpoints});
    }
  }
  return render_table(rows);
}

std::string render_pod_description(const pod_status& pod, const pod_spec& spec, const std::vector<event>& events,
                                   const std::string& node) {
  std::ostringstream out;
  out << "Name:             " << pod.name << "\n";
  out << "Namespace:        " << pod.namespace_name << "\n";
  out << "Node:             " << node << "\n";
  out << "Start Time:       " << format_time(pod.created) << "\n";
  describe_map(out, "Labels:", pod.labels, "=");
  describe_map(out, "Annotations:", pod.annotations, ": ");
  out << "Status:           " << (pod.terminating ? "Terminating" : pod.phase) << "\n";
  out << "IP:               " << pod.ip << "\n";
  if (!pod.owner.empty()) out << "Controlled By:    Deployment/" << pod.owner << "\n";
  if (spec.share_process_namespace) out << "Process Namespace: shared\n";

  if (!pod.init_containers.empty()) {
    out << "Init Containers:\n";
    for (std::size_t i = 0; i < pod.init_containers.size(); ++i) describe_container(out, pod.init_containers[i], spec.init_containers[i]);
  }
  out << "Containers:\n";
  for (std::size_t i = 0; i < pod.containers.size(); ++i) describe_container(out, pod.containers[i], spec.containers[i]);

  const bool initialized = std::all_of(pod.init_containers.begin(), pod.init_containers.end(), [](const auto& c) {
    return (c.kind == role::sidecar && c.started) || (c.terminated && c.terminated->exit_code == 0);
  });
  const bool containers_ready = std::all_of(pod.containers.begin(), pod.containers.end(), [](const auto& c) { return c.ready; });
  out << "Conditions:\n";
  out << render_table({{"Type", "Status"},
                       {"Initialized", initialized ? "True" : "False"},
                       {"Ready", pod.ready ? "True" : "False"},
                       {"ContainersReady", containers_ready ? "True" : "False"}},
                      "  ");

  out << "Volumes:";
  if (spec.volumes.empty()) out << "          <none>";
  out << "\n";
  for (const auto& volume : spec.volumes) {
    out << "  " << volume.name << ":\n";
    if (volume.is_host_path()) {
      out << "    Type:       HostPath (bare host directory volume)\n";
      out << "    Path:       " << *volume.host_path << "\n";
    } else if (volume.is_config_map()) {
      out << "    Type:       ConfigMap (a volume populated by a ConfigMap)\n";
      out << "    Name:       " << std::get<std::string>(volume.source) << "\n";
    } else {
      out << "    Type:       EmptyDir (a temporary directory that shares a pod's lifetime)\n";
    }
    const auto path = pod.volume_paths.find(volume.name);
    if (path != pod.volume_paths.end()) out << "    Host path:  " << path->second.string() << "\n";
  }

  out << "Events:";
  if (events.empty()) {
    out << "           <none>\n";
    return out.str();
  }
  out << "\n";
  const auto now = system_clock::now();
  std::vector<std::vector<std::string>> rows = {{"Type", "Reason", "Age", "From", "Message"},
                                                {"----", "------", "----", "----", "-------"}};
  for (const auto& e : events) rows.push_back({e.type, e.reason, last_seen(e, now), event_source(e), e.message});
  out << render_table(rows, "  ");
  return out.str();
}

}  // namespace detail

std::string format_event_row(const event& e, bool header) {
  // Streamed rows cannot be aligned on the widest cell, so the widths are fixed.
  const auto cell = [](std::string text, std::size_t width) {
    if (text.size() + 3 < width) text += std::string(width - text.size(), ' ');
    else text += "   ";
    return text;
  };
  std::string text;
  if (header) text = cell("LAST SEEN", 12) + cell("TYPE", 10) + cell("REASON", 20) + cell("OBJECT", 36) + "MESSAGE\n";
  text += cell(detail::last_seen(e, std::chrono::system_clock::now()), 12) + cell(e.type, 10) + cell(e.reason, 20) + cell(e.object, 36) +
          e.message + "\n";
  return text;
}

}  // namespace podsim
