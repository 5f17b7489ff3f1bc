#pragma once

// Runs duties concurrently on one executor and restarts those that fail.
//
// A duty that throws is logged with its error, counted in
// sidecar_duty_restarts_total{duty}, and started again after an exponential
// back-off with jitter; the other duties are not affected. A duty that returns
// normally is logged and not restarted. stop() cancels duties through their
// cancellation slots and waits for them, up to a grace period.
//
// Not thread-safe: call it from the executor's thread only. The executor must
// not run on more than one thread.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sidecar/asio.hpp"
#include "sidecar/duty.hpp"

namespace sidecar {

class log_sink;

struct backoff_policy {
  std::chrono::milliseconds initial{200};
  std::chrono::milliseconds max{30000};
  double multiplier = 2.0;
  double jitter = 0.2;  // each delay is scaled by a random factor in [1 - jitter, 1 + jitter]
  // A run that lasted at least this long resets the delay to `initial`.
  std::chrono::milliseconds reset_after{60000};

  // The delay before restart number `attempt` (1 for the first restart), without jitter.
  std::chrono::milliseconds delay(int attempt) const;
};

class supervisor {
 public:
  supervisor(asio::any_io_executor executor, std::shared_ptr<log_sink> logs, sidecar::metrics& metrics,
             http::client& http, backoff_policy backoff = {});
  ~supervisor();
  supervisor(const supervisor&) = delete;
  supervisor& operator=(const supervisor&) = delete;

  // Starts a duty. Throws std::invalid_argument when a duty of that name is running.
  void start(duty d);

  // Cancels the named duties (all when `names` is empty) and waits until each
  // has finished or `grace` has passed. Returns the names that had not
  // finished in time; they stay cancelled and finish on their own.
  asio::awaitable<std::vector<std::string>> stop(std::vector<std::string> names,
                                                 std::chrono::steady_clock::duration grace);

  // Removes the restart count and its series of a duty that is gone for
  // good, such as one a reload dropped. Does nothing while it runs.
  void forget(const std::string& name);

  std::vector<std::string> running() const;
  std::uint64_t restarts(const std::string& name) const;

  struct state;  // defined in supervisor.cpp

 private:
  std::shared_ptr<state> state_;
};

}  // namespace sidecar
