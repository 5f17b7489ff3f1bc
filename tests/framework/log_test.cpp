#include "sidecar/log.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace {

struct captured_sink {
  explicit captured_sink(sidecar::log_level level = sidecar::log_level::info, sidecar::log_rate_limit limit = {})
      : sink(std::make_shared<sidecar::log_sink>(level, limit)) {
    sink->set_writer([this](std::string_view line) { lines.emplace_back(line); });
  }
  std::shared_ptr<sidecar::log_sink> sink;
  std::vector<std::string> lines;
};

}  // namespace

TEST_CASE("log line is one JSON object", "[log]") {
  captured_sink out;
  out.sink->make_logger("api-probe").warn("probe failed", {{"status", 503}, {"expected", "200-299"}, {"ok", false}, {"seconds", 0.5}});
  REQUIRE(out.lines.size() == 1);
  const std::string& line = out.lines[0];
  CHECK(line.starts_with("{\"ts\":\""));
  CHECK(line.ends_with("}\n"));
  CHECK(line.find("\"level\":\"warn\",\"duty\":\"api-probe\",\"msg\":\"probe failed\",\"status\":503,"
                  "\"expected\":\"200-299\",\"ok\":false,\"seconds\":0.5}") != std::string::npos);
  CHECK(std::count(line.begin(), line.end(), '\n') == 1);
}

TEST_CASE("log escapes strings", "[log]") {
  captured_sink out;
  out.sink->make_logger("d\"1").info("line\nbreak", {{"path", "C:\\tmp\t\x01"}});
  REQUIRE(out.lines.size() == 1);
  CHECK(out.lines[0].find("\"duty\":\"d\\\"1\",\"msg\":\"line\\nbreak\",\"path\":\"C:\\\\tmp\\t\\u0001\"") != std::string::npos);
}

TEST_CASE("log time is RFC 3339 UTC with milliseconds", "[log]") {
  using namespace std::chrono;
  const sys_time<milliseconds> t = sys_days{2026y / 12 / 4} + 13h + 5min + 7s + 42ms;
  CHECK(sidecar::format_rfc3339(t) == "2026-12-04T13:05:07.042Z");
}

TEST_CASE("log drops lines below the level", "[log]") {
  captured_sink out(sidecar::log_level::warn);
  auto log = out.sink->make_logger("main");
  log.debug("a");
  log.info("b");
  log.warn("c");
  log.error("d");
  REQUIRE(out.lines.size() == 2);
  CHECK(out.lines[0].find("\"msg\":\"c\"") != std::string::npos);
  CHECK(out.lines[1].find("\"msg\":\"d\"") != std::string::npos);
}

TEST_CASE("log rate-limits repeats and counts drops", "[log]") {
  captured_sink out(sidecar::log_level::info, {.burst = 3, .window = std::chrono::milliseconds(200)});
  auto log = out.sink->make_logger("ready");
  for (int i = 0; i < 10; ++i) log.warn("check failed");
  // Another message and another duty have their own budgets.
  log.warn("probe not ready");
  out.sink->make_logger("latency").warn("check failed");
  REQUIRE(out.lines.size() == 5);

  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  log.warn("check failed");
  REQUIRE(out.lines.size() == 6);
  CHECK(out.lines[5].find("\"dropped\":7}") != std::string::npos);
}

TEST_CASE("log level parses its names", "[log]") {
  CHECK(sidecar::parse_log_level("debug") == sidecar::log_level::debug);
  CHECK(sidecar::parse_log_level("error") == sidecar::log_level::error);
  CHECK_THROWS_WITH(sidecar::parse_log_level("verbose"),
                    "log level \"verbose\" is not valid, expected debug, info, warn or error");
}

TEST_CASE("log replaces invalid UTF-8", "[log]") {
  std::string out;
  sidecar::append_json_string(out, "caf\xc3\xa9 \xe9t\xe9 \xff \xed\xa0\x80 \xf0\x9f\x98\x80 \xc3");
  // Valid sequences stay; each invalid byte becomes U+FFFD.
  CHECK(out == "\"caf\xc3\xa9 \xef\xbf\xbdt\xef\xbf\xbd \xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd "
               "\xf0\x9f\x98\x80 \xef\xbf\xbd\"");
}
