#pragma once

// The runtime of a sidecar: one io_context, the logger, the metrics registry,
// an HTTP client, the HTTP server and the supervisor, with signal handling.
//
//   int main(int argc, char** argv) {
//     sidecar::app app(sidecar::app::options_from_args("my-sidecar", argc, argv));
//     app.probe("/ready", sidecar::make_http_check(app.http(), {.request = {.url = app.url("/healthz")}}));
//     return app.run();
//   }
//
// run() serves GET /metrics and GET /live beside the routes added, starts the
// duties and blocks until SIGTERM or SIGINT. Shutdown then goes in order:
// every probe endpoint answers 503 at once (draining), the server keeps
// answering for `drain`, the duties are cancelled and awaited for up to
// `grace`, and run() returns 0. A second SIGTERM or SIGINT during shutdown
// exits the process at once with status 128 + the signal number. SIGHUP calls
// the on_reload functions.
//
// Everything runs on one thread; handlers and duties must not block it.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sidecar/asio.hpp"
#include "sidecar/check.hpp"
#include "sidecar/duty.hpp"
#include "sidecar/http_server.hpp"
#include "sidecar/log.hpp"
#include "sidecar/probe.hpp"
#include "sidecar/supervisor.hpp"

namespace boost::asio {
class io_context;
}

namespace sidecar {

class metrics;

struct app_options {
  std::string name = "sidecar";
  std::string app_url = "http://127.0.0.1:8080";  // base URL of the main container
  http::server_options server;
  std::chrono::milliseconds grace{5000};
  std::chrono::milliseconds drain{0};
  log_level level = log_level::info;
  backoff_policy backoff;
  // Other --name value pairs from the command line, for the program's own use.
  std::map<std::string, std::string, std::less<>> flags;
};

class app {
 public:
  explicit app(app_options options = {});
  ~app();
  app(const app&) = delete;
  app& operator=(const app&) = delete;

  // Reads --listen HOST:PORT, --app URL, --log-level LEVEL, --grace DURATION,
  // --drain DURATION and any other --name VALUE into `flags`. Prints the
  // problem and exits with status 2 on a malformed command line.
  static app_options options_from_args(std::string name, int argc, char** argv);

  asio::any_io_executor executor();
  asio::io_context& io_context();
  const app_options& options() const { return options_; }
  const logger& log() const { return log_; }
  std::shared_ptr<log_sink> logs() const { return logs_; }
  sidecar::metrics& metrics();
  http::client& http();
  http::router& routes();
  std::shared_ptr<http::router> shared_routes() { return routes_; }
  sidecar::supervisor& supervisor();
  // The port the server listens on, once run() has bound it; 0 before.
  std::uint16_t port() const;

  // `reference` resolved against the main container's base URL.
  std::string url(std::string_view reference) const;
  // The value of --name from the command line, or `fallback`.
  std::string flag(std::string_view name, std::string fallback) const;
  // The value of --name parsed as a duration; exits with status 2 when invalid.
  std::chrono::milliseconds duration_flag(std::string_view name, std::chrono::milliseconds fallback) const;

  // Adds a duty, started by run(), or at once when run() has started.
  void add_duty(std::string name, duty_function fn);
  // A duty that awaits `fn` every `period`. A call that runs longer than the
  // period delays the next one, so calls never overlap.
  void every(std::string name, std::chrono::milliseconds period, duty_function fn);
  // A probe endpoint on `path` that runs `c` on each request.
  std::shared_ptr<sidecar::probe> probe(std::string path, std::unique_ptr<check> c,
                                        probe_options options = {});
  // A probe endpoint with several named checks; the duty is named after the path.
  std::shared_ptr<sidecar::probe> add_probe(std::string duty, std::string path, probe_options options,
                                            std::vector<named_check> checks);

  // Removes the probe of duty `duty` from the router and from draining. The
  // duty itself is stopped through supervisor().
  void remove_probe(std::string_view duty);

  void on_drain(std::function<void()> fn);
  void on_reload(std::function<void()> fn);
  bool draining() const { return draining_; }

  // Runs until shutdown; returns the process exit status.
  int run();
  // Starts the shutdown sequence, as SIGTERM does.
  void shutdown();

 private:
  asio::awaitable<void> shutdown_sequence();
  void start_signal_wait();

  app_options options_;
  std::unique_ptr<asio::io_context> io_;
  std::shared_ptr<log_sink> logs_;
  logger log_;
  std::unique_ptr<sidecar::metrics> metrics_;
  std::unique_ptr<http::client> http_;
  std::shared_ptr<http::router> routes_;
  std::unique_ptr<http::server> server_;
  std::unique_ptr<sidecar::supervisor> supervisor_;
  std::vector<duty> pending_;
  std::vector<std::shared_ptr<sidecar::probe>> probes_;
  std::vector<std::function<void()>> drain_handlers_;
  std::vector<std::function<void()>> reload_handlers_;
  struct signals;
  std::unique_ptr<signals> signals_;
  bool running_ = false;
  bool draining_ = false;
  bool stopping_ = false;
  int exit_status_ = 0;
};

}  // namespace sidecar
