#include "sidecar/duties.hpp"

#include <map>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "sidecar/duration.hpp"
#include "sidecar/http_client.hpp"
#include "sidecar/metrics.hpp"

namespace sidecar::core {

struct latency_duty::instruments {
  instruments(prometheus::Registry& registry, const std::string& duty, const std::vector<double>& buckets)
      : last_family(prometheus::BuildGauge()
                        .Name("sidecar_latency_seconds")
                        .Help("Duration of the last timed request of a latency duty.")
                        .Register(registry)),
        duration_family(prometheus::BuildHistogram()
                            .Name("sidecar_latency_request_duration_seconds")
                            .Help("Durations of the timed requests of a latency duty.")
                            .Register(registry)),
        failures_family(prometheus::BuildCounter()
                            .Name("sidecar_latency_failures_total")
                            .Help("Failed requests of a latency duty, by reason.")
                            .Register(registry)),
        duty(duty),
        last(&last_family.Add({{"duty", duty}})),
        duration(&duration_family.Add({{"duty", duty}}, buckets)) {}

  prometheus::Counter& failures(std::string_view reason) {
    auto it = failures_by_reason.find(reason);
    if (it == failures_by_reason.end()) {
      auto& counter = failures_family.Add({{"duty", duty}, {"reason", std::string(reason)}});
      it = failures_by_reason.emplace(std::string(reason), &counter).first;
    }
    return *it->second;
  }

  prometheus::Family<prometheus::Gauge>& last_family;
  prometheus::Family<prometheus::Histogram>& duration_family;
  prometheus::Family<prometheus::Counter>& failures_family;
  std::string duty;
  prometheus::Gauge* last;
  prometheus::Histogram* duration;
  std::map<std::string, prometheus::Counter*, std::less<>> failures_by_reason;
};

latency_duty::latency_duty(sidecar::app& app, std::string name, latency_duty_config config)
    : configured_duty(std::move(name)),
      config_(std::move(config)),
      http_(app.http()),
      executor_(app.executor()),
      log_(app.logs()->make_logger(this->name())),
      instruments_(std::make_shared<instruments>(app.metrics().registry(), this->name(), config_.buckets)) {}

std::string latency_duty::summary() const {
  return describe_request(config_.request.request) + " every " + format_duration(config_.every) +
         " and on each scrape of /metrics";
}

std::vector<status_item> latency_duty::status() const {
  return {{"request", "http", describe_request(config_.request.request), &history_}};
}

void latency_duty::start(sidecar::app& app) {
  app.add_duty(name(), [self = shared_from_this()](duty_context&) { return self->run(); });
}

void latency_duty::retire(sidecar::app&) {
  retired_ = true;
  if (in_flight_) {
    in_flight_->cancel_signal().emit(asio::cancellation_type::terminal);
  }
}

void latency_duty::remove_series() {
  instruments_->last_family.Remove(instruments_->last);
  instruments_->duration_family.Remove(instruments_->duration);
  for (auto& [reason, counter] : instruments_->failures_by_reason) {
    instruments_->failures_family.Remove(counter);
  }
  instruments_->failures_by_reason.clear();
}

std::shared_ptr<shared_run> latency_duty::begin_measurement() {
  if (in_flight_) {
    return in_flight_;
  }
  auto run = std::make_shared<shared_run>(executor_);
  if (retired_) {
    run->finish();
    return run;
  }

  // The measurement belongs to no caller, so a scrape that hangs up does not
  // cancel it for the others. The request's own timeout bounds it.
  in_flight_ = run;
  auto on_done = [self = shared_from_this(), run](std::exception_ptr error) {
    run->finish();
    if (self->in_flight_ == run) {
      self->in_flight_.reset();
    }
    if (!error || self->retired_) {
      return;
    }
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      self->log_.error("latency measurement failed", {{"error", e.what()}});
    }
  };
  asio::co_spawn(executor_, measure_once(),
                 asio::bind_cancellation_slot(run->cancel_signal().slot(), std::move(on_done)));
  return run;
}

asio::awaitable<void> latency_duty::run() {
  asio::steady_timer timer(executor_);
  for (;;) {
    auto started = std::chrono::steady_clock::now();
    co_await begin_measurement()->wait();

    timer.expires_at(started + config_.every);
    co_await timer.async_wait(asio::use_awaitable);
  }
}

asio::awaitable<void> latency_duty::measure_once() {
  http::client_result result = co_await http_.fetch(config_.request.request);
  if (retired_) {
    co_return;
  }
  record(result, evaluate_http_response(config_.request, result));
}

void latency_duty::record(const http::client_result& result, const check_result& outcome) {
  history_.add({std::chrono::system_clock::now(), result.duration, outcome.passed, outcome.reason,
                outcome.message});

  if (result.ok()) {
    double seconds = std::chrono::duration<double>(result.duration).count();
    instruments_->last->Set(seconds);
    instruments_->duration->Observe(seconds);
  }
  if (!outcome.passed) {
    instruments_->failures(failure_label(outcome.reason)).Increment();
  }

  // Only changes are logged, because a failing request repeats every period.
  if (!outcome.passed && !failing_) {
    log_.warn("latency request failed", {{"reason", failure_label(outcome.reason)},
                                         {"error", outcome.message},
                                         {"url", config_.request.request.url}});
  } else if (outcome.passed && failing_) {
    log_.info("latency request recovered", {{"url", config_.request.request.url}});
  }
  failing_ = !outcome.passed;
}

}  // namespace sidecar::core
