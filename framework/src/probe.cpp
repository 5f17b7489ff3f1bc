#include "sidecar/probe.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <random>

#include "sidecar/metrics.hpp"

namespace sidecar {

// The evaluation that requests arriving meanwhile wait for.
struct probe::flight {
  explicit flight(const asio::any_io_executor& executor)
      : done(executor, std::chrono::steady_clock::time_point::max()) {}
  asio::steady_timer done;  // cancelled when the evaluation finishes
  bool finished = false;
};

namespace {

// Counts the probes using each series. Two probes of the same duty name (the
// old and the new one during a reload) share their series, because
// prometheus-cpp returns the existing metric for the same labels. A series is
// removed only when its last user goes.
class series_users {
 public:
  template <typename Metric>
  Metric& add(prometheus::Family<Metric>& family, const prometheus::Labels& labels) {
    Metric& metric = family.Add(labels);
    std::lock_guard lock(mutex_);
    ++counts_[&metric];
    return metric;
  }

  template <typename Metric>
  void release(prometheus::Family<Metric>& family, Metric* metric) {
    std::lock_guard lock(mutex_);
    const auto it = counts_.find(metric);
    if (it == counts_.end() || --it->second > 0) return;
    counts_.erase(it);
    family.Remove(metric);
  }

 private:
  std::mutex mutex_;
  std::map<const void*, int> counts_;
};

series_users& shared_series() {
  static series_users users;
  return users;
}

// Every value of the `result` label: "ok" and each failure reason of the checks.
const std::vector<std::string_view>& known_reasons() {
  static const std::vector<std::string_view> reasons = [] {
    std::vector<std::string_view> all{"ok",           "status",          "json_invalid",  "json_missing",
                                      "json_wrong_type", "json_mismatch", "json_invalid_pointer",
                                      "body_mismatch", "header_mismatch", "file_missing", "file_too_old",
                                      "error"};
    for (int f = static_cast<int>(http::failure::invalid_url); f <= static_cast<int>(http::failure::io); ++f) {
      all.push_back(http::to_string(static_cast<http::failure>(f)));
    }
    return all;
  }();
  return reasons;
}

// Bounds how many periodic evaluations run at once. Probes started together
// all evaluate at start. With a thousand of them, a thousand requests with
// their buffers and parsers would be in flight at the same moment, and malloc
// keeps the heap of that peak for the life of the process.
// NOTE: one limiter for the process; it assumes every probe runs on one
// thread, as the framework's app does.
class evaluation_limiter {
 public:
  static constexpr int max_running = 32;

  // Waits for a free slot; the slot is returned when the guard goes.
  asio::awaitable<std::shared_ptr<void>> acquire() {
    if (running_ < max_running) {
      ++running_;
      co_return release_guard();
    }
    auto waiter = std::make_shared<waiting>(co_await asio::this_coro::executor);
    waiters_.push_back(waiter);
    co_await waiter->wake.async_wait(asio::as_tuple(asio::use_awaitable));
    if (!waiter->granted) {
      // Cancelled while waiting: leave the queue and let the caller unwind.
      std::erase(waiters_, waiter);
      throw boost::system::system_error(asio::error::operation_aborted);
    }
    co_return release_guard();
  }

 private:
  struct waiting {
    explicit waiting(const asio::any_io_executor& executor)
        : wake(executor, std::chrono::steady_clock::time_point::max()) {}
    asio::steady_timer wake;
    bool granted = false;
  };

  std::shared_ptr<void> release_guard() {
    return std::shared_ptr<void>(nullptr, [this](void*) { release(); });
  }

  // Hands the slot to the first waiter, or frees it.
  void release() {
    if (waiters_.empty()) {
      --running_;
      return;
    }
    auto next = waiters_.front();
    waiters_.pop_front();
    next->granted = true;
    next->wake.cancel();
  }

  int running_ = 0;
  std::deque<std::shared_ptr<waiting>> waiters_;
};

evaluation_limiter& periodic_evaluations() {
  static evaluation_limiter limiter;
  return limiter;
}

}  // namespace

struct probe::instruments {
  struct per_check {
    prometheus::Gauge* success = nullptr;
    prometheus::Gauge* duration = nullptr;
    std::map<std::string, prometheus::Counter*, std::less<>> results;
  };

  explicit instruments(sidecar::metrics& m)
      : success(prometheus::BuildGauge()
                    .Name("sidecar_probe_success")
                    .Help("Whether the last run of a probe's check passed (1) or failed (0).")
                    .Register(m.registry())),
        duration(prometheus::BuildGauge()
                     .Name("sidecar_probe_duration_seconds")
                     .Help("Duration of the last run of a probe's check.")
                     .Register(m.registry())),
        results(prometheus::BuildCounter()
                    .Name("sidecar_probe_results_total")
                    .Help("Runs of a probe's check by result: ok or the reason it failed.")
                    .Register(m.registry())),
        ready(prometheus::BuildGauge()
                  .Name("sidecar_probe_ready")
                  .Help("Whether the probe endpoint answers ready (1) or not (0).")
                  .Register(m.registry())) {}

  prometheus::Family<prometheus::Gauge>& success;
  prometheus::Family<prometheus::Gauge>& duration;
  prometheus::Family<prometheus::Counter>& results;
  prometheus::Family<prometheus::Gauge>& ready;
  prometheus::Gauge* ready_gauge = nullptr;
  std::vector<per_check> checks;
};

std::shared_ptr<probe> probe::create(std::string duty, probe_options options, std::vector<named_check> checks,
                                     sidecar::metrics& metrics, logger log) {
  return std::shared_ptr<probe>(new probe(std::move(duty), options, std::move(checks), metrics, std::move(log)));
}

probe::probe(std::string duty, probe_options options, std::vector<named_check> checks, sidecar::metrics& metrics,
             logger log)
    : duty_(std::move(duty)),
      options_(options),
      checks_(std::move(checks)),
      log_(std::move(log)),
      instruments_(std::make_unique<instruments>(metrics)) {
  instruments_->ready_gauge = &shared_series().add(instruments_->ready, {{"duty", duty_}});
  for (const named_check& c : checks_) {
    check_state state;
    state.name = c.name;
    state.kind = std::string(c.check->kind());
    state.target = c.check->target();
    states_.push_back(std::move(state));

    instruments::per_check per;
    per.success = &shared_series().add(instruments_->success, {{"duty", duty_}, {"check", c.name}});
    per.duration = &shared_series().add(instruments_->duration, {{"duty", duty_}, {"check", c.name}});
    // Take over the result counters that a probe of the same duty and check
    // left, so that they continue across a reload rather than reset.
    for (const std::string_view reason : known_reasons()) {
      const prometheus::Labels labels{{"duty", duty_}, {"check", c.name}, {"result", std::string(reason)}};
      if (instruments_->results.Has(labels)) {
        per.results.emplace(std::string(reason), &shared_series().add(instruments_->results, labels));
      }
    }
    instruments_->checks.push_back(std::move(per));
  }
}

probe::~probe() {
  // Remove this probe's series, so that a reload that drops or renames a
  // check does not leave a stale value behind.
  series_users& users = shared_series();
  users.release(instruments_->ready, instruments_->ready_gauge);
  for (auto& per : instruments_->checks) {
    users.release(instruments_->success, per.success);
    users.release(instruments_->duration, per.duration);
    for (auto& [reason, counter] : per.results) users.release(instruments_->results, counter);
  }
}

asio::awaitable<probe_answer> probe::evaluate() {
  if (answer_.draining || options_.mode == probe_mode::periodic) co_return answer_;

  const bool fresh = answer_.evaluated && options_.max_staleness.count() > 0 &&
                     std::chrono::steady_clock::now() - last_evaluated_ <= options_.max_staleness;
  if (fresh) co_return answer_;

  // Single flight: the first request starts an evaluation that no request
  // owns, so a client that hangs up does not cancel it for the others.
  if (!in_flight_) {
    const auto executor = co_await asio::this_coro::executor;
    auto f = std::make_shared<flight>(executor);
    in_flight_ = f;
    auto self = shared_from_this();
    asio::co_spawn(executor, self->evaluate_checks(), [self, f](std::exception_ptr error) {
      f->finished = true;
      if (self->in_flight_ == f) self->in_flight_.reset();
      f->done.cancel();
      if (error) {
        try {
          std::rethrow_exception(error);
        } catch (const std::exception& e) {
          self->log_.error("probe evaluation failed", {{"error", e.what()}});
        } catch (...) {
          self->log_.error("probe evaluation failed", {{"error", "unknown exception"}});
        }
      }
    });
  }

  const auto f = in_flight_;
  if (f && !f->finished) co_await f->done.async_wait(asio::as_tuple(asio::use_awaitable));
  co_return answer_;
}

asio::awaitable<void> probe::evaluate_checks() {
  const auto executor = co_await asio::this_coro::executor;
  if (checks_.empty()) {
    last_evaluated_ = std::chrono::steady_clock::now();
    apply(true);
    co_return;
  }

  // The checks run concurrently, so the probe takes as long as its slowest
  // check rather than the sum. Each check bounds its own time.
  using op_type = decltype(asio::co_spawn(executor, run_timed(*checks_.front().check), asio::deferred));
  std::vector<op_type> ops;
  ops.reserve(checks_.size());
  for (named_check& c : checks_) ops.push_back(asio::co_spawn(executor, run_timed(*c.check), asio::deferred));

  auto [order, errors, results] = co_await asio::experimental::make_parallel_group(std::move(ops))
                                      .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);

  bool all_passed = true;
  for (std::size_t i = 0; i < checks_.size(); ++i) {
    check_result result = std::move(results[i]);
    if (errors[i]) {
      try {
        std::rethrow_exception(errors[i]);
      } catch (const std::exception& e) {
        result = check_failed("error", e.what());
      } catch (...) {
        result = check_failed("error", "unknown exception");
      }
    }
    all_passed = all_passed && result.passed;
    record(i, result);
  }
  last_evaluated_ = std::chrono::steady_clock::now();
  apply(all_passed);
}

void probe::record(std::size_t index, const check_result& result) {
  check_state& state = states_[index];
  const bool was_passing = !state.evaluated || state.last.passed;
  state.evaluated = true;
  state.last = result;
  state.history.add({std::chrono::system_clock::now(), result.duration, result.passed, result.reason, result.message});

  instruments::per_check& per = instruments_->checks[index];
  per.success->Set(result.passed ? 1 : 0);
  per.duration->Set(std::chrono::duration<double>(result.duration).count());
  auto counter = per.results.find(result.reason);
  if (counter == per.results.end()) {
    auto& added =
        shared_series().add(instruments_->results, {{"duty", duty_}, {"check", state.name}, {"result", result.reason}});
    counter = per.results.emplace(result.reason, &added).first;
  }
  counter->second->Increment();

  if (!result.passed && was_passing) {
    log_.warn("check failed", {{"check", state.name}, {"reason", result.reason}, {"error", result.message}});
  } else if (result.passed && !was_passing) {
    log_.info("check passed", {{"check", state.name}});
  }
}

void probe::apply(bool passed) {
  answer_.evaluated = true;
  if (passed) {
    ++answer_.consecutive_successes;
    answer_.consecutive_failures = 0;
  } else {
    ++answer_.consecutive_failures;
    answer_.consecutive_successes = 0;
  }

  if (!answer_.ready && passed && answer_.consecutive_successes >= options_.success_threshold) {
    answer_.ready = true;
    log_.info("probe ready");
  } else if (answer_.ready && !passed && answer_.consecutive_failures >= options_.failure_threshold) {
    answer_.ready = false;
    log_.warn("probe not ready", {{"consecutive_failures", answer_.consecutive_failures}});
  }
  instruments_->ready_gauge->Set(answer_.ready && !answer_.draining ? 1 : 0);
}

asio::awaitable<void> probe::run() {
  const auto executor = co_await asio::this_coro::executor;
  if (options_.mode == probe_mode::on_request) {
    // Nothing to do in the background; wait to be cancelled.
    asio::steady_timer forever(executor, std::chrono::steady_clock::time_point::max());
    co_await forever.async_wait(asio::use_awaitable);
    co_return;
  }

  // The first evaluation runs at once, so the endpoint has a result soon
  // after start. The next one waits an extra random part of the period, so
  // that many probes started together do not keep evaluating in step and
  // hit the main app in bursts.
  asio::steady_timer timer(executor);
  std::minstd_rand random(std::random_device{}());
  std::uniform_int_distribution<std::int64_t> offset(0, std::max<std::int64_t>(options_.every.count() - 1, 0));
  auto next = std::chrono::steady_clock::now() + std::chrono::milliseconds(offset(random));
  for (;;) {
    {
      const auto slot = co_await periodic_evaluations().acquire();
      co_await evaluate_checks();
    }
    // An evaluation that outlasts the period delays the next one rather
    // than causing a burst of evaluations to catch up.
    next = std::max(next + options_.every, std::chrono::steady_clock::now());
    timer.expires_at(next);
    co_await timer.async_wait(asio::use_awaitable);
  }
}

void probe::set_draining() {
  answer_.draining = true;
  instruments_->ready_gauge->Set(0);
}

http::handler probe::handler() {
  return [self = shared_from_this()](const http::request& request) -> asio::awaitable<http::response> {
    const probe_answer answer = co_await self->evaluate();
    const bool json = request.query_param("format") == "json";
    http::response response;
    response.status = answer.ready && !answer.draining ? 200 : 503;
    response.body = json ? self->render_json() : self->render_text();
    response.content_type = json ? "application/json" : "text/plain; charset=utf-8";
    response.headers.set("Cache-Control", "no-store");
    co_return response;
  };
}

namespace {

std::string format_seconds(std::chrono::steady_clock::duration d) {
  char buffer[32];
  const double ms = std::chrono::duration<double, std::milli>(d).count();
  std::snprintf(buffer, sizeof buffer, "%.3fms", ms);
  return buffer;
}

std::string_view answer_word(const probe_answer& answer) {
  if (answer.draining) return "draining";
  if (!answer.evaluated) return "not ready: no result yet";
  return answer.ready ? "ready" : "not ready";
}

}  // namespace

std::string probe::render_text() const {
  std::string out(answer_word(answer_));
  out += '\n';
  for (const check_state& state : states_) {
    out += state.name;
    out += ": ";
    if (!state.evaluated) {
      out += "pending\n";
      continue;
    }
    out += state.last.passed ? "ok" : "fail";
    out += " (";
    if (!state.last.passed) {
      out += state.last.reason;
      out += ", ";
    }
    out += format_seconds(state.last.duration);
    out += ")";
    if (!state.last.passed && !state.last.message.empty()) {
      out += ": ";
      out += state.last.message;
    }
    out += '\n';
  }
  return out;
}

std::string probe::render_json() const {
  std::string out = "{\"status\":";
  append_json_string(out, answer_word(answer_));
  out += ",\"ready\":";
  out += answer_.ready && !answer_.draining ? "true" : "false";
  out += ",\"draining\":";
  out += answer_.draining ? "true" : "false";
  out += ",\"checks\":[";
  for (std::size_t i = 0; i < states_.size(); ++i) {
    const check_state& state = states_[i];
    if (i > 0) out += ',';
    out += "{\"name\":";
    append_json_string(out, state.name);
    out += ",\"kind\":";
    append_json_string(out, state.kind);
    out += ",\"target\":";
    append_json_string(out, state.target);
    if (state.evaluated) {
      out += ",\"passed\":";
      out += state.last.passed ? "true" : "false";
      out += ",\"reason\":";
      append_json_string(out, state.last.reason);
      out += ",\"message\":";
      append_json_string(out, state.last.message);
      out += ",\"duration_seconds\":";
      out += std::to_string(std::chrono::duration<double>(state.last.duration).count());
    } else {
      out += ",\"passed\":null";
    }
    out += '}';
  }
  out += "]}\n";
  return out;
}

}  // namespace sidecar
