// The example sidecars, run as a user would run them, beside a real nginx.

#include <catch2/catch.hpp>

#include <csignal>
#include <thread>

#include "support/http_get.hpp"
#include "support/nginx.hpp"
#include "support/process.hpp"

using namespace std::chrono_literals;

namespace {

struct example_process {
  example_process(const std::string& name, const support::nginx_server& app, std::vector<std::string> extra = {})
      : port(support::free_port()) {
    std::vector<std::string> argv{std::string(SIDECAR_BIN_DIR) + "/example_" + name, "--listen",
                                  "127.0.0.1:" + std::to_string(port), "--app", app.url("")};
    argv.insert(argv.end(), extra.begin(), extra.end());
    proc = std::make_unique<support::process>(argv);
    if (!support::wait_for_port(port, 10s)) FAIL("example " << name << " did not start:\n" << proc->stderr_content());
  }

  std::uint16_t port;
  std::unique_ptr<support::process> proc;
};

}  // namespace

TEST_CASE("ready_value example follows value", "[examples]") {
  support::nginx_server app;
  app.write_file("status.json", R"({"value": 5})");
  example_process sidecar("ready_value", app);
  CHECK(support::http_get(sidecar.port, "/ready").status == 200);
  app.write_file("status.json", R"({"value": 4})");
  const auto r = support::http_get(sidecar.port, "/ready");
  CHECK(r.status == 503);
  CHECK(r.body.find("json_mismatch") != std::string::npos);
  CHECK(sidecar.proc->stop(SIGTERM, 5s) == 0);
}

TEST_CASE("latency_gauge example exports latency", "[examples]") {
  support::nginx_server app;
  example_process sidecar("latency_gauge", app, {"--every", "100ms"});
  const bool measured = support::wait_until(
      [&] {
        const auto r = support::http_get(sidecar.port, "/metrics");
        const auto at = r.body.find("\napp_latency_seconds ");
        return at != std::string::npos && r.body.compare(at + 21, 3, "nan") != 0 && r.body.compare(at + 21, 3, "Nan") != 0;
      },
      5s, 50ms);
  CHECK(measured);
  CHECK(app.count_requests("GET / ") >= 1);
}

TEST_CASE("flush example calls the app", "[examples]") {
  support::nginx_server app({.locations = "location = /flush { return 204; }"});
  example_process sidecar("flush", app, {"--every", "100ms"});
  CHECK(support::wait_until([&] { return app.count_requests("POST /flush") >= 3; }, 5s, 50ms));
  CHECK(sidecar.proc->stop(SIGTERM, 5s) == 0);
}
