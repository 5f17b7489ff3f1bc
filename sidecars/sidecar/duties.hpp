#pragma once

// The duties of the ready-made sidecar, built from a duty_config:
//
// - probe_duty: a probe endpoint of the framework (sidecar::probe).
// - latency_duty: times a request on a period and before each /metrics scrape.
// - schedule_duty: calls an endpoint on a period, one call at a time.
//
//   auto duty = sidecar::core::make_duty(app, config.duties[0]);
//   duty->start(app);               // routes and the supervised coroutine
//   ...
//   co_await app.supervisor().stop({duty->name()}, grace);
//   duty->retire(app);              // routes gone, no more results recorded
//
// Not thread-safe: everything runs on the app's single executor.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>

#include "sidecar/app.hpp"
#include "sidecar/asio.hpp"
#include "sidecar/check.hpp"
#include "sidecar/config.hpp"
#include "sidecar/history.hpp"

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
template <typename T>
class Family;
}  // namespace prometheus

namespace sidecar::core {

// The recent results of one check or request, for the status page.
struct status_item {
  std::string name;
  std::string kind;    // "http", "tcp" or "file"
  std::string target;  // "GET http://127.0.0.1:8080/status.json"
  const sidecar::history* history = nullptr;
};

// A duty of the config file, as the runtime and the status page see it.
class configured_duty {
 public:
  explicit configured_duty(std::string name) : name_(std::move(name)) {}
  virtual ~configured_duty() = default;
  configured_duty(const configured_duty&) = delete;
  configured_duty& operator=(const configured_duty&) = delete;

  const std::string& name() const { return name_; }
  // "probe", "latency" or "schedule".
  virtual std::string_view kind() const = 0;
  // One line for the status page, such as "GET /ready, on_request".
  virtual std::string summary() const = 0;
  virtual std::vector<status_item> status() const = 0;

  // Adds the duty's routes and its supervised coroutine to `app`.
  virtual void start(sidecar::app& app) = 0;
  // Removes the routes and stops recording results; the caller has stopped
  // the coroutine through the supervisor first.
  virtual void retire(sidecar::app& app) = 0;
  // Removes the duty's metric series, once retired and no successor of the
  // same name and kind takes them over.
  virtual void remove_series() {}

 private:
  std::string name_;
};

// Builds the duty; throws nothing for a validated config.
std::shared_ptr<configured_duty> make_duty(sidecar::app& app, const duty_config& config);

// Builds the framework check of one probe check.
std::unique_ptr<sidecar::check> make_check(http::client& client, const check_config& config);

// The metric label of a failed request: the http::failure name for transport
// failures, "status" for an unexpected status, "body" for body and JSON
// expectations and "header" for header expectations.
std::string_view failure_label(std::string_view check_reason);

// "GET http://127.0.0.1:8080/", as shown on the status page.
std::string describe_request(const http::client_request& request);

// One run of an operation that several callers await. The caller that starts
// the run calls finish() when it ends, and wait() returns at once after that.
class shared_run {
 public:
  explicit shared_run(asio::any_io_executor executor)
      : done_(std::move(executor), std::chrono::steady_clock::time_point::max()) {}

  void finish();
  bool finished() const { return finished_; }
  // Returns when the run has finished, or when the caller is cancelled.
  asio::awaitable<void> wait();
  // The signal that cancels the run itself, not its waiters.
  asio::cancellation_signal& cancel_signal() { return cancel_; }

 private:
  asio::steady_timer done_;  // cancelled by finish(), which wakes the waiters
  asio::cancellation_signal cancel_;
  bool finished_ = false;
};

class probe_duty : public configured_duty {
 public:
  explicit probe_duty(const duty_config& config);

  std::string_view kind() const override { return "probe"; }
  std::string summary() const override;
  std::vector<status_item> status() const override;
  void start(sidecar::app& app) override;
  void retire(sidecar::app& app) override;

 private:
  probe_duty_config config_;
  std::shared_ptr<sidecar::probe> probe_;
};

// Metrics: sidecar_latency_seconds{duty} (last measured duration),
// sidecar_latency_request_duration_seconds{duty} and
// sidecar_latency_failures_total{duty,reason}. A request that got a response
// is timed even when the response fails the expectations. A transport failure
// (timeout, refused, ...) is counted but not timed.
class latency_duty : public configured_duty, public std::enable_shared_from_this<latency_duty> {
 public:
  latency_duty(sidecar::app& app, std::string name, latency_duty_config config);

  std::string_view kind() const override { return "latency"; }
  std::string summary() const override;
  std::vector<status_item> status() const override;
  void start(sidecar::app& app) override;
  void retire(sidecar::app& app) override;
  void remove_series() override;

  // Starts a measurement unless one is in flight, and returns the run to
  // await. Scrapes that arrive together share one request.
  std::shared_ptr<shared_run> begin_measurement();
  const latency_duty_config& config() const { return config_; }

 private:
  struct instruments;

  asio::awaitable<void> run();
  asio::awaitable<void> measure_once();
  void record(const http::client_result& result, const check_result& outcome);

  latency_duty_config config_;
  http::client& http_;
  asio::any_io_executor executor_;
  logger log_;
  std::shared_ptr<instruments> instruments_;
  sidecar::history history_;
  std::shared_ptr<shared_run> in_flight_;
  bool failing_ = false;
  bool retired_ = false;
};

// Metrics: sidecar_schedule_runs_total{duty,result} ("ok" or a failure label
// as for latency), sidecar_schedule_last_success_timestamp_seconds{duty},
// sidecar_schedule_duration_seconds{duty} and
// sidecar_schedule_overruns_total{duty}, the calls that outlasted the period.
class schedule_duty : public configured_duty, public std::enable_shared_from_this<schedule_duty> {
 public:
  schedule_duty(sidecar::app& app, std::string name, schedule_duty_config config);

  std::string_view kind() const override { return "schedule"; }
  std::string summary() const override;
  std::vector<status_item> status() const override;
  void start(sidecar::app& app) override;
  void retire(sidecar::app& app) override;
  void remove_series() override;

 private:
  struct instruments;

  asio::awaitable<void> run(duty_context& context);
  asio::awaitable<void> call_once(const logger& log);

  schedule_duty_config config_;
  http::client& http_;
  std::shared_ptr<instruments> instruments_;
  sidecar::history history_;
  bool retired_ = false;
};

}  // namespace sidecar::core
