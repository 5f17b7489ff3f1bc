#include "sidecar/supervisor.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <stdexcept>

#include "sidecar/http_client.hpp"
#include "sidecar/log.hpp"
#include "sidecar/metrics.hpp"
#include "support/run.hpp"

using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

struct fixture {
  fixture(sidecar::backoff_policy backoff = {.initial = 10ms, .max = 40ms, .jitter = 0.0})
      : logs(std::make_shared<sidecar::log_sink>(sidecar::log_level::debug)),
        client(io.get_executor()),
        duties(io.get_executor(), logs, metrics, client, backoff) {
    logs->set_writer([this](std::string_view line) { lines.emplace_back(line); });
  }

  std::size_t count_lines(std::string_view fragment) const {
    return static_cast<std::size_t>(std::count_if(lines.begin(), lines.end(), [&](const std::string& line) {
      return line.find(fragment) != std::string::npos;
    }));
  }

  asio::io_context io;
  std::shared_ptr<sidecar::log_sink> logs;
  std::vector<std::string> lines;
  sidecar::metrics metrics;
  sidecar::http::client client;
  sidecar::supervisor duties;
};

}  // namespace

TEST_CASE("supervisor restarts a failing duty", "[supervisor]") {
  fixture f;
  int runs = 0;
  int ticks = 0;
  f.duties.start({"flaky", [&](sidecar::duty_context&) -> asio::awaitable<void> {
                    ++runs;
                    throw std::runtime_error("main app returned garbage");
                    co_return;
                  }});
  f.duties.start({"steady", [&](sidecar::duty_context& ctx) -> asio::awaitable<void> {
                    for (;;) {
                      ++ticks;
                      co_await ctx.sleep(5ms);
                    }
                  }});
  f.io.run_for(300ms);

  // Delays of 10, 20, 40, 40, ... ms allow a handful of restarts in 300 ms.
  CHECK(runs >= 4);
  CHECK(runs <= 12);
  // The last failure may be counted while its restart still waits.
  const std::uint64_t restarts = f.duties.restarts("flaky");
  CHECK(restarts >= static_cast<std::uint64_t>(runs - 1));
  CHECK(restarts <= static_cast<std::uint64_t>(runs));
  CHECK(ticks > 20);
  CHECK(f.duties.restarts("steady") == 0);
  CHECK(f.count_lines("\"msg\":\"duty failed\",\"error\":\"main app returned garbage\"") >= 1);
  CHECK(f.metrics.render().find("sidecar_duty_restarts_total{duty=\"flaky\"} " + std::to_string(restarts)) !=
        std::string::npos);
}

TEST_CASE("supervisor does not restart a finished duty", "[supervisor]") {
  fixture f;
  int runs = 0;
  f.duties.start({"once", [&](sidecar::duty_context&) -> asio::awaitable<void> {
                    ++runs;
                    co_return;
                  }});
  f.io.run_for(100ms);
  CHECK(runs == 1);
  CHECK(f.duties.running().empty());
  CHECK(f.count_lines("\"duty\":\"once\",\"msg\":\"duty finished\"") == 1);
}

TEST_CASE("supervisor stop cancels duties", "[supervisor]") {
  fixture f;
  bool cancelled = false;
  f.duties.start({"sleeper", [&](sidecar::duty_context& ctx) -> asio::awaitable<void> {
                    try {
                      co_await ctx.sleep(1h);
                    } catch (const boost::system::system_error& e) {
                      cancelled = e.code() == asio::error::operation_aborted;
                      throw;
                    }
                  }});
  std::vector<std::string> late{"not set"};
  asio::co_spawn(f.io, [&]() -> asio::awaitable<void> {
    asio::steady_timer timer(f.io, 20ms);
    co_await timer.async_wait(asio::use_awaitable);
    late = co_await f.duties.stop({}, 5s);
  }, asio::detached);

  const auto elapsed = support::time_of([&] { f.io.run_for(10s); });
  CHECK(late.empty());
  CHECK(cancelled);
  CHECK(elapsed < 2s);
  CHECK(f.duties.running().empty());
  CHECK(f.duties.restarts("sleeper") == 0);
  CHECK(f.count_lines("\"duty\":\"sleeper\",\"msg\":\"duty stopped\"") == 1);
}

TEST_CASE("supervisor stop cancels a duty in back-off", "[supervisor]") {
  fixture f({.initial = 1h, .max = 1h, .jitter = 0.0});
  f.duties.start({"broken", [&](sidecar::duty_context&) -> asio::awaitable<void> {
                    throw std::runtime_error("boom");
                    co_return;
                  }});
  std::vector<std::string> late{"not set"};
  asio::co_spawn(f.io, [&]() -> asio::awaitable<void> {
    asio::steady_timer timer(f.io, 20ms);
    co_await timer.async_wait(asio::use_awaitable);
    // A named vector, because g++ 12 rejects a braced list of string
    // literals inside a co_await expression.
    std::vector<std::string> names;
    names.emplace_back("broken");
    late = co_await f.duties.stop(names, 1s);
  }, asio::detached);
  const auto elapsed = support::time_of([&] { f.io.run_for(10s); });
  CHECK(late.empty());
  CHECK(elapsed < 2s);
  CHECK(f.duties.restarts("broken") == 1);
}

TEST_CASE("supervisor stop reports a stuck duty", "[supervisor]") {
  fixture f;
  f.duties.start({"stubborn", [&](sidecar::duty_context& ctx) -> asio::awaitable<void> {
                    // Ignores cancellation for 400 ms, as a duty stuck in a
                    // blocking call would.
                    co_await asio::this_coro::reset_cancellation_state(asio::disable_cancellation());
                    co_await ctx.sleep(400ms);
                  }});
  f.duties.start({"polite", [&](sidecar::duty_context& ctx) -> asio::awaitable<void> { co_await ctx.sleep(1h); }});
  std::vector<std::string> late;
  std::chrono::steady_clock::duration stop_took{};
  asio::co_spawn(f.io, [&]() -> asio::awaitable<void> {
    asio::steady_timer timer(f.io, 20ms);
    co_await timer.async_wait(asio::use_awaitable);
    const auto start = std::chrono::steady_clock::now();
    late = co_await f.duties.stop({}, 100ms);
    stop_took = std::chrono::steady_clock::now() - start;
  }, asio::detached);
  f.io.run_for(2s);
  REQUIRE(late.size() == 1);
  CHECK(late[0] == "stubborn");
  CHECK(stop_took >= 100ms);
  CHECK(stop_took < 1s);
}

TEST_CASE("supervisor rejects a duplicate name", "[supervisor]") {
  fixture f;
  auto forever = [](sidecar::duty_context& ctx) -> asio::awaitable<void> { co_await ctx.sleep(1h); };
  f.duties.start({"ready", forever});
  CHECK_THROWS_WITH(f.duties.start({"ready", forever}), "supervisor: duty \"ready\" is already running");
}

TEST_CASE("backoff doubles up to the maximum", "[supervisor]") {
  const sidecar::backoff_policy policy{.initial = 200ms, .max = 30s};
  CHECK(policy.delay(1) == 200ms);
  CHECK(policy.delay(2) == 400ms);
  CHECK(policy.delay(3) == 800ms);
  CHECK(policy.delay(20) == 30s);
}

TEST_CASE("supervisor forgets a removed duty", "[supervisor]") {
  fixture f;
  f.duties.start({"dropped", [](sidecar::duty_context&) -> asio::awaitable<void> {
                    throw std::runtime_error("boom");
                    co_return;
                  }});
  f.io.run_for(30ms);
  REQUIRE(f.duties.restarts("dropped") >= 1);

  // Running duties are not forgotten.
  f.duties.forget("dropped");
  CHECK(f.duties.restarts("dropped") >= 1);

  asio::co_spawn(f.io, f.duties.stop({}, 1s), asio::detached);
  f.io.restart();
  f.io.run_for(200ms);
  f.duties.forget("dropped");
  CHECK(f.duties.restarts("dropped") == 0);
  CHECK(f.metrics.render().find("duty=\"dropped\"") == std::string::npos);
}
