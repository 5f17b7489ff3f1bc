// The sidecar binary against real servers: nginx as the main app, small
// misbehaving servers of our own, Prometheus and promtool.

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <thread>
#include <vector>

#include "sidecar_fixture.hpp"
#include "support/nginx.hpp"
#include "support/prometheus.hpp"
#include "support/raw_server.hpp"

using namespace std::chrono_literals;

namespace {

// A probe duty checking /status.json for value == 5 on `app_url`.
std::string ready_config(const std::string& app_url, std::string_view extra_http = ", timeout: 1s",
                         std::string_view probe_extra = "") {
  return "app: " + app_url + "\n" +
         "duties:\n"
         "  - name: ready\n"
         "    probe:\n"
         "      path: /ready\n" +
         std::string(probe_extra) +
         "      checks:\n"
         "        - http: { url: /status.json" + std::string(extra_http) + " }\n"
         "          expect: { status: 200-299, json: { pointer: /value, equals: 5 } }\n";
}

std::string json_response(std::string_view body) {
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + std::string(body);
}

}  // namespace

TEST_CASE("ready follows the app's JSON", "[integration]") {
  support::nginx_server app;
  app.write_file("status.json", R"({"value": 5})");
  support::sidecar_process sidecar(ready_config(app.url("")));

  struct body_case {
    const char* name;
    std::string body;
    int status;
    const char* reason;
  };
  const std::vector<body_case> cases = {
      {"five", R"({"value": 5})", 200, ""},
      {"four", R"({"value": 4})", 503, "json_mismatch"},
      {"string five", R"({"value": "5"})", 503, "json_wrong_type"},
      {"five point zero", R"({"value": 5.0})", 200, ""},
      {"missing key", R"({"other": 5})", 503, "json_missing"},
      {"not JSON", "<html>busy</html>", 503, "json_invalid"},
      {"truncated JSON", R"({"value": 5)", 503, "json_invalid"},
      {"five again", R"({"value": 5, "extra": [1, 2]})", 200, ""},
  };
  for (const body_case& c : cases) {
    SECTION(c.name) {
      app.write_file("status.json", c.body);
      const auto r = sidecar.get("/ready");
      REQUIRE(r.ok());
      CHECK(r.status == c.status);
      if (c.status != 200) CHECK(r.body.find(std::string("fail (") + c.reason) != std::string::npos);
      INFO(r.body);
    }
  }
}

TEST_CASE("ready fails on a 10 MiB body", "[integration]") {
  support::nginx_server app;
  app.write_file("status.json", "{\"value\": 5, \"pad\": \"" + std::string(10 * 1024 * 1024, 'x') + "\"}");
  support::sidecar_process sidecar(ready_config(app.url(""), ", timeout: 1s, max_body: 1MiB"));
  const auto r = sidecar.get("/ready");
  REQUIRE(r.ok());
  CHECK(r.status == 503);
  CHECK(r.body.find("fail (body_too_large") != std::string::npos);
}

TEST_CASE("ready fails on a reset mid-body", "[integration]") {
  support::raw_server app([](int fd) {
    if (!support::read_request(fd)) return;
    support::write_all(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"value\":");
    support::reset_on_close(fd);
  });
  support::sidecar_process sidecar(ready_config(app.url("")));
  const auto r = sidecar.get("/ready");
  REQUIRE(r.ok());
  CHECK(r.status == 503);
  CHECK(r.body.find("fail (reset") != std::string::npos);
}

TEST_CASE("ready fails at once when the app is down", "[integration]") {
  const std::uint16_t closed = support::free_port();
  support::sidecar_process sidecar(ready_config("http://127.0.0.1:" + std::to_string(closed), ", timeout: 5s"));
  const auto start = std::chrono::steady_clock::now();
  const auto r = sidecar.get("/ready");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  REQUIRE(r.ok());
  CHECK(r.status == 503);
  CHECK(r.body.find("fail (refused") != std::string::npos);
  // The check's timeout is 5 s; a refused connection must not wait for it.
  CHECK(elapsed < 2s);
}

TEST_CASE("ready fails at the deadline when the app is slow", "[integration]") {
  support::raw_server app([](int fd) {
    if (!support::read_request(fd)) return;
    support::sleep_unless_stopped(10s);
  });
  support::sidecar_process sidecar(ready_config(app.url(""), ", timeout: 700ms"));

  std::atomic<bool> probe_done{false};
  support::http_result probe;
  std::chrono::steady_clock::duration probe_took{};
  std::thread waiter([&] {
    const auto start = std::chrono::steady_clock::now();
    probe = sidecar.get("/ready");
    probe_took = std::chrono::steady_clock::now() - start;
    probe_done = true;
  });

  // While the probe waits on the app, the sidecar's other endpoints answer.
  std::this_thread::sleep_for(100ms);
  const auto live = sidecar.get("/live", 300ms);
  const auto metrics = sidecar.get("/metrics", 300ms);
  const bool other_answered_first = !probe_done;
  waiter.join();

  CHECK(live.status == 200);
  CHECK(metrics.status == 200);
  CHECK(other_answered_first);
  REQUIRE(probe.ok());
  CHECK(probe.status == 503);
  CHECK(probe.body.find("fail (timeout") != std::string::npos);
  CHECK(probe_took >= 700ms);
  CHECK(probe_took < 3s);
}

TEST_CASE("slow client does not delay probes", "[integration]") {
  support::nginx_server app;
  app.write_file("status.json", R"({"value": 5})");
  support::sidecar_process sidecar(ready_config(app.url("")) + "server: { read_timeout: 3s }\n");

  // A client that sends its request one byte a second, as in a slowloris attack.
  std::atomic<bool> stop{false};
  std::atomic<bool> cut_off{false};
  std::thread slow([&] {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(sidecar.port());
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) return;
    const std::string request = "GET /ready HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    for (std::size_t i = 0; i < request.size() && !stop; ++i) {
      if (::send(fd, &request[i], 1, MSG_NOSIGNAL) != 1) {
        cut_off = true;
        break;
      }
      char byte;
      if (::recv(fd, &byte, 1, MSG_DONTWAIT) == 0) {
        cut_off = true;
        break;
      }
      std::this_thread::sleep_for(1s);
    }
    ::close(fd);
  });

  std::this_thread::sleep_for(1500ms);
  for (int i = 0; i < 5; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const auto r = sidecar.get("/ready", 1s);
    CHECK(r.status == 200);
    CHECK(std::chrono::steady_clock::now() - start < 500ms);
  }
  // The server closes the slow connection at its read timeout.
  CHECK(support::wait_until([&] { return cut_off.load(); }, 6s));
  stop = true;
  slow.join();
}

TEST_CASE("hundred concurrent probes cause one request", "[integration]") {
  support::raw_server app([](int fd) {
    while (support::read_request(fd)) {
      support::sleep_unless_stopped(500ms);
      if (!support::write_all(fd, json_response(R"({"value": 5})"))) return;
    }
  });
  support::sidecar_process sidecar(ready_config(app.url("")) + "server: { max_connections: 512 }\n");

  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 100; ++i) {
    clients.emplace_back([&] {
      if (sidecar.get("/ready").status == 200) ++ok;
    });
  }
  for (auto& t : clients) t.join();
  CHECK(ok == 100);
  CHECK(app.requests() == 1);
}

TEST_CASE("SIGTERM drains then stops within the grace period", "[integration]") {
  support::nginx_server app;
  app.write_file("status.json", R"({"value": 5})");
  support::sidecar_process sidecar(ready_config(app.url("")) + "shutdown: { grace: 2s, drain: 1s }\n");
  REQUIRE(sidecar.get("/ready").status == 200);

  const auto start = std::chrono::steady_clock::now();
  sidecar.proc().signal(SIGTERM);
  // During the drain period the server answers, and probes fail.
  REQUIRE(support::wait_until([&] { return sidecar.get("/ready", 500ms).status == 503; }, 900ms));
  const auto draining = sidecar.get("/ready?format=json", 500ms);
  CHECK(draining.body.find("\"status\":\"draining\"") != std::string::npos);
  CHECK(sidecar.get("/live", 500ms).status == 200);

  const auto status = sidecar.proc().wait_for_exit(5s);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  REQUIRE(status.has_value());
  CHECK(*status == 0);
  CHECK(elapsed >= 1s);
  CHECK(elapsed < 3500ms);
  const std::string logs = sidecar.logs();
  CHECK(logs.find("\"msg\":\"shutdown requested\",\"signal\":\"SIGTERM\"") != std::string::npos);
  CHECK(logs.find("\"duty\":\"ready\",\"msg\":\"duty stopped\"") != std::string::npos);
  CHECK(logs.find("\"msg\":\"sidecar stopped\"") != std::string::npos);
}

TEST_CASE("second signal exits at once", "[integration]") {
  support::nginx_server app;
  app.write_file("status.json", R"({"value": 5})");
  support::sidecar_process sidecar(ready_config(app.url("")) + "shutdown: { grace: 5s, drain: 30s }\n");
  sidecar.proc().signal(SIGTERM);
  REQUIRE(support::wait_until([&] { return sidecar.logs().find("\"msg\":\"draining\"") != std::string::npos; }, 2s));
  sidecar.proc().signal(SIGINT);
  const auto status = sidecar.proc().wait_for_exit(2s);
  REQUIRE(status.has_value());
  CHECK(*status == 128 + SIGINT);
}

TEST_CASE("bad reload keeps the old duties", "[integration]") {
  support::nginx_server app;
  app.write_file("status.json", R"({"value": 5})");
  support::sidecar_process sidecar(ready_config(app.url("")));
  REQUIRE(sidecar.get("/ready").status == 200);

  SECTION("by SIGHUP") {
    sidecar.write_config("app: " + app.url("") + "\nduties:\n  - name: ready\n    probe:\n      pathh: /ready\n");
    sidecar.proc().signal(SIGHUP);
    REQUIRE(support::wait_until([&] { return sidecar.logs().find("\"msg\":\"reload failed\"") != std::string::npos; }, 5s));
    CHECK(sidecar.logs().find("pathh: unknown key, did you mean \\\"path\\\"?") != std::string::npos);
    CHECK(sidecar.get("/ready").status == 200);
  }

  SECTION("by POST /-/reload") {
    sidecar.write_config("app: " + app.url("") + "\nduties: [ { name: ready, probe: { path: /ready, checks: [ { tcp: { address: nowhere } } ] } } ]\n");
    const auto r = sidecar.post("/-/reload");
    CHECK(r.status == 400);
    CHECK(r.body.find("sidecar.yaml:3:") != std::string::npos);
    CHECK(sidecar.get("/ready").status == 200);
  }
}

TEST_CASE("good reload replaces the duties", "[integration]") {
  support::nginx_server app;
  app.write_file("status.json", R"({"value": 5})");
  app.write_file("other.json", R"({"state": "up"})");
  support::sidecar_process sidecar(ready_config(app.url("")));
  REQUIRE(sidecar.get("/ready").status == 200);

  sidecar.write_config("app: " + app.url("") +
                       "\nduties:\n"
                       "  - name: other\n"
                       "    probe:\n"
                       "      path: /other\n"
                       "      checks:\n"
                       "        - http: { url: /other.json }\n"
                       "          expect: { json: { pointer: /state, equals: up } }\n");
  const auto r = sidecar.post("/-/reload");
  CHECK(r.status == 200);
  CHECK(sidecar.get("/other").status == 200);
  CHECK(sidecar.get("/ready").status == 404);
  const auto metrics = sidecar.get("/metrics");
  CHECK(metrics.body.find("sidecar_probe_ready{duty=\"other\"}") != std::string::npos);
  CHECK(metrics.body.find("sidecar_probe_ready{duty=\"ready\"}") == std::string::npos);
}

TEST_CASE("config error names file line and key", "[integration]") {
  support::temp_dir dir;
  dir.write_file("bad.yaml", "listen: 127.0.0.1:9090\nduties:\n  - name: ready\n    probe:\n      path: /ready\n      cheks: []\n");
  support::process check({std::string(SIDECAR_BIN_DIR) + "/sidecar", "--check-config", (dir.path() / "bad.yaml").string()});
  const auto status = check.wait_for_exit(5s);
  REQUIRE(status.has_value());
  CHECK(*status == 1);
  const std::string output = check.stderr_content() + check.stdout_content();
  CHECK(output.find("bad.yaml:6:7: duties[0].probe.cheks: unknown key, did you mean \"checks\"?") != std::string::npos);
}

TEST_CASE("metrics pass promtool", "[integration]") {
  support::nginx_server app({.locations = "location = /flush { return 204; }"});
  app.write_file("status.json", R"({"value": 4})");
  support::sidecar_process sidecar(ready_config(app.url("")) +
                                   "  - name: latency\n"
                                   "    latency: { http: { url: /status.json }, every: 100ms }\n"
                                   "  - name: flush\n"
                                   "    schedule: { http: { method: POST, url: /flush }, every: 100ms }\n");
  sidecar.get("/ready");
  std::this_thread::sleep_for(350ms);
  const auto r = sidecar.get("/metrics");
  REQUIRE(r.status == 200);
  CHECK(r.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
  for (const char* series : {"sidecar_build_info{version=\"", "sidecar_probe_success{check=\"http\",duty=\"ready\"} 0",
                             "sidecar_probe_duration_seconds{check=\"http\",duty=\"ready\"} ",
                             "sidecar_probe_results_total{check=\"http\",duty=\"ready\",result=\"json_mismatch\"} ",
                             "sidecar_latency_seconds{duty=\"latency\"} ", "sidecar_latency_request_duration_seconds_bucket{",
                             "sidecar_schedule_runs_total{duty=\"flush\",result=\"ok\"} "}) {
    INFO(series);
    CHECK(r.body.find(series) != std::string::npos);
  }
  CHECK(app.count_requests("POST /flush") >= 2);

  const auto lint = support::promtool_check_metrics(r.body);
  INFO(lint.output);
  CHECK(lint.exit_status == 0);
}

TEST_CASE("schedule never overlaps itself", "[integration]") {
  std::atomic<int> active{0};
  std::atomic<int> max_active{0};
  support::raw_server app([&](int fd) {
    while (support::read_request(fd)) {
      const int now = ++active;
      int seen = max_active.load();
      while (now > seen && !max_active.compare_exchange_weak(seen, now)) {
      }
      support::sleep_unless_stopped(300ms);
      --active;
      if (!support::write_all(fd, "HTTP/1.1 204 No Content\r\n\r\n")) return;
    }
  });
  support::sidecar_process sidecar("app: " + app.url("") +
                                   "\nduties:\n  - name: flush\n    schedule: { http: { method: POST, url: /flush, timeout: 2s }, every: 50ms }\n");
  std::this_thread::sleep_for(1200ms);
  CHECK(app.requests() >= 3);
  CHECK(app.requests() <= 5);
  CHECK(max_active == 1);
}

TEST_CASE("status page lists checks", "[integration]") {
  support::nginx_server app;
  app.write_file("status.json", R"({"value": 4})");
  support::sidecar_process sidecar(ready_config(app.url("")));
  sidecar.get("/ready");
  const auto page = sidecar.get("/");
  CHECK(page.status == 200);
  CHECK(page.header("Content-Type").value_or("").starts_with("text/html"));
  CHECK(page.body.find("ready") != std::string::npos);
  CHECK(page.body.find("json_mismatch") != std::string::npos);
  CHECK(page.body.find("<script") == std::string::npos);
}

TEST_CASE("Prometheus scrapes the sidecar", "[integration][prometheus]") {
  support::nginx_server app;
  app.write_file("status.json", R"({"value": 5})");
  support::sidecar_process sidecar(ready_config(app.url(""), ", timeout: 1s", "      mode: periodic\n      every: 200ms\n"));
  support::prometheus_server prom({.targets = {"127.0.0.1:" + std::to_string(sidecar.port())}, .scrape_interval = 1s});
  REQUIRE(prom.wait_ready());
  const bool scraped = support::wait_until(
      [&] {
        const std::string body = prom.query("sidecar_probe_success{duty=\"ready\"}");
        return body.find("\"check\":\"http\"") != std::string::npos && body.find(",\"1\"]") != std::string::npos;
      },
      30s, 250ms);
  INFO(prom.log_tail());
  CHECK(scraped);
  CHECK(prom.query("up").find(",\"1\"]") != std::string::npos);
}

TEST_CASE("probe path answers throughout reloads", "[integration]") {
  support::nginx_server app;
  app.write_file("status.json", R"({"value": 5})");
  support::sidecar_process sidecar(ready_config(app.url("")));
  REQUIRE(sidecar.get("/ready").status == 200);

  std::atomic<bool> done{false};
  std::atomic<int> not_found{0};
  std::atomic<int> answered{0};
  std::thread prober([&] {
    for (int i = 0; i < 2000 && !done; ++i) {
      const int status = sidecar.get("/ready", 2s).status;
      if (status == 404) ++not_found;
      if (status == 200) ++answered;
    }
  });
  int reloaded = 0;
  for (int i = 0; i < 20; ++i) {
    if (sidecar.post("/-/reload").status == 200) ++reloaded;
  }
  done = true;
  prober.join();
  CHECK(reloaded == 20);
  CHECK(not_found == 0);
  CHECK(answered > 0);
}
