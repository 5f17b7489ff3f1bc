#pragma once

// Runs a coroutine to completion on a fresh io_context, for tests.
//
//   auto value = support::run(io, compute());  // rethrows what compute() throws

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <future>
#include <stdexcept>

namespace support {

template <typename T>
T run(boost::asio::io_context& io, boost::asio::awaitable<T> op,
      std::chrono::steady_clock::duration limit = std::chrono::seconds(30)) {
  auto future = boost::asio::co_spawn(io, std::move(op), boost::asio::use_future);
  io.restart();
  // Handlers run one at a time until the coroutine is done, so background
  // work on the same io_context (a periodic duty) does not keep this going;
  // the limit bounds a test that would otherwise hang on a bug.
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (future.wait_for(std::chrono::seconds(0)) != std::future_status::ready &&
         std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(std::chrono::milliseconds(10));
  }
  if (future.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    throw std::runtime_error("support::run: the coroutine did not finish within the limit");
  }
  return future.get();
}

// Wall time of a callable, for checks such as "failed before the deadline".
template <typename F>
std::chrono::steady_clock::duration time_of(F&& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::steady_clock::now() - start;
}

}  // namespace support
