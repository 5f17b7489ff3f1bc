#pragma once

// A real Prometheus server (/usr/bin/prometheus) scraping given targets, and
// `promtool check metrics` for exposition text.
//
//   support::prometheus_server prom({.targets = {"127.0.0.1:" + std::to_string(port)}});
//   REQUIRE(prom.wait_ready());
//   REQUIRE(support::wait_until([&] { return prom.query("up").find("\"1\"") != std::string::npos; }, 20s));
//
// Prometheus needs a few seconds to start; wait_ready() is separate from the
// constructor so that a test can start its other processes meanwhile. The
// destructor stops Prometheus by PID with SIGTERM, then SIGKILL.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "support/process.hpp"

namespace support {

struct prometheus_options {
  // host:port of each scrape target, all in one job.
  std::vector<std::string> targets{};
  std::string job = "sidecar";
  std::string metrics_path = "/metrics";
  // Also the scrape timeout, which must not exceed the interval.
  std::chrono::milliseconds scrape_interval{1000};
  // 0 picks a free port.
  std::uint16_t port = 0;
};

class prometheus_server {
 public:
  explicit prometheus_server(prometheus_options options);
  ~prometheus_server();
  prometheus_server(const prometheus_server&) = delete;
  prometheus_server& operator=(const prometheus_server&) = delete;

  std::uint16_t port() const { return port_; }
  support::process& process() { return *process_; }
  const std::filesystem::path& directory() const { return dir_.path(); }

  // Polls GET /-/ready until it returns 200, Prometheus exits, or `timeout` passes.
  [[nodiscard("a test must stop when Prometheus did not start")]] bool wait_ready(
      std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // The raw JSON body of GET /api/v1/query for the PromQL `expr`, evaluated
  // now. On a transport failure it is the client's error text instead.
  std::string query(std::string_view expr);
  // The raw JSON body of GET /api/v1/query_range over the last `range`.
  std::string query_range(std::string_view expr, std::chrono::seconds range, std::chrono::seconds step);

  // The last lines of Prometheus' log (it logs to stderr), for failure messages.
  std::string log_tail(std::size_t lines = 30) const;

 private:
  temp_dir dir_;
  std::uint16_t port_;
  std::unique_ptr<support::process> process_;
};

struct promtool_result {
  int exit_status = -1;
  std::string output;  // stdout followed by stderr
};

// Runs `promtool check metrics` with `text` on stdin. With promtool 2.42 the
// exit status is 0 for valid text, 3 for lint problems only (such as a
// counter without the `_total` suffix) and 1 for a parse error.
promtool_result promtool_check_metrics(std::string_view text);

// Percent-encodes `text` for a URL query component.
std::string url_encode(std::string_view text);

}  // namespace support
