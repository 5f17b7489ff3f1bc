#pragma once

// Runs the duties of a config on a sidecar::app and replaces them on reload.
//
//   sidecar::app app(sidecar::core::to_app_options(config));
//   sidecar::core::runtime runtime(app, "sidecar.yaml", std::move(config));
//   runtime.start();
//   return app.run();
//
// start() adds the duties and the routes GET / (status page), GET /metrics
// (which first measures every latency duty), POST /-/reload, and a SIGHUP
// handler. A reload reads the file again. A valid file replaces every duty:
// the old duties are stopped within the shutdown grace period and their
// routes removed before the new ones start. An invalid file leaves the
// running duties alone and is logged, and POST /-/reload returns 400 with
// the error. Settings that belong to the listening socket or to shutdown
// (listen, server, shutdown) need a restart and are only warned about.
//
// Metrics: sidecar_config_reloads_total{result} ("success" or "failure") and
// sidecar_config_last_reload_success.
//
// Not thread-safe: use it on the app's executor. It must outlive app.run().

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "sidecar/app.hpp"
#include "sidecar/asio.hpp"
#include "sidecar/config.hpp"
#include "sidecar/duties.hpp"
#include "sidecar/http_message.hpp"

namespace sidecar::core {

struct reload_result {
  bool success = false;
  std::string error;  // the config_error text when the file was invalid
};

class runtime {
 public:
  runtime(sidecar::app& app, std::filesystem::path config_file, sidecar_config config);
  ~runtime();
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  // Adds the duties, the routes and the SIGHUP handler to the app.
  void start();

  // Reads the config file again and applies it. Reloads run one at a time
  // and cannot be cancelled half-way: cancelling the caller only stops the
  // wait for the result.
  asio::awaitable<reload_result> reload();

  const sidecar_config& config() const { return config_; }
  const std::vector<std::shared_ptr<configured_duty>>& duties() const { return duties_; }

 private:
  struct instruments;
  struct reload_job;

  void start_duties();
  asio::awaitable<void> run_reload(std::shared_ptr<reload_job> job);
  asio::awaitable<reload_result> reload_now();
  asio::awaitable<void> replace_duties(sidecar_config next);
  void keep_restart_only_settings(sidecar_config& next) const;
  void remove_orphaned_series(const sidecar_config& next) const;

  asio::awaitable<http::response> serve_metrics();
  asio::awaitable<http::response> serve_reload();
  http::response serve_status_page() const;

  sidecar::app& app_;
  std::filesystem::path config_file_;
  sidecar_config config_;
  logger log_;
  std::unique_ptr<instruments> instruments_;
  std::vector<std::shared_ptr<configured_duty>> duties_;
  std::vector<std::shared_ptr<latency_duty>> latency_duties_;
  std::shared_ptr<shared_run> reload_in_progress_;
  std::chrono::system_clock::time_point loaded_at_;
  std::string last_reload_error_;
};

}  // namespace sidecar::core
