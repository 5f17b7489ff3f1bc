#include "sidecar/duties.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "sidecar/duration.hpp"

namespace sidecar::core {

std::shared_ptr<configured_duty> make_duty(sidecar::app& app, const duty_config& config) {
  if (std::holds_alternative<probe_duty_config>(config.kind)) {
    return std::make_shared<probe_duty>(config);
  }
  if (const auto* latency = std::get_if<latency_duty_config>(&config.kind)) {
    return std::make_shared<latency_duty>(app, config.name, *latency);
  }
  return std::make_shared<schedule_duty>(app, config.name, std::get<schedule_duty_config>(config.kind));
}

std::unique_ptr<sidecar::check> make_check(http::client& client, const check_config& config) {
  if (const auto* http = std::get_if<http_check_spec>(&config.spec)) {
    return make_http_check(client, *http);
  }
  if (const auto* tcp = std::get_if<tcp_check_spec>(&config.spec)) {
    return make_tcp_check(*tcp);
  }
  return make_file_check(std::get<file_check_spec>(config.spec));
}

std::string_view failure_label(std::string_view check_reason) {
  if (check_reason == "body_mismatch" || check_reason.starts_with("json_")) {
    return "body";
  }
  if (check_reason == "header_mismatch") {
    return "header";
  }
  return check_reason;
}

std::string describe_request(const http::client_request& request) {
  return request.method + ' ' + request.url;
}

// --- shared_run -------------------------------------------------------------

void shared_run::finish() {
  finished_ = true;
  done_.cancel();
}

asio::awaitable<void> shared_run::wait() {
  if (!finished_) {
    co_await done_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

// --- probe_duty -------------------------------------------------------------

probe_duty::probe_duty(const duty_config& config)
    : configured_duty(config.name), config_(std::get<probe_duty_config>(config.kind)) {}

std::string probe_duty::summary() const {
  std::string text = "GET " + config_.path + ", ";
  if (config_.options.mode == probe_mode::periodic) {
    text += "periodic every " + format_duration(config_.options.every);
  } else {
    text += "on_request";
  }
  if (probe_) {
    const probe_answer& answer = probe_->answer();
    if (answer.draining) {
      text += ", draining";
    } else if (answer.ready) {
      text += ", ready";
    } else {
      text += ", not ready";
    }
  }
  return text;
}

std::vector<status_item> probe_duty::status() const {
  std::vector<status_item> items;
  if (!probe_) {
    return items;
  }
  for (const check_state& state : probe_->checks()) {
    items.push_back({state.name, state.kind, state.target, &state.history});
  }
  return items;
}

void probe_duty::start(sidecar::app& app) {
  std::vector<named_check> checks;
  for (const check_config& check : config_.checks) {
    checks.push_back({check.name, make_check(app.http(), check)});
  }
  probe_ = app.add_probe(name(), config_.path, config_.options, std::move(checks));
}

void probe_duty::retire(sidecar::app& app) {
  app.routes().remove(config_.path);
  app.remove_probe(name());
  probe_.reset();
}

}  // namespace sidecar::core
