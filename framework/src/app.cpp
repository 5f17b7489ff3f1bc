#include "sidecar/app.hpp"

#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "sidecar/duration.hpp"
#include "sidecar/http_client.hpp"
#include "sidecar/metrics.hpp"
#include "sidecar/url.hpp"

namespace sidecar {

struct app::signals {
  explicit signals(asio::io_context& io) : set(io, SIGTERM, SIGINT, SIGHUP) {}
  asio::signal_set set;
};

namespace {

void log_exception(const logger& log, std::string_view msg, const std::exception_ptr& error) {
  if (!error) return;
  try {
    std::rethrow_exception(error);
  } catch (const boost::system::system_error& e) {
    if (e.code() != asio::error::operation_aborted) log.error(msg, {{"error", e.what()}});
  } catch (const std::exception& e) {
    log.error(msg, {{"error", e.what()}});
  } catch (...) {
    log.error(msg, {{"error", "unknown exception"}});
  }
}

// "/ready" -> "ready", "/api/ready" -> "api-ready", "/" -> "root".
std::string duty_name_for_path(std::string_view path) {
  std::string name;
  for (const char c : path) {
    if (c == '/') {
      if (!name.empty() && name.back() != '-') name.push_back('-');
    } else {
      name.push_back(c);
    }
  }
  if (!name.empty() && name.back() == '-') name.pop_back();
  if (name.empty() || name.front() == '-') name.insert(0, "root");
  return name;
}

[[noreturn]] void usage_error(std::string_view program, std::string_view message) {
  std::fprintf(stderr, "%.*s: %.*s\n", static_cast<int>(program.size()), program.data(),
               static_cast<int>(message.size()), message.data());
  std::fprintf(stderr,
               "usage: %.*s [--listen HOST:PORT] [--app URL] [--log-level debug|info|warn|error]\n"
               "       [--grace DURATION] [--drain DURATION] [--NAME VALUE]...\n",
               static_cast<int>(program.size()), program.data());
  std::exit(2);
}

}  // namespace

app::app(app_options options)
    : options_(std::move(options)),
      io_(std::make_unique<asio::io_context>(1)),
      logs_(std::make_shared<log_sink>(options_.level)),
      log_(logs_->make_logger("main")),
      metrics_(std::make_unique<sidecar::metrics>()),
      http_(std::make_unique<http::client>(io_->get_executor())),
      routes_(std::make_shared<http::router>()),
      supervisor_(std::make_unique<sidecar::supervisor>(io_->get_executor(), logs_, *metrics_, *http_,
                                                        options_.backoff)),
      signals_(std::make_unique<signals>(*io_)) {
  prometheus::BuildGauge()
      .Name("sidecar_build_info")
      .Help("Always 1; the labels name the sidecar's version.")
      .Register(metrics_->registry())
      .Add({{"version", SIDECAR_VERSION}})
      .Set(1);
}

app::~app() = default;

app_options app::options_from_args(std::string name, int argc, char** argv) {
  app_options options;
  options.name = std::move(name);
  const std::string_view program = argc > 0 ? argv[0] : options.name;

  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::printf("usage: %s [--listen HOST:PORT] [--app URL] [--log-level debug|info|warn|error]\n"
                  "       [--grace DURATION] [--drain DURATION] [--NAME VALUE]...\n",
                  argv[0]);
      std::exit(0);
    }
    if (!arg.starts_with("--") || arg.size() == 2) usage_error(program, "unexpected argument \"" + std::string(arg) + "\"");
    if (i + 1 >= argc) usage_error(program, "option " + std::string(arg) + " needs a value");
    const std::string_view key = arg.substr(2);
    const std::string value = argv[++i];

    if (key == "listen") {
      options.server.listen = value;
    } else if (key == "app") {
      options.app_url = value;
    } else if (key == "log-level") {
      try {
        options.level = parse_log_level(value);
      } catch (const std::invalid_argument& e) {
        usage_error(program, e.what());
      }
    } else if (key == "grace" || key == "drain") {
      const auto d = parse_duration(value);
      if (!d) usage_error(program, "--" + std::string(key) + " \"" + value + "\" is not a duration, expected e.g. 5s");
      (key == "grace" ? options.grace : options.drain) = *d;
    } else {
      options.flags.insert_or_assign(std::string(key), value);
    }
  }
  return options;
}

asio::any_io_executor app::executor() { return io_->get_executor(); }
asio::io_context& app::io_context() { return *io_; }
sidecar::metrics& app::metrics() { return *metrics_; }
http::client& app::http() { return *http_; }
http::router& app::routes() { return *routes_; }
sidecar::supervisor& app::supervisor() { return *supervisor_; }
std::uint16_t app::port() const { return server_ ? server_->port() : 0; }

std::string app::url(std::string_view reference) const {
  std::string error;
  const auto base = parse_url(options_.app_url, &error);
  if (!base) return std::string(reference);
  const auto resolved = resolve_url(*base, reference, &error);
  return resolved ? resolved->to_string() : std::string(reference);
}

std::string app::flag(std::string_view name, std::string fallback) const {
  const auto it = options_.flags.find(name);
  return it == options_.flags.end() ? std::move(fallback) : it->second;
}

std::chrono::milliseconds app::duration_flag(std::string_view name, std::chrono::milliseconds fallback) const {
  const auto it = options_.flags.find(name);
  if (it == options_.flags.end()) return fallback;
  const auto d = parse_duration(it->second);
  if (!d) usage_error(options_.name, "--" + std::string(name) + " \"" + it->second + "\" is not a duration, expected e.g. 5s");
  return *d;
}

void app::add_duty(std::string name, duty_function fn) {
  duty d{std::move(name), std::move(fn)};
  if (running_) {
    supervisor_->start(std::move(d));
  } else {
    pending_.push_back(std::move(d));
  }
}

void app::every(std::string name, std::chrono::milliseconds period, duty_function fn) {
  add_duty(std::move(name), [period, fn = std::move(fn)](duty_context& ctx) -> asio::awaitable<void> {
    asio::steady_timer timer(ctx.executor);
    for (;;) {
      const auto started = std::chrono::steady_clock::now();
      co_await fn(ctx);
      timer.expires_at(started + period);
      co_await timer.async_wait(asio::use_awaitable);
    }
  });
}

std::shared_ptr<sidecar::probe> app::probe(std::string path, std::unique_ptr<check> c, probe_options options) {
  std::string duty = duty_name_for_path(path);
  std::vector<named_check> checks;
  checks.push_back({std::string(c->kind()), std::move(c)});
  return add_probe(std::move(duty), std::move(path), options, std::move(checks));
}

std::shared_ptr<sidecar::probe> app::add_probe(std::string duty, std::string path, probe_options options,
                                               std::vector<named_check> checks) {
  auto p = sidecar::probe::create(duty, options, std::move(checks), *metrics_, logs_->make_logger(duty));
  if (draining_) p->set_draining();
  routes_->add("GET", std::move(path), p->handler());
  probes_.push_back(p);
  add_duty(std::move(duty), [p](duty_context&) { return p->run(); });
  return p;
}

void app::remove_probe(std::string_view duty) {
  for (auto it = probes_.begin(); it != probes_.end();) {
    if ((*it)->duty() == duty) {
      it = probes_.erase(it);
    } else {
      ++it;
    }
  }
}

void app::on_drain(std::function<void()> fn) { drain_handlers_.push_back(std::move(fn)); }
void app::on_reload(std::function<void()> fn) { reload_handlers_.push_back(std::move(fn)); }

void app::start_signal_wait() {
  signals_->set.async_wait([this](const boost::system::error_code& error, int signal) {
    if (error) return;
    if (signal == SIGHUP) {
      log_.info("reload requested", {{"signal", "SIGHUP"}});
      for (auto& fn : reload_handlers_) fn();
      start_signal_wait();
      return;
    }
    if (stopping_) {
      log_.warn("second signal during shutdown, exiting at once", {{"signal", signal}});
      std::_Exit(128 + signal);
    }
    log_.info("shutdown requested", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}});
    shutdown();
    start_signal_wait();
  });
}

void app::shutdown() {
  if (stopping_) return;
  stopping_ = true;
  asio::co_spawn(*io_, shutdown_sequence(), [this](std::exception_ptr error) {
    log_exception(log_, "shutdown failed", error);
    io_->stop();
  });
}

asio::awaitable<void> app::shutdown_sequence() {
  // Probe endpoints fail at once, so a Service stops routing to this pod,
  // while the server goes on answering through the drain period.
  draining_ = true;
  for (auto& p : probes_) p->set_draining();
  for (auto& fn : drain_handlers_) fn();
  if (options_.drain.count() > 0) {
    log_.info("draining", {{"drain_seconds", std::chrono::duration<double>(options_.drain).count()}});
    asio::steady_timer timer(*io_, options_.drain);
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }

  log_.info("stopping duties", {{"grace_seconds", std::chrono::duration<double>(options_.grace).count()}});
  const std::vector<std::string> late = co_await supervisor_->stop({}, options_.grace);
  for (const std::string& name : late) log_.warn("duty did not stop within the grace period", {{"stuck", name}});

  if (server_) server_->stop();
  http_->close_idle();
  log_.info("sidecar stopped");
}

int app::run() {
  // Built-in routes; a program may have replaced them with its own.
  bool known = false;
  std::string allow;
  if (!routes_->find("GET", "/metrics", known, allow)) {
    routes_->add("GET", "/metrics", [this](const http::request&) -> asio::awaitable<http::response> {
      co_return http::make_response(200, metrics_->render(), exposition_content_type);
    });
  }
  if (!routes_->find("GET", "/live", known, allow)) {
    routes_->add("GET", "/live", [](const http::request&) -> asio::awaitable<http::response> {
      co_return http::make_response(200, "ok\n");
    });
  }

  try {
    server_ = std::make_unique<http::server>(io_->get_executor(), options_.server, routes_, logs_->make_logger("http"));
  } catch (const std::exception& e) {
    log_.error("listen failed", {{"listen", options_.server.listen}, {"error", e.what()}});
    return 1;
  }
  asio::co_spawn(*io_, server_->run(), [this](std::exception_ptr error) { log_exception(log_, "server failed", error); });

  running_ = true;
  for (duty& d : pending_) supervisor_->start(std::move(d));
  pending_.clear();
  start_signal_wait();
  log_.info("sidecar started", {{"name", options_.name},
                                {"version", SIDECAR_VERSION},
                                {"listen", options_.server.listen},
                                {"port", server_->port()}});

  io_->run();
  running_ = false;
  return exit_status_;
}

}  // namespace sidecar
