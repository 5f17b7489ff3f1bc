#include "sidecar/deadline.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <stdexcept>

#include "support/run.hpp"

using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

asio::awaitable<int> value_after(std::chrono::milliseconds delay, int value) {
  asio::steady_timer timer(co_await asio::this_coro::executor, delay);
  co_await timer.async_wait(asio::use_awaitable);
  co_return value;
}

asio::awaitable<int> fail_after(std::chrono::milliseconds delay) {
  asio::steady_timer timer(co_await asio::this_coro::executor, delay);
  co_await timer.async_wait(asio::use_awaitable);
  throw std::runtime_error("connection refused");
}

// Records whether the operation saw its own cancellation.
asio::awaitable<void> wait_and_record(bool& aborted) {
  asio::steady_timer timer(co_await asio::this_coro::executor, 10s);
  try {
    co_await timer.async_wait(asio::use_awaitable);
  } catch (const boost::system::system_error& e) {
    aborted = e.code() == asio::error::operation_aborted;
    throw;
  }
}

}  // namespace

TEST_CASE("with_timeout returns the value in time", "[deadline]") {
  asio::io_context io;
  CHECK(support::run(io, sidecar::with_timeout(value_after(10ms, 7), 1s)) == 7);
}

TEST_CASE("with_timeout throws at the deadline", "[deadline]") {
  asio::io_context io;
  const auto elapsed = support::time_of([&] {
    CHECK_THROWS_AS(support::run(io, sidecar::with_timeout(value_after(5s, 7), 100ms)), sidecar::timeout_error);
  });
  CHECK(elapsed >= 100ms);
  CHECK(elapsed < 2s);
}

TEST_CASE("with_timeout reports early failure at once", "[deadline]") {
  // With Boost 1.81's `op || timer`, this failure would surface only when
  // the 10 s timer fires.
  asio::io_context io;
  const auto elapsed = support::time_of([&] {
    CHECK_THROWS_WITH(support::run(io, sidecar::with_timeout(fail_after(10ms), 10s)), "connection refused");
  });
  CHECK(elapsed < 2s);
}

TEST_CASE("with_timeout cancels the operation", "[deadline]") {
  asio::io_context io;
  bool aborted = false;
  CHECK_THROWS_AS(support::run(io, sidecar::with_timeout(wait_and_record(aborted), 50ms)), sidecar::timeout_error);
  CHECK(aborted);
  // Nothing is left pending: the timer of the operation was cancelled, so a
  // further run has no work.
  io.restart();
  CHECK(io.poll() == 0);
}

TEST_CASE("with_timeout works with void", "[deadline]") {
  asio::io_context io;
  bool aborted = false;
  auto quick = []() -> asio::awaitable<void> { co_return; };
  CHECK_NOTHROW(support::run(io, sidecar::with_timeout(quick(), 1s)));
  CHECK_THROWS_AS(support::run(io, sidecar::with_timeout(wait_and_record(aborted), 20ms)), sidecar::timeout_error);
}
