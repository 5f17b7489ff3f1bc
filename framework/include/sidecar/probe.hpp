#pragma once

// A probe endpoint: answers 200 while every check passes and 503 otherwise.
//
//   auto p = sidecar::probe::create("ready", options, std::move(checks), metrics, log);
//   routes.add("GET", "/ready", p->handler());
//   supervisor.start({"ready", [p](sidecar::duty_context&) { return p->run(); }});
//
// Modes:
// - on_request: a request runs the checks. Requests that arrive while a run is
//   in flight wait for it and share its result (single flight), and a result
//   younger than `max_staleness` is reused without running the checks.
// - periodic: run() evaluates every `every` in the background and requests
//   get the latest answer without waiting.
//
// As in the kubelet, the answer changes from ready to not ready only after
// `failure_threshold` consecutive failed evaluations, and back after
// `success_threshold` consecutive successes. It starts as not ready. While
// draining, the answer is 503 whatever the checks say.
//
// The response body is plain text, or JSON when the query has format=json.
// Metrics: sidecar_probe_success{duty,check}, sidecar_probe_duration_seconds{duty,check},
// sidecar_probe_results_total{duty,check,result} and sidecar_probe_ready{duty}.
//
// Not thread-safe: use it on one executor.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "sidecar/asio.hpp"
#include "sidecar/check.hpp"
#include "sidecar/history.hpp"
#include "sidecar/http_message.hpp"
#include "sidecar/http_server.hpp"
#include "sidecar/log.hpp"

namespace sidecar {

class metrics;

enum class probe_mode { on_request, periodic };

struct probe_options {
  probe_mode mode = probe_mode::on_request;
  std::chrono::milliseconds every{10000};       // periodic mode: time between evaluations
  std::chrono::milliseconds max_staleness{0};   // on_request mode: reuse of a result
  int success_threshold = 1;
  int failure_threshold = 1;
};

struct named_check {
  std::string name;
  std::unique_ptr<sidecar::check> check;
};

// The state of one check after an evaluation.
struct check_state {
  std::string name;
  std::string kind;
  std::string target;
  bool evaluated = false;
  check_result last;
  sidecar::history history;
};

// The answer of the endpoint at one moment.
struct probe_answer {
  bool ready = false;
  bool draining = false;
  bool evaluated = false;  // false until the first evaluation finished
  int consecutive_successes = 0;
  int consecutive_failures = 0;
};

class probe : public std::enable_shared_from_this<probe> {
 public:
  static std::shared_ptr<probe> create(std::string duty, probe_options options,
                                       std::vector<named_check> checks, sidecar::metrics& metrics,
                                       logger log);
  ~probe();

  // Returns the answer, running the checks first when the mode and
  // staleness call for it.
  asio::awaitable<probe_answer> evaluate();

  // The duty body: in periodic mode evaluates every `every` until
  // cancelled; in on_request mode waits until cancelled.
  asio::awaitable<void> run();

  // A GET handler for the endpoint. The handler holds a reference to the probe.
  http::handler handler();

  // Switches the answer to 503 for good (SIGTERM).
  void set_draining();

  const std::string& duty() const { return duty_; }
  const probe_options& options() const { return options_; }
  const probe_answer& answer() const { return answer_; }
  const std::vector<check_state>& checks() const { return states_; }

  // The body of a response for the current state.
  std::string render_text() const;
  std::string render_json() const;

 private:
  struct flight;
  struct instruments;
  probe(std::string duty, probe_options options, std::vector<named_check> checks,
        sidecar::metrics& metrics, logger log);

  asio::awaitable<void> evaluate_checks();
  void record(std::size_t index, const check_result& result);
  void apply(bool passed);

  std::string duty_;
  probe_options options_;
  std::vector<named_check> checks_;
  std::vector<check_state> states_;
  logger log_;
  std::unique_ptr<instruments> instruments_;
  probe_answer answer_;
  std::chrono::steady_clock::time_point last_evaluated_{};
  std::shared_ptr<flight> in_flight_;
};

}  // namespace sidecar
