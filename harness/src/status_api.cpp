// The status API: read-only JSON under /api/ for programs, and the text
// tables that `podsim get` and `podsim describe` print.
//
//   GET /api/pods   /api/pod?name=NAME   /api/events   /api/services   /api/scrapes
//   GET /pods[?wide=1]   /describe?pod=NAME   /events   /services

#include "control_plane.hpp"

#include <cmath>
#include <sstream>

#include <boost/asio/detached.hpp>

namespace podsim::detail {
namespace {

using namespace std::string_literals;

// A compact JSON writer: members and elements are separated automatically.
class json_writer {
 public:
  json_writer& begin_object() { return open('{'); }
  json_writer& end_object() { return close('}'); }
  json_writer& begin_array() { return open('['); }
  json_writer& end_array() { return close(']'); }

  json_writer& key(std::string_view name) {
    separate();
    sidecar::append_json_string(text_, name);
    text_ += ':';
    after_key_ = true;
    return *this;
  }
  json_writer& value(std::string_view text) {
    separate();
    sidecar::append_json_string(text_, text);
    return *this;
  }
  json_writer& value(const char* text) { return value(std::string_view(text)); }
  json_writer& value(const std::string& text) { return value(std::string_view(text)); }
  json_writer& value(bool flag) {
    separate();
    text_ += flag ? "true" : "false";
    return *this;
  }
  json_writer& value(long long number) {
    separate();
    text_ += std::to_string(number);
    return *this;
  }
  json_writer& value(int number) { return value(static_cast<long long>(number)); }
  json_writer& value(double number) {
    separate();
    if (std::isfinite(number)) {
      std::ostringstream out;
      out.precision(17);
      out << number;
      text_ += out.str();
    } else if (std::isnan(number)) {
      // JSON has no NaN or infinity; Prometheus' own API writes them as strings.
      sidecar::append_json_string(text_, "NaN");
    } else {
      sidecar::append_json_string(text_, number > 0 ? "+Inf" : "-Inf");
    }
    return *this;
  }
  json_writer& null() {
    separate();
    text_ += "null";
    return *this;
  }
  json_writer& time(system_clock::time_point t) { return value(sidecar::format_rfc3339(t)); }

  std::string take() { return std::move(text_); }

 private:
  json_writer& open(char c) {
    separate();
    text_ += c;
    first_.push_back(true);
    return *this;
  }
  json_writer& close(char c) {
    text_ += c;
    first_.pop_back();
    return *this;
  }
  void separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (first_.empty()) return;
    if (!first_.back()) text_ += ',';
    first_.back() = false;
  }

  std::string text_;
  std::vector<bool> first_;
  bool after_key_ = false;
};

const char* role_name(container_status::role role) {
  switch (role) {
    case container_status::role::init: return "init";
    case container_status::role::sidecar: return "sidecar";
    case container_status::role::main: return "main";
  }
  return "main";
}

void write_termination(json_writer& json, const termination_status& t) {
  json.begin_object();
  json.key("reason").value(t.reason).key("exit_code").value(t.exit_code).key("signal").value(t.signal);
  json.key("message").value(t.message).key("started_at").time(t.started_at).key("finished_at").time(t.finished_at);
  json.end_object();
}

void write_container(json_writer& json, const container_status& c) {
  json.begin_object();
  json.key("name").value(c.name).key("role").value(role_name(c.kind)).key("state").value(c.state);
  json.key("reason").value(c.reason).key("message").value(c.message);
  json.key("ready").value(c.ready).key("started").value(c.started).key("restart_count").value(c.restart_count);
  json.key("pid").value(static_cast<long long>(c.pid));
  json.key("started_at");
  if (c.state == "Running") {
    json.time(c.started_at);
  } else {
    json.null();
  }
  json.key("terminated");
  if (c.terminated) {
    write_termination(json, *c.terminated);
  } else {
    json.null();
  }
  json.key("last_termination");
  if (c.last_termination) {
    write_termination(json, *c.last_termination);
  } else {
    json.null();
  }
  json.end_object();
}

void write_string_map(json_writer& json, const std::map<std::string, std::string>& values) {
  json.begin_object();
  for (const auto& [key, value] : values) json.key(key).value(value);
  json.end_object();
}

void write_pod(json_writer& json, const pod_status& pod) {
  json.begin_object();
  json.key("name").value(pod.name).key("namespace").value(pod.namespace_name).key("owner").value(pod.owner);
  json.key("phase").value(pod.phase).key("status").value(pod.status).key("ready").value(pod.ready);
  json.key("ready_containers").value(pod.ready_containers).key("total_containers").value(pod.total_containers);
  json.key("restarts").value(pod.restarts).key("ip").value(pod.ip).key("terminating").value(pod.terminating);
  json.key("created").time(pod.created);
  json.key("labels");
  write_string_map(json, pod.labels);
  json.key("annotations");
  write_string_map(json, pod.annotations);
  json.key("volumes").begin_object();
  for (const auto& [name, path] : pod.volume_paths) json.key(name).value(path.string());
  json.end_object();
  json.key("init_containers").begin_array();
  for (const auto& c : pod.init_containers) write_container(json, c);
  json.end_array();
  json.key("containers").begin_array();
  for (const auto& c : pod.containers) write_container(json, c);
  json.end_array();
  json.end_object();
}

void write_event(json_writer& json, const event& e) {
  json.begin_object();
  json.key("type").value(e.type).key("reason").value(e.reason).key("object").value(e.object);
  json.key("message").value(e.message).key("count").value(e.count);
  json.key("first_seen").time(e.first_seen).key("last_seen").time(e.last_seen);
  json.end_object();
}

sidecar::http::response json_response(std::string body) {
  return sidecar::http::make_response(200, std::move(body) + "\n", "application/json");
}

sidecar::http::response text_response(std::string body) { return sidecar::http::make_response(200, std::move(body)); }

std::vector<event> events_about(const std::deque<event>& events, const std::string& object) {
  std::vector<event> result;
  for (const auto& e : events) {
    if (e.object == object) result.push_back(e);
  }
  return result;
}

}  // namespace

void control_plane::start_status_api() {
  if (options_.status_listen.empty()) return;
  using request = sidecar::http::request;
  using response = sidecar::http::response;
  auto routes = std::make_shared<sidecar::http::router>();

  routes->add("GET", "/api/pods", [this](const request&) -> asio::awaitable<response> {
    json_writer json;
    json.begin_object().key("pods").begin_array();
    for (const auto& pod : pod_views()) write_pod(json, pod);
    json.end_array().end_object();
    co_return json_response(json.take());
  });
  routes->add("GET", "/api/pod", [this](const request& r) -> asio::awaitable<response> {
    const auto found = pods_.find(std::string(r.query_param("name")));
    if (found == pods_.end()) co_return sidecar::http::make_response(404, "pod not found\n");
    json_writer json;
    write_pod(json, view(*found->second));
    co_return json_response(json.take());
  });
  routes->add("GET", "/api/events", [this](const request&) -> asio::awaitable<response> {
    json_writer json;
    json.begin_object().key("events").begin_array();
    for (const auto& e : events_) write_event(json, e);
    json.end_array().end_object();
    co_return json_response(json.take());
  });
  routes->add("GET", "/api/services", [this](const request&) -> asio::awaitable<response> {
    json_writer json;
    json.begin_object().key("services").begin_array();
    for (const auto& service : service_views()) {
      json.begin_object().key("name").value(service.name).key("namespace").value(service.namespace_name);
      json.key("selector");
      write_string_map(json, service.selector);
      json.key("ports").begin_array();
      for (const auto& port : service.ports) {
        json.begin_object().key("name").value(port.name).key("port").value(port.port);
        json.key("host_port").value(static_cast<int>(port.host_port)).key("endpoints").begin_array();
        for (const auto& e : port.endpoints) {
          json.begin_object().key("pod").value(e.pod).key("ip").value(e.ip).key("port").value(e.port).end_object();
        }
        json.end_array().end_object();
      }
      json.end_array().end_object();
    }
    json.end_array().end_object();
    co_return json_response(json.take());
  });
  routes->add("GET", "/api/scrapes", [this](const request&) -> asio::awaitable<response> {
    json_writer json;
    json.begin_object().key("scrapes").begin_array();
    for (const auto& [pod, s] : scrapes_) {
      json.begin_object().key("pod").value(s.pod).key("url").value(s.url).key("up").value(s.up);
      json.key("scrapes").value(s.scrapes).key("failures").value(s.failures).key("error").value(s.error);
      json.key("time").time(s.time).key("duration_ms").value(static_cast<long long>(s.duration.count()));
      json.key("samples").begin_array();
      for (const auto& sample : s.samples) {
        json.begin_object().key("name").value(sample.name).key("labels").begin_object();
        for (const auto& [key, value] : sample.labels) json.key(key).value(value);
        json.end_object().key("value").value(sample.value).end_object();
      }
      json.end_array().end_object();
    }
    json.end_array().end_object();
    co_return json_response(json.take());
  });

  routes->add("GET", "/pods", [this](const request& r) -> asio::awaitable<response> {
    co_return text_response(render_pod_table(pod_views(), !r.query_param("wide").empty()));
  });
  routes->add("GET", "/describe", [this](const request& r) -> asio::awaitable<response> {
    const std::string name(r.query_param("pod"));
    const auto found = pods_.find(name);
    if (found == pods_.end()) {
      co_return sidecar::http::make_response(404, "Error from server (NotFound): pods \"" + name + "\" not found\n");
    }
    const pod_state& pod = *found->second;
    co_return text_response(render_pod_description(view(pod), pod.object.spec, events_about(events_, "pod/" + name),
                                                   node_name_));
  });
  routes->add("GET", "/events", [this](const request&) -> asio::awaitable<response> {
    co_return text_response(render_event_table({events_.begin(), events_.end()}));
  });
  routes->add("GET", "/services", [this](const request&) -> asio::awaitable<response> {
    co_return text_response(render_service_table(service_views()));
  });

  status_server_ = std::make_unique<sidecar::http::server>(
      executor_, sidecar::http::server_options{.listen = options_.status_listen}, routes, log_);
  const auto [host, port] = sidecar::http::parse_listen_address(options_.status_listen);
  status_address_ = host + ":" + std::to_string(status_server_->port());
  asio::co_spawn(executor_, status_server_->run(), asio::detached);
}

}  // namespace podsim::detail
