// The duties of the sidecar binary (latency, schedule), its reload and its
// status page, run as a child process against nginx and small servers of our
// own.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sidecar_fixture.hpp"
#include "support/nginx.hpp"
#include "support/raw_server.hpp"

using namespace std::chrono_literals;

namespace {

// The value of one series in exposition text, such as
// `sidecar_latency_seconds{duty="latency"}`; nothing when it is absent.
std::optional<double> metric_value(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with(series + ' ')) {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nullopt;
}

std::optional<double> scrape(const support::sidecar_process& sidecar, const std::string& series) {
  return metric_value(sidecar.get("/metrics").body, series);
}

// A response with `status` and an empty body, keeping the connection open.
std::string empty_response(int status) {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: 0\r\n\r\n";
}

// Sends `response` to every request on the connection, each after `delay`.
support::raw_server::handler answer_after(std::chrono::milliseconds delay, std::string response) {
  return [delay, response](int fd) {
    while (support::read_request(fd)) {
      if (!support::sleep_unless_stopped(delay) || !support::write_all(fd, response)) {
        return;
      }
    }
  };
}

}  // namespace

TEST_CASE("latency measures on each scrape", "[duties]") {
  support::nginx_server app;
  support::sidecar_process sidecar("app: " + app.url("") +
                                   "\nduties:\n"
                                   "  - name: latency\n"
                                   "    latency: { http: { url: /index.html }, every: 1h }\n");
  app.write_file("index.html", "hello\n");
  REQUIRE(support::wait_until([&] { return app.count_requests("GET /index.html") == 1; }, 5s));

  for (int scrape_number = 1; scrape_number <= 3; ++scrape_number) {
    INFO("scrape " << scrape_number);
    auto body = sidecar.get("/metrics").body;
    // nginx writes its access log line just after the response, so the
    // count may lag by a moment.
    std::size_t expected_requests = 1 + static_cast<std::size_t>(scrape_number);
    CHECK(support::wait_until([&] { return app.count_requests("GET /index.html") == expected_requests; }, 2s));
    // The histogram already contains the measurement of this scrape.
    auto count = metric_value(body, "sidecar_latency_request_duration_seconds_count{duty=\"latency\"}");
    CHECK(count == std::optional<double>(1 + scrape_number));
    auto last = metric_value(body, "sidecar_latency_seconds{duty=\"latency\"}");
    REQUIRE(last.has_value());
    CHECK(*last > 0);
    CHECK(*last < 5);
  }
}

TEST_CASE("concurrent scrapes share one request", "[duties]") {
  support::raw_server app(answer_after(500ms, empty_response(200)));
  support::sidecar_process sidecar("app: " + app.url("") +
                                   "\nduties:\n"
                                   "  - name: latency\n"
                                   "    latency: { http: { url: /slow, timeout: 5s }, every: 1h }\n");
  // The measurement at start takes 500ms; scrapes start after it ended.
  REQUIRE(support::wait_until([&] { return app.requests() == 1; }, 5s));
  std::this_thread::sleep_for(800ms);

  std::vector<support::http_result> results(5);
  std::vector<std::thread> scrapers;
  for (auto& result : results) {
    scrapers.emplace_back([&sidecar, &result] { result = sidecar.get("/metrics"); });
  }
  for (auto& scraper : scrapers) {
    scraper.join();
  }

  CHECK(app.requests() == 2);
  for (const auto& result : results) {
    CHECK(result.status == 200);
    CHECK(metric_value(result.body, "sidecar_latency_request_duration_seconds_count{duty=\"latency\"}") ==
          std::optional<double>(2));
  }
}

TEST_CASE("latency failure reasons", "[duties]") {
  support::nginx_server app;
  app.write_file("page.html", "maintenance\n");
  support::raw_server unavailable(answer_after(0ms, empty_response(503)));
  std::uint16_t closed = support::free_port();
  support::sidecar_process sidecar(
      "app: " + app.url("") +
      "\nduties:\n"
      "  - name: down\n"
      "    latency: { http: { url: \"http://127.0.0.1:" + std::to_string(closed) + "/\" }, every: 1h }\n"
      "  - name: unavailable\n"
      "    latency: { http: { url: \"" + unavailable.url("/") + "\" }, every: 1h }\n"
      "  - name: wrong-body\n"
      "    latency: { http: { url: /page.html }, every: 1h, expect: { body: \"^ok\" } }\n");

  auto body = sidecar.get("/metrics").body;
  auto refused = metric_value(body, "sidecar_latency_failures_total{duty=\"down\",reason=\"refused\"}");
  auto status = metric_value(body, "sidecar_latency_failures_total{duty=\"unavailable\",reason=\"status\"}");
  auto mismatch = metric_value(body, "sidecar_latency_failures_total{duty=\"wrong-body\",reason=\"body\"}");
  REQUIRE(refused.has_value());
  REQUIRE(status.has_value());
  REQUIRE(mismatch.has_value());
  CHECK(*refused >= 1);
  CHECK(*status >= 1);
  CHECK(*mismatch >= 1);

  // A response is timed even when it fails the expectations; a refused
  // connection is not.
  CHECK(metric_value(body, "sidecar_latency_seconds{duty=\"down\"}") == std::optional<double>(0));
  auto unavailable_seconds = metric_value(body, "sidecar_latency_seconds{duty=\"unavailable\"}");
  REQUIRE(unavailable_seconds.has_value());
  CHECK(*unavailable_seconds > 0);
  CHECK(sidecar.logs().find("\"msg\":\"latency request failed\",\"reason\":\"refused\"") != std::string::npos);
}

TEST_CASE("schedule sends method body and headers", "[duties]") {
  std::mutex mutex;
  std::vector<support::raw_request> seen;
  support::raw_server app([&](int fd) {
    while (auto request = support::read_request(fd)) {
      {
        std::lock_guard lock(mutex);
        seen.push_back(*request);
      }
      if (!support::write_all(fd, empty_response(204))) return;
    }
  });
  support::sidecar_process sidecar("app: " + app.url("") +
                                   "\nduties:\n"
                                   "  - name: flush\n"
                                   "    schedule:\n"
                                   "      http: { method: PUT, url: /flush, headers: { X-Token: abc }, body: now }\n"
                                   "      every: 100ms\n");
  REQUIRE(support::wait_until([&] { return app.requests() >= 2; }, 5s));

  {
    std::lock_guard lock(mutex);
    REQUIRE(!seen.empty());
    CHECK(seen[0].method == "PUT");
    CHECK(seen[0].target == "/flush");
    CHECK(seen[0].head.find("X-Token: abc\r\n") != std::string::npos);
    CHECK(seen[0].body == "now");
  }

  auto body = sidecar.get("/metrics").body;
  auto ok = metric_value(body, "sidecar_schedule_runs_total{duty=\"flush\",result=\"ok\"}");
  REQUIRE(ok.has_value());
  CHECK(*ok >= 2);
  auto last_success = metric_value(body, "sidecar_schedule_last_success_timestamp_seconds{duty=\"flush\"}");
  REQUIRE(last_success.has_value());
  double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  CHECK(*last_success > now - 60);
  CHECK(*last_success <= now + 1);
  auto calls = metric_value(body, "sidecar_schedule_duration_seconds_count{duty=\"flush\"}");
  REQUIRE(calls.has_value());
  CHECK(*calls >= 2);
}

TEST_CASE("schedule waits one period first", "[duties]") {
  support::raw_server app(answer_after(0ms, empty_response(204)));
  support::sidecar_process sidecar("app: " + app.url("") +
                                   "\nduties:\n"
                                   "  - name: flush\n"
                                   "    schedule: { http: { method: POST, url: /flush }, every: 3s }\n");
  CHECK(sidecar.get("/live").status == 200);
  CHECK(app.requests() == 0);
  CHECK(support::wait_until([&] { return app.requests() == 1; }, 10s));
}

TEST_CASE("schedule counts failures and overruns", "[duties]") {
  support::raw_server app(answer_after(300ms, empty_response(500)));
  support::sidecar_process sidecar("app: " + app.url("") +
                                   "\nduties:\n"
                                   "  - name: flush\n"
                                   "    schedule: { http: { method: POST, url: /flush, timeout: 2s }, every: 100ms }\n");
  REQUIRE(support::wait_until([&] { return app.requests() >= 3; }, 10s));
  std::this_thread::sleep_for(400ms);

  auto body = sidecar.get("/metrics").body;
  auto failed = metric_value(body, "sidecar_schedule_runs_total{duty=\"flush\",result=\"status\"}");
  REQUIRE(failed.has_value());
  CHECK(*failed >= 3);
  CHECK(metric_value(body, "sidecar_schedule_runs_total{duty=\"flush\",result=\"ok\"}") == std::optional<double>(0));
  CHECK(metric_value(body, "sidecar_schedule_last_success_timestamp_seconds{duty=\"flush\"}") ==
        std::optional<double>(0));
  auto overruns = metric_value(body, "sidecar_schedule_overruns_total{duty=\"flush\"}");
  REQUIRE(overruns.has_value());
  CHECK(*overruns >= 3);

  std::string logs = sidecar.logs();
  CHECK(logs.find("\"level\":\"warn\",\"duty\":\"flush\",\"msg\":\"scheduled call failed\",\"reason\":\"status\"") !=
        std::string::npos);
  CHECK(logs.find("\"msg\":\"scheduled call overran its period\"") != std::string::npos);
}

TEST_CASE("reload keeps the listener", "[duties][reload]") {
  support::nginx_server app;
  app.write_file("status.json", R"({"value": 5})");
  std::string duties = "app: " + app.url("") +
                       "\nduties:\n"
                       "  - name: ready\n"
                       "    probe: { path: /ready, checks: [ { http: { url: /status.json } } ] }\n";
  support::sidecar_process sidecar(duties);
  REQUIRE(sidecar.get("/ready").status == 200);

  std::uint16_t other_port = support::free_port();
  sidecar.dir().write_file("sidecar.yaml", "listen: 127.0.0.1:" + std::to_string(other_port) + "\n" + duties);
  auto reload = sidecar.post("/-/reload");
  CHECK(reload.status == 200);
  CHECK(reload.body == "reloaded\n");
  CHECK(sidecar.logs().find("\"msg\":\"listen address change needs a restart\"") != std::string::npos);
  CHECK(sidecar.get("/ready").status == 200);
  CHECK_FALSE(support::http_get(other_port, "/live", 500ms).ok());
}

TEST_CASE("reload metrics and status", "[duties][reload]") {
  support::nginx_server app;
  app.write_file("status.json", R"({"value": 5})");
  std::string good = "app: " + app.url("") +
                     "\nduties:\n"
                     "  - name: ready\n"
                     "    probe: { path: /ready, checks: [ { http: { url: /status.json } } ] }\n";
  support::sidecar_process sidecar(good);
  CHECK(scrape(sidecar, "sidecar_config_last_reload_success") == std::optional<double>(1));

  sidecar.write_config("duties: [ { name: Ready } ]\n");
  auto failed = sidecar.post("/-/reload");
  CHECK(failed.status == 400);
  CHECK(failed.body == sidecar.config_path() +
                           ":2:19: duties[0].name: \"Ready\" is not a valid name, expected lower-case letters, "
                           "digits, \"_\" and \"-\"\n");
  CHECK(scrape(sidecar, "sidecar_config_reloads_total{result=\"failure\"}") == std::optional<double>(1));
  CHECK(scrape(sidecar, "sidecar_config_last_reload_success") == std::optional<double>(0));
  auto page = sidecar.get("/").body;
  CHECK(page.find("The last reload failed") != std::string::npos);
  CHECK(sidecar.logs().find("\"level\":\"error\",\"duty\":\"main\",\"msg\":\"reload failed\",\"file\":\"" +
                            sidecar.config_path() + "\"") != std::string::npos);

  sidecar.write_config(good);
  CHECK(sidecar.post("/-/reload").status == 200);
  CHECK(scrape(sidecar, "sidecar_config_reloads_total{result=\"success\"}") == std::optional<double>(1));
  CHECK(scrape(sidecar, "sidecar_config_last_reload_success") == std::optional<double>(1));
  CHECK(sidecar.get("/").body.find("The last reload failed") == std::string::npos);
}

TEST_CASE("reload carries series of kept duties", "[duties][reload]") {
  support::raw_server app(answer_after(0ms, empty_response(204)));
  std::string flush = "app: " + app.url("") +
                      "\nduties:\n"
                      "  - name: flush\n"
                      "    schedule: { http: { method: POST, url: /flush }, every: 100ms }\n";
  support::sidecar_process sidecar(flush +
                                   "  - name: latency\n"
                                   "    latency: { http: { url: /, timeout: 1s }, every: 1h }\n");
  REQUIRE(support::wait_until([&] { return app.requests() >= 4; }, 5s));
  auto before = scrape(sidecar, "sidecar_schedule_runs_total{duty=\"flush\",result=\"ok\"}");
  REQUIRE(before.has_value());
  REQUIRE(*before >= 2);

  sidecar.write_config(flush);
  REQUIRE(sidecar.post("/-/reload").status == 200);
  auto body = sidecar.get("/metrics").body;
  auto after = metric_value(body, "sidecar_schedule_runs_total{duty=\"flush\",result=\"ok\"}");
  REQUIRE(after.has_value());
  CHECK(*after >= *before);
  // The latency duty is gone, and so are its series.
  CHECK(body.find("sidecar_latency_seconds{duty=\"latency\"}") == std::string::npos);
  CHECK(body.find("sidecar_latency_request_duration_seconds_count{duty=\"latency\"}") == std::string::npos);
}

TEST_CASE("status page escapes results", "[duties]") {
  support::nginx_server app({.locations = "location = /flush { return 204; }"});
  app.write_file("status.json", R"({"value": "<b>4</b>"})");
  support::sidecar_process sidecar("app: " + app.url("") +
                                   "\nduties:\n"
                                   "  - name: ready\n"
                                   "    probe:\n"
                                   "      path: /ready\n"
                                   "      checks:\n"
                                   "        - name: value\n"
                                   "          http: { url: /status.json }\n"
                                   "          expect: { json: { pointer: /value, equals: \"<i>5</i>\" } }\n"
                                   "  - name: latency\n"
                                   "    latency: { http: { url: /status.json }, every: 1h }\n"
                                   "  - name: flush\n"
                                   "    schedule: { http: { method: POST, url: /flush }, every: 100ms }\n");
  REQUIRE(sidecar.get("/ready").status == 503);
  REQUIRE(support::wait_until([&] { return app.count_requests("POST /flush") >= 1; }, 5s));

  auto page = sidecar.get("/");
  CHECK(page.status == 200);
  CHECK(page.header("Content-Type") == std::optional<std::string>("text/html; charset=utf-8"));
  CHECK(page.body.find("<script") == std::string::npos);
  CHECK(page.body.find("<b>") == std::string::npos);
  CHECK(page.body.find("<i>") == std::string::npos);
  CHECK(page.body.find("&lt;b&gt;4&lt;/b&gt;") != std::string::npos);
  CHECK(page.body.find("&lt;i&gt;5&lt;/i&gt;") != std::string::npos);

  for (const char* heading : {"<h2>ready <small>probe</small></h2>", "<h2>latency <small>latency</small></h2>",
                              "<h2>flush <small>schedule</small></h2>", "<td class=\"fail\">fail</td>",
                              "<td class=\"pass\">pass</td>", "<td>json_mismatch</td>"}) {
    INFO(heading);
    CHECK(page.body.find(heading) != std::string::npos);
  }
  std::regex rfc3339_cell("<td>\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z</td><td>\\d+\\.\\d{3} ms</td>");
  CHECK(std::regex_search(page.body, rfc3339_cell));
}

TEST_CASE("reload keeps a probe path serving", "[duties][reload]") {
  std::string ok_json = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"value\":5}";
  support::raw_server app(answer_after(800ms, ok_json));
  std::string config = "app: " + app.url("") +
                       "\nduties:\n"
                       "  - name: ready\n"
                       "    probe:\n"
                       "      path: /ready\n"
                       "      checks:\n"
                       "        - http: { url: /status.json, timeout: 3s }\n"
                       "          expect: { json: { pointer: /value, equals: 5 } }\n";
  support::sidecar_process sidecar(config);

  // A probe request is waiting on the app when the reload replaces the probe.
  // The reload does not wait for it, the waiting request still gets its
  // answer, and the path answers throughout.
  support::http_result in_flight;
  std::thread prober([&] { in_flight = sidecar.get("/ready"); });
  REQUIRE(support::wait_until([&] { return app.requests() == 1; }, 5s));
  auto reload_started = std::chrono::steady_clock::now();
  auto reload = sidecar.post("/-/reload");
  auto reload_took = std::chrono::steady_clock::now() - reload_started;
  auto during = sidecar.get("/ready");
  prober.join();

  CHECK(reload.status == 200);
  CHECK(reload_took < 500ms);
  CHECK(in_flight.status == 200);
  CHECK(during.status == 200);
  auto body = sidecar.get("/metrics").body;
  CHECK(metric_value(body, "sidecar_probe_ready{duty=\"ready\"}") == std::optional<double>(1));
  CHECK(metric_value(body, "sidecar_probe_success{check=\"http\",duty=\"ready\"}") == std::optional<double>(1));
  CHECK(sidecar.proc().running());
}
