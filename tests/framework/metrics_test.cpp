#include "sidecar/metrics.hpp"

#include <catch2/catch.hpp>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace {

// Runs `promtool check metrics` on `text` and returns its exit status and output.
std::pair<int, std::string> promtool_check(const std::string& text) {
  char path[] = "/tmp/sidecar-metrics-XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  std::ofstream(path) << text;
  const std::string command = "promtool check metrics < " + std::string(path) + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string output;
  char buffer[512];
  while (fgets(buffer, sizeof buffer, pipe)) output += buffer;
  const int status = pclose(pipe);
  std::remove(path);
  return {WEXITSTATUS(status), output};
}

}  // namespace

TEST_CASE("metrics render text format 0.0.4", "[metrics]") {
  sidecar::metrics metrics;
  prometheus::BuildCounter()
      .Name("sidecar_probe_results_total")
      .Help("Runs of a probe's check by result.")
      .Register(metrics.registry())
      .Add({{"duty", "ready"}, {"check", "http"}, {"result", "ok"}})
      .Increment(3);
  prometheus::BuildGauge()
      .Name("sidecar_probe_success")
      .Help("Whether the last run passed.")
      .Register(metrics.registry())
      .Add({{"duty", "ready"}, {"check", "http"}})
      .Set(1);
  prometheus::BuildHistogram()
      .Name("sidecar_latency_request_duration_seconds")
      .Help("Duration of synthetic requests.")
      .Register(metrics.registry())
      .Add({{"duty", "latency"}}, prometheus::Histogram::BucketBoundaries{0.01, 0.1, 1})
      .Observe(0.05);

  const std::string text = metrics.render();
  CHECK(text.find("# HELP sidecar_probe_results_total Runs of a probe's check by result.\n") != std::string::npos);
  CHECK(text.find("# TYPE sidecar_probe_results_total counter\n") != std::string::npos);
  CHECK(text.find("sidecar_probe_results_total{check=\"http\",duty=\"ready\",result=\"ok\"} 3") != std::string::npos);
  CHECK(text.find("sidecar_latency_request_duration_seconds_bucket{duty=\"latency\",le=\"0.1\"} 1") != std::string::npos);
  CHECK(std::string(sidecar::exposition_content_type) == "text/plain; version=0.0.4; charset=utf-8");

  const auto [status, output] = promtool_check(text);
  INFO(output);
  CHECK(status == 0);
}

TEST_CASE("promtool rejects a counter without _total", "[metrics]") {
  // Proves the check above can fail: promtool is strict about names.
  const auto [status, output] = promtool_check("# HELP requests Requests.\n# TYPE requests counter\nrequests 1\n");
  CHECK(status != 0);
  CHECK(output.find("_total") != std::string::npos);
}
