#include "sidecar/duties.hpp"

#include <map>

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
namespace {

// Bucket bounds in seconds, from a quick local call up to a slow batch job.
const prometheus::Histogram::BucketBoundaries schedule_buckets{0.01, 0.05, 0.1, 0.25, 0.5, 1,
                                                               2.5,  5,    10,  30,   60};

double seconds_since_epoch(std::chrono::system_clock::time_point time) {
  return std::chrono::duration<double>(time.time_since_epoch()).count();
}

}  // namespace

struct schedule_duty::instruments {
  instruments(prometheus::Registry& registry, const std::string& duty)
      : runs_family(prometheus::BuildCounter()
                        .Name("sidecar_schedule_runs_total")
                        .Help("Calls of a schedule duty, by result: ok or the reason it failed.")
                        .Register(registry)),
        last_success_family(prometheus::BuildGauge()
                                .Name("sidecar_schedule_last_success_timestamp_seconds")
                                .Help("Unix time of the last successful call of a schedule duty.")
                                .Register(registry)),
        duration_family(prometheus::BuildHistogram()
                            .Name("sidecar_schedule_duration_seconds")
                            .Help("Durations of the calls of a schedule duty.")
                            .Register(registry)),
        overruns_family(prometheus::BuildCounter()
                            .Name("sidecar_schedule_overruns_total")
                            .Help("Calls of a schedule duty that outlasted its period and delayed the next.")
                            .Register(registry)),
        duty(duty),
        last_success(&last_success_family.Add({{"duty", duty}})),
        duration(&duration_family.Add({{"duty", duty}}, schedule_buckets)),
        overruns(&overruns_family.Add({{"duty", duty}})) {
    // The ok series exists from the start, so that rate() counts the first call.
    runs("ok");
  }

  prometheus::Counter& runs(std::string_view result) {
    auto it = runs_by_result.find(result);
    if (it == runs_by_result.end()) {
      auto& counter = runs_family.Add({{"duty", duty}, {"result", std::string(result)}});
      it = runs_by_result.emplace(std::string(result), &counter).first;
    }
    return *it->second;
  }

  prometheus::Family<prometheus::Counter>& runs_family;
  prometheus::Family<prometheus::Gauge>& last_success_family;
  prometheus::Family<prometheus::Histogram>& duration_family;
  prometheus::Family<prometheus::Counter>& overruns_family;
  std::string duty;
  prometheus::Gauge* last_success;
  prometheus::Histogram* duration;
  prometheus::Counter* overruns;
  std::map<std::string, prometheus::Counter*, std::less<>> runs_by_result;
};

schedule_duty::schedule_duty(sidecar::app& app, std::string name, schedule_duty_config config)
    : configured_duty(std::move(name)),
      config_(std::move(config)),
      http_(app.http()),
      instruments_(std::make_shared<instruments>(app.metrics().registry(), this->name())) {}

std::string schedule_duty::summary() const {
  return describe_request(config_.request.request) + " every " + format_duration(config_.every);
}

std::vector<status_item> schedule_duty::status() const {
  return {{"call", "http", describe_request(config_.request.request), &history_}};
}

void schedule_duty::start(sidecar::app& app) {
  app.add_duty(name(), [self = shared_from_this()](duty_context& context) { return self->run(context); });
}

void schedule_duty::retire(sidecar::app&) { retired_ = true; }

void schedule_duty::remove_series() {
  instruments_->last_success_family.Remove(instruments_->last_success);
  instruments_->duration_family.Remove(instruments_->duration);
  instruments_->overruns_family.Remove(instruments_->overruns);
  for (auto& [result, counter] : instruments_->runs_by_result) {
    instruments_->runs_family.Remove(counter);
  }
  instruments_->runs_by_result.clear();
}

// The first call comes one period after the start, as with cron, so that a
// reload or a restart does not trigger an extra call.
asio::awaitable<void> schedule_duty::run(duty_context& context) {
  asio::steady_timer timer(context.executor);
  auto next = std::chrono::steady_clock::now() + config_.every;
  for (;;) {
    timer.expires_at(next);
    co_await timer.async_wait(asio::use_awaitable);

    auto started = std::chrono::steady_clock::now();
    co_await call_once(context.log);
    auto finished = std::chrono::steady_clock::now();

    // A call that outlasts the period delays the next one rather than
    // overlapping it.
    next = started + config_.every;
    if (finished > next && !retired_) {
      instruments_->overruns->Increment();
      context.log.warn("scheduled call overran its period",
                       {{"duration_seconds", std::chrono::duration<double>(finished - started).count()},
                        {"every_seconds", std::chrono::duration<double>(config_.every).count()}});
      next = finished;
    }
  }
}

asio::awaitable<void> schedule_duty::call_once(const logger& log) {
  const http::client_request& request = config_.request.request;
  http::client_result result = co_await http_.fetch(request);
  if (retired_) {
    co_return;
  }

  check_result outcome = evaluate_http_response(config_.request, result);
  auto now = std::chrono::system_clock::now();
  history_.add({now, result.duration, outcome.passed, outcome.reason, outcome.message});

  std::string_view label = outcome.passed ? std::string_view("ok") : failure_label(outcome.reason);
  double seconds = std::chrono::duration<double>(result.duration).count();
  instruments_->runs(label).Increment();
  instruments_->duration->Observe(seconds);

  if (outcome.passed) {
    instruments_->last_success->Set(seconds_since_epoch(now));
    log.debug("scheduled call succeeded", {{"url", request.url}, {"duration_seconds", seconds}});
  } else {
    log.warn("scheduled call failed",
             {{"reason", label}, {"error", outcome.message}, {"url", request.url}, {"duration_seconds", seconds}});
  }
}

}  // namespace sidecar::core
