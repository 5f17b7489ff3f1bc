#include "sidecar/supervisor.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>

#include "sidecar/log.hpp"
#include "sidecar/metrics.hpp"

namespace sidecar {

std::chrono::milliseconds backoff_policy::delay(int attempt) const {
  const double scaled = static_cast<double>(initial.count()) * std::pow(multiplier, std::max(attempt - 1, 0));
  const double capped = std::min(scaled, static_cast<double>(max.count()));
  return std::chrono::milliseconds(static_cast<std::int64_t>(capped));
}

namespace {

std::string describe(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace

struct supervisor::state {
  struct running_duty {
    explicit running_duty(duty d) : spec(std::move(d)) {}

    duty spec;
    asio::cancellation_signal signal;
    bool stop_requested = false;
    bool finished = false;
    asio::steady_timer* backoff_timer = nullptr;
    std::vector<std::shared_ptr<asio::steady_timer>> waiters;  // cancelled when the duty finishes
  };

  state(asio::any_io_executor executor, std::shared_ptr<log_sink> logs, sidecar::metrics& metrics,
        http::client& http, backoff_policy backoff)
      : executor(std::move(executor)),
        logs(std::move(logs)),
        metrics(metrics),
        http(http),
        backoff(backoff),
        restarts_family(prometheus::BuildCounter()
                            .Name("sidecar_duty_restarts_total")
                            .Help("Restarts of a duty after it failed with an error.")
                            .Register(metrics.registry())),
        random(std::random_device{}()) {}

  std::chrono::milliseconds jittered(std::chrono::milliseconds delay) {
    std::uniform_real_distribution<double> factor(1.0 - backoff.jitter, 1.0 + backoff.jitter);
    return std::chrono::milliseconds(static_cast<std::int64_t>(static_cast<double>(delay.count()) * factor(random)));
  }

  static bool cancelled(const asio::cancellation_state& cs, const running_duty& d) {
    return d.stop_requested || cs.cancelled() != asio::cancellation_type::none;
  }

  asio::any_io_executor executor;
  std::shared_ptr<log_sink> logs;
  sidecar::metrics& metrics;
  http::client& http;
  backoff_policy backoff;
  prometheus::Family<prometheus::Counter>& restarts_family;
  std::mt19937 random;
  std::map<std::string, std::shared_ptr<running_duty>, std::less<>> duties;
  std::map<std::string, std::uint64_t, std::less<>> restart_counts;
};

namespace {

using running_duty = supervisor::state::running_duty;

// Runs one duty until it returns or is cancelled, restarting it after failures.
asio::awaitable<void> supervise(std::shared_ptr<supervisor::state> s, std::shared_ptr<running_duty> d) {
  const logger log = s->logs->make_logger(d->spec.name);
  duty_context context{d->spec.name, log, s->metrics, s->http, s->executor};
  prometheus::Counter& restarts = s->restarts_family.Add({{"duty", d->spec.name}});
  int attempt = 0;

  for (;;) {
    const auto started = std::chrono::steady_clock::now();
    log.info("duty started", {{"restarts", s->restart_counts[d->spec.name]}});

    std::exception_ptr failure;
    try {
      co_await d->spec.run(context);
    } catch (...) {
      failure = std::current_exception();
    }

    const asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
    if (supervisor::state::cancelled(cs, *d)) {
      log.info("duty stopped");
      co_return;
    }
    if (!failure) {
      log.info("duty finished");
      co_return;
    }

    // Back off before the restart. A run that lasted reset_after or longer
    // starts the sequence again, so a rare failure waits only `initial`.
    if (std::chrono::steady_clock::now() - started >= s->backoff.reset_after) attempt = 0;
    ++attempt;
    const auto delay = s->jittered(s->backoff.delay(attempt));
    restarts.Increment();
    const std::uint64_t count = ++s->restart_counts[d->spec.name];
    log.error("duty failed", {{"error", describe(failure)},
                              {"restart_in_seconds", std::chrono::duration<double>(delay).count()},
                              {"restarts", count}});

    asio::steady_timer timer(s->executor, delay);
    d->backoff_timer = &timer;
    auto [error] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    d->backoff_timer = nullptr;
    if (error || d->stop_requested) {
      log.info("duty stopped");
      co_return;
    }
  }
}

}  // namespace

supervisor::supervisor(asio::any_io_executor executor, std::shared_ptr<log_sink> logs, sidecar::metrics& metrics,
                       http::client& http, backoff_policy backoff)
    : state_(std::make_shared<state>(std::move(executor), std::move(logs), metrics, http, backoff)) {}

supervisor::~supervisor() {
  // Duties still running hold the state; cancel them so they end with the
  // io_context rather than run against a supervisor that is gone.
  for (auto& [name, d] : state_->duties) {
    d->stop_requested = true;
    d->signal.emit(asio::cancellation_type::terminal);
  }
}

void supervisor::start(duty d) {
  if (d.name.empty()) throw std::invalid_argument("supervisor: a duty needs a name");
  if (state_->duties.contains(d.name)) {
    throw std::invalid_argument("supervisor: duty \"" + d.name + "\" is already running");
  }
  auto running = std::make_shared<running_duty>(std::move(d));
  state_->duties.emplace(running->spec.name, running);

  auto s = state_;
  asio::co_spawn(state_->executor, supervise(s, running),
                 asio::bind_cancellation_slot(running->signal.slot(), [s, running](std::exception_ptr) {
                   running->finished = true;
                   auto it = s->duties.find(running->spec.name);
                   if (it != s->duties.end() && it->second == running) s->duties.erase(it);
                   for (auto& waiter : running->waiters) waiter->cancel();
                 }));
}

asio::awaitable<std::vector<std::string>> supervisor::stop(std::vector<std::string> names,
                                                           std::chrono::steady_clock::duration grace) {
  std::vector<std::shared_ptr<running_duty>> targets;
  for (auto it = state_->duties.begin(); it != state_->duties.end();) {
    const bool selected = names.empty() || std::find(names.begin(), names.end(), it->first) != names.end();
    if (selected) {
      targets.push_back(it->second);
      // Forget it now, so that a new duty of the same name can start while
      // this one unwinds.
      it = state_->duties.erase(it);
    } else {
      ++it;
    }
  }

  for (auto& d : targets) {
    d->stop_requested = true;
    d->signal.emit(asio::cancellation_type::terminal);
    if (d->backoff_timer) d->backoff_timer->cancel();
  }

  const auto deadline = std::chrono::steady_clock::now() + grace;
  std::vector<std::string> late;
  for (auto& d : targets) {
    if (!d->finished) {
      auto waiter = std::make_shared<asio::steady_timer>(state_->executor, deadline);
      d->waiters.push_back(waiter);
      co_await waiter->async_wait(asio::as_tuple(asio::use_awaitable));
    }
    if (!d->finished) late.push_back(d->spec.name);
  }
  co_return late;
}

void supervisor::forget(const std::string& name) {
  if (state_->duties.contains(name)) return;
  state_->restart_counts.erase(name);
  const prometheus::Labels labels{{"duty", name}};
  if (state_->restarts_family.Has(labels)) state_->restarts_family.Remove(&state_->restarts_family.Add(labels));
}

std::vector<std::string> supervisor::running() const {
  std::vector<std::string> names;
  for (const auto& [name, d] : state_->duties) names.push_back(name);
  return names;
}

std::uint64_t supervisor::restarts(const std::string& name) const {
  const auto it = state_->restart_counts.find(name);
  return it == state_->restart_counts.end() ? 0 : it->second;
}

}  // namespace sidecar
