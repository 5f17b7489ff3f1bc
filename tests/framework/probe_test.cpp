#include "sidecar/probe.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <stdexcept>
#include <thread>

#include "sidecar/metrics.hpp"
#include "support/run.hpp"

using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

// A check whose outcome the test sets, counting its runs.
struct scripted_check {
  bool passes = true;
  int runs = 0;
  std::chrono::milliseconds delay{0};
  bool throws = false;

  std::unique_ptr<sidecar::check> make() {
    return sidecar::make_function_check("scripted", [this]() -> asio::awaitable<sidecar::check_result> {
      ++runs;
      if (delay.count() > 0) {
        asio::steady_timer timer(co_await asio::this_coro::executor, delay);
        co_await timer.async_wait(asio::use_awaitable);
      }
      if (throws) throw std::runtime_error("lost the main app");
      co_return passes ? sidecar::check_passed() : sidecar::check_failed("status", "HTTP status 503, expected 200-299");
    });
  }
};

struct fixture {
  std::shared_ptr<sidecar::probe> make(sidecar::probe_options options, std::vector<scripted_check*> scripts) {
    std::vector<sidecar::named_check> checks;
    int i = 0;
    for (scripted_check* s : scripts) checks.push_back({"check" + std::to_string(++i), s->make()});
    return sidecar::probe::create("ready", options, std::move(checks), metrics, logs->make_logger("ready"));
  }

  asio::io_context io;
  sidecar::metrics metrics;
  std::shared_ptr<sidecar::log_sink> logs = [] {
    auto sink = std::make_shared<sidecar::log_sink>(sidecar::log_level::error);
    sink->set_writer([](std::string_view) {});
    return sink;
  }();
};

sidecar::http::response get(asio::io_context& io, sidecar::probe& p, std::string query = "") {
  sidecar::http::request request{.method = "GET", .target = "/ready", .path = "/ready", .query = std::move(query)};
  auto handler = p.handler();
  return support::run(io, handler(request));
}

}  // namespace

TEST_CASE("probe answers 200 when checks pass", "[probe]") {
  fixture f;
  scripted_check a, b;
  auto p = f.make({}, {&a, &b});
  const auto response = get(f.io, *p);
  CHECK(response.status == 200);
  CHECK(response.body.starts_with("ready\ncheck1: ok ("));
  CHECK(response.body.find("\ncheck2: ok (") != std::string::npos);
  CHECK(response.headers.get("Cache-Control") == "no-store");
}

TEST_CASE("probe answers 503 naming the failed check", "[probe]") {
  fixture f;
  scripted_check a, b;
  b.passes = false;
  auto p = f.make({}, {&a, &b});
  const auto response = get(f.io, *p);
  CHECK(response.status == 503);
  CHECK(response.body.starts_with("not ready\ncheck1: ok ("));
  CHECK(response.body.find("check2: fail (status, ") != std::string::npos);
  CHECK(response.body.find("): HTTP status 503, expected 200-299\n") != std::string::npos);

  const auto json = get(f.io, *p, "format=json");
  CHECK(json.status == 503);
  CHECK(json.content_type == "application/json");
  CHECK(json.body.starts_with("{\"status\":\"not ready\",\"ready\":false,\"draining\":false,\"checks\":["));
  CHECK(json.body.find("\"name\":\"check2\",\"kind\":\"function\",\"target\":\"scripted\",\"passed\":false,"
                       "\"reason\":\"status\",\"message\":\"HTTP status 503, expected 200-299\"") != std::string::npos);
}

TEST_CASE("probe shares one in-flight evaluation", "[probe]") {
  fixture f;
  scripted_check slow;
  slow.delay = 50ms;
  auto p = f.make({}, {&slow});
  int answered = 0;
  for (int i = 0; i < 100; ++i) {
    asio::co_spawn(f.io, [&]() -> asio::awaitable<void> {
      const auto answer = co_await p->evaluate();
      if (answer.ready) ++answered;
    }, asio::detached);
  }
  f.io.run_for(5s);
  CHECK(answered == 100);
  CHECK(slow.runs == 1);

  // The next request after the flight starts a new evaluation.
  f.io.restart();
  CHECK(support::run(f.io, p->evaluate()).ready);
  CHECK(slow.runs == 2);
}

TEST_CASE("probe reuses a result within max_staleness", "[probe]") {
  fixture f;
  scripted_check c;
  auto p = f.make({.max_staleness = 200ms}, {&c});
  support::run(f.io, p->evaluate());
  support::run(f.io, p->evaluate());
  CHECK(c.runs == 1);
  std::this_thread::sleep_for(250ms);
  support::run(f.io, p->evaluate());
  CHECK(c.runs == 2);
}

TEST_CASE("probe runs checks concurrently", "[probe]") {
  fixture f;
  scripted_check a, b, c;
  a.delay = b.delay = c.delay = 150ms;
  auto p = f.make({}, {&a, &b, &c});
  const auto elapsed = support::time_of([&] { CHECK(support::run(f.io, p->evaluate()).ready); });
  CHECK(elapsed >= 150ms);
  CHECK(elapsed < 400ms);
}

TEST_CASE("probe applies failure and success thresholds", "[probe]") {
  fixture f;
  scripted_check c;
  auto p = f.make({.success_threshold = 2, .failure_threshold = 3}, {&c});
  auto ready = [&] { return support::run(f.io, p->evaluate()).ready; };

  CHECK_FALSE(ready());  // one success of the two needed
  CHECK(ready());
  c.passes = false;
  CHECK(ready());  // failure 1 of 3
  CHECK(ready());  // failure 2 of 3
  CHECK_FALSE(ready());
  c.passes = true;
  CHECK_FALSE(ready());  // success 1 of 2
  c.passes = false;
  CHECK_FALSE(ready());
  c.passes = true;
  CHECK_FALSE(ready());
  CHECK(ready());
}

TEST_CASE("probe reports a throwing check as error", "[probe]") {
  fixture f;
  scripted_check c;
  c.throws = true;
  auto p = f.make({}, {&c});
  const auto response = get(f.io, *p);
  CHECK(response.status == 503);
  CHECK(response.body.find("check1: fail (error, ") != std::string::npos);
  CHECK(response.body.find("lost the main app") != std::string::npos);
}

TEST_CASE("probe in periodic mode answers from the background", "[probe]") {
  fixture f;
  scripted_check c;
  auto p = f.make({.mode = sidecar::probe_mode::periodic, .every = 50ms}, {&c});

  CHECK(get(f.io, *p).status == 503);  // no result yet
  CHECK(c.runs == 0);

  asio::co_spawn(f.io, p->run(), asio::detached);
  f.io.restart();
  f.io.run_for(175ms);
  CHECK(c.runs >= 3);
  CHECK(c.runs <= 5);

  const int runs = c.runs;
  const auto response = get(f.io, *p);
  CHECK(response.status == 200);
  CHECK(c.runs == runs);
}

TEST_CASE("probe answers 503 while draining", "[probe]") {
  fixture f;
  scripted_check c;
  auto p = f.make({}, {&c});
  CHECK(get(f.io, *p).status == 200);
  p->set_draining();
  const auto response = get(f.io, *p);
  CHECK(response.status == 503);
  CHECK(response.body.starts_with("draining\n"));
  CHECK(f.metrics.render().find("sidecar_probe_ready{duty=\"ready\"} 0") != std::string::npos);
}

TEST_CASE("probe exports and removes its series", "[probe]") {
  fixture f;
  scripted_check c;
  c.passes = false;
  {
    auto p = f.make({}, {&c});
    get(f.io, *p);
    get(f.io, *p);
    const std::string text = f.metrics.render();
    CHECK(text.find("sidecar_probe_success{check=\"check1\",duty=\"ready\"} 0") != std::string::npos);
    CHECK(text.find("sidecar_probe_results_total{check=\"check1\",duty=\"ready\",result=\"status\"} 2") !=
          std::string::npos);
    CHECK(text.find("sidecar_probe_duration_seconds{check=\"check1\",duty=\"ready\"} ") != std::string::npos);
    CHECK(text.find("sidecar_probe_ready{duty=\"ready\"} 0") != std::string::npos);
  }
  CHECK(f.metrics.render().find("duty=\"ready\"") == std::string::npos);
}

TEST_CASE("probe keeps the last 20 results", "[probe]") {
  fixture f;
  scripted_check c;
  auto p = f.make({}, {&c});
  for (int i = 0; i < 25; ++i) support::run(f.io, p->evaluate());
  REQUIRE(p->checks().size() == 1);
  CHECK(p->checks()[0].history.entries().size() == 20);
  CHECK(p->checks()[0].history.last()->passed);
}

TEST_CASE("probe series survive an older probe", "[probe]") {
  // A reload creates the new probe before the old one is gone. Both use the
  // same series, which must stay until the new probe goes too.
  fixture f;
  scripted_check c;
  auto old_probe = f.make({}, {&c});
  get(f.io, *old_probe);
  auto new_probe = f.make({}, {&c});
  old_probe.reset();
  get(f.io, *new_probe);
  const std::string text = f.metrics.render();
  CHECK(text.find("sidecar_probe_success{check=\"check1\",duty=\"ready\"} 1") != std::string::npos);
  CHECK(text.find("sidecar_probe_ready{duty=\"ready\"} 1") != std::string::npos);
  CHECK(text.find("sidecar_probe_results_total{check=\"check1\",duty=\"ready\",result=\"ok\"} 2") != std::string::npos);
  new_probe.reset();
  CHECK(f.metrics.render().find("duty=\"ready\"") == std::string::npos);
}

TEST_CASE("periodic probes evaluate at most 32 at once", "[probe]") {
  fixture f;
  int running = 0;
  int max_running = 0;
  int finished = 0;
  std::vector<std::shared_ptr<sidecar::probe>> probes;
  for (int i = 0; i < 100; ++i) {
    std::vector<sidecar::named_check> checks;
    checks.push_back({"slow", sidecar::make_function_check("slow", [&]() -> asio::awaitable<sidecar::check_result> {
                        max_running = std::max(max_running, ++running);
                        asio::steady_timer timer(co_await asio::this_coro::executor, 20ms);
                        co_await timer.async_wait(asio::use_awaitable);
                        --running;
                        ++finished;
                        co_return sidecar::check_passed();
                      })});
    probes.push_back(sidecar::probe::create("p" + std::to_string(i), {.mode = sidecar::probe_mode::periodic, .every = 10s},
                                            std::move(checks), f.metrics, f.logs->make_logger("p")));
    asio::co_spawn(f.io, probes.back()->run(), asio::detached);
  }
  f.io.run_for(1s);
  CHECK(finished == 100);
  CHECK(max_running == 32);
  for (const auto& p : probes) CHECK(p->answer().ready);
}
