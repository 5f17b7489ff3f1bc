#include "sidecar/runtime.hpp"

#include <algorithm>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "sidecar/metrics.hpp"
#include "sidecar/status_page.hpp"
#include "sidecar/supervisor.hpp"

namespace sidecar::core {
namespace {

const duty_config* find_duty(const sidecar_config& config, const std::string& name) {
  auto it = std::find_if(config.duties.begin(), config.duties.end(),
                         [&](const duty_config& duty) { return duty.name == name; });
  return it == config.duties.end() ? nullptr : &*it;
}

bool same_server_settings(const http::server_options& a, const http::server_options& b) {
  return a.max_connections == b.max_connections && a.read_timeout == b.read_timeout &&
         a.idle_timeout == b.idle_timeout;
}

}  // namespace

struct runtime::instruments {
  explicit instruments(prometheus::Registry& registry)
      : reloads(prometheus::BuildCounter()
                    .Name("sidecar_config_reloads_total")
                    .Help("Config reloads, by result: success or failure.")
                    .Register(registry)),
        reload_success(reloads.Add({{"result", "success"}})),
        reload_failure(reloads.Add({{"result", "failure"}})),
        last_reload_success(prometheus::BuildGauge()
                                .Name("sidecar_config_last_reload_success")
                                .Help("Whether the last config reload succeeded (1) or failed (0).")
                                .Register(registry)
                                .Add({})) {
    last_reload_success.Set(1);
  }

  prometheus::Family<prometheus::Counter>& reloads;
  prometheus::Counter& reload_success;
  prometheus::Counter& reload_failure;
  prometheus::Gauge& last_reload_success;
};

// One request for a reload and its result, which the caller awaits.
struct runtime::reload_job {
  explicit reload_job(asio::any_io_executor executor) : done(std::move(executor)) {}
  shared_run done;
  reload_result result{false, "the reload did not finish"};
};

runtime::runtime(sidecar::app& app, std::filesystem::path config_file, sidecar_config config)
    : app_(app),
      config_file_(std::move(config_file)),
      config_(std::move(config)),
      log_(app.log()),
      instruments_(std::make_unique<instruments>(app.metrics().registry())),
      loaded_at_(std::chrono::system_clock::now()) {}

runtime::~runtime() = default;

void runtime::start() {
  start_duties();

  http::router& routes = app_.routes();
  routes.add("GET", "/", [this](const http::request&) -> asio::awaitable<http::response> {
    co_return serve_status_page();
  });
  // The app serves /metrics only when no route is there, so this one wins.
  routes.add("GET", "/metrics", [this](const http::request&) { return serve_metrics(); });
  routes.add("POST", "/-/reload", [this](const http::request&) { return serve_reload(); });

  app_.on_reload([this] {
    asio::co_spawn(app_.executor(), reload(), asio::detached);
  });
}

void runtime::start_duties() {
  for (const duty_config& config : config_.duties) {
    auto duty = make_duty(app_, config);
    if (auto latency = std::dynamic_pointer_cast<latency_duty>(duty)) {
      latency_duties_.push_back(latency);
    }
    duty->start(app_);
    duties_.push_back(std::move(duty));
  }
}

// --- reload -----------------------------------------------------------------

asio::awaitable<reload_result> runtime::reload() {
  // The reload runs in a coroutine of its own, so that a client hanging up
  // on POST /-/reload cannot cancel it between stopping and starting duties.
  auto job = std::make_shared<reload_job>(app_.executor());
  asio::co_spawn(app_.executor(), run_reload(job), asio::detached);
  co_await job->done.wait();
  co_return job->result;
}

asio::awaitable<void> runtime::run_reload(std::shared_ptr<reload_job> job) {
  while (reload_in_progress_) {
    auto previous = reload_in_progress_;
    co_await previous->wait();
  }
  auto current = std::make_shared<shared_run>(app_.executor());
  reload_in_progress_ = current;

  try {
    job->result = co_await reload_now();
  } catch (const std::exception& e) {
    job->result = {false, e.what()};
    log_.error("reload failed", {{"file", config_file_.string()}, {"error", e.what()}});
  }

  reload_in_progress_.reset();
  current->finish();
  job->done.finish();
}

asio::awaitable<reload_result> runtime::reload_now() {
  sidecar_config next;
  try {
    next = load_config(config_file_);
  } catch (const config_error& e) {
    instruments_->reload_failure.Increment();
    instruments_->last_reload_success.Set(0);
    last_reload_error_ = e.what();
    log_.error("reload failed", {{"file", config_file_.string()}, {"error", e.what()}});
    co_return reload_result{false, e.what()};
  }
  if (app_.draining()) {
    co_return reload_result{false, "the sidecar is shutting down, so the config was not reloaded"};
  }

  keep_restart_only_settings(next);
  co_await replace_duties(std::move(next));

  instruments_->reload_success.Increment();
  instruments_->last_reload_success.Set(1);
  last_reload_error_.clear();
  loaded_at_ = std::chrono::system_clock::now();
  log_.info("config reloaded", {{"file", config_file_.string()}, {"duties", duties_.size()}});
  co_return reload_result{true, ""};
}

// The listening socket and the shutdown sequence were set up from the first
// config; changing them needs a restart, so the running values stay.
void runtime::keep_restart_only_settings(sidecar_config& next) const {
  if (next.listen != config_.listen) {
    log_.warn("listen address change needs a restart",
              {{"listen", config_.listen}, {"requested", next.listen}});
  }
  if (!same_server_settings(next.server, config_.server)) {
    log_.warn("server settings change needs a restart");
  }
  if (next.grace != config_.grace || next.drain != config_.drain) {
    log_.warn("shutdown settings change needs a restart");
  }
  next.listen = config_.listen;
  next.server = config_.server;
  next.grace = config_.grace;
  next.drain = config_.drain;
}

asio::awaitable<void> runtime::replace_duties(sidecar_config next) {
  // Stop the old duties first. Their routes keep serving requests meanwhile.
  std::vector<std::string> names;
  for (const auto& duty : duties_) {
    names.push_back(duty->name());
  }
  std::vector<std::string> late = co_await app_.supervisor().stop(names, config_.grace);
  for (const std::string& name : late) {
    log_.warn("duty did not stop within the grace period", {{"stuck", name}});
  }

  // From here to the end nothing suspends, so no request is served between
  // removing the old routes and adding the new ones: a probe path that both
  // configs have never answers 404 during a reload. An evaluation of an old
  // probe still in flight finishes on its own and answers its waiting
  // requests; a new probe of the same name shares its metric series.
  for (const auto& duty : duties_) {
    duty->retire(app_);
  }
  remove_orphaned_series(next);

  duties_.clear();
  latency_duties_.clear();
  config_ = std::move(next);
  app_.logs()->set_min_level(config_.level);
  start_duties();
}

// Latency and schedule duties leave their series behind when retired, so
// that a successor of the same name continues the counters. Series without
// such a successor are removed here. A latency duty whose buckets changed
// starts a new histogram.
void runtime::remove_orphaned_series(const sidecar_config& next) const {
  for (const auto& duty : duties_) {
    const duty_config* successor = find_duty(next, duty->name());
    bool continued = successor != nullptr && kind_name(*successor) == duty->kind();
    if (continued) {
      const auto* latency = std::get_if<latency_duty_config>(&successor->kind);
      const auto* old_latency = dynamic_cast<const latency_duty*>(duty.get());
      if (latency != nullptr && old_latency != nullptr && latency->buckets != old_latency->config().buckets) {
        continued = false;
      }
    }
    if (!continued) {
      duty->remove_series();
    }
    if (successor == nullptr) {
      app_.supervisor().forget(duty->name());
    }
  }
}

// --- routes -----------------------------------------------------------------

asio::awaitable<http::response> runtime::serve_metrics() {
  // Start every measurement before awaiting any, so a scrape takes as long as
  // the slowest request rather than their sum.
  std::vector<std::shared_ptr<shared_run>> runs;
  for (const auto& duty : latency_duties_) {
    runs.push_back(duty->begin_measurement());
  }
  for (const auto& run : runs) {
    co_await run->wait();
  }
  co_return http::make_response(200, app_.metrics().render(), exposition_content_type);
}

asio::awaitable<http::response> runtime::serve_reload() {
  reload_result result = co_await reload();
  if (!result.success) {
    co_return http::make_response(400, result.error + "\n");
  }
  co_return http::make_response(200, "reloaded\n");
}

http::response runtime::serve_status_page() const {
  status_page_info info{.version = SIDECAR_VERSION,
                        .config_file = config_file_.string(),
                        .listen = config_.listen,
                        .loaded_at = loaded_at_,
                        .last_reload_error = last_reload_error_,
                        .draining = app_.draining()};
  http::response response = http::make_response(200, render_status_page(info, duties_), "text/html; charset=utf-8");
  response.headers.set("Cache-Control", "no-store");
  return response;
}

}  // namespace sidecar::core
