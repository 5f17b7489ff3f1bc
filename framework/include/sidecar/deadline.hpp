#pragma once

// Runs an awaitable with a timeout.
//
//   auto body = co_await sidecar::with_timeout(read_body(stream), 2s);
//
// When the time is up the operation is cancelled (through its cancellation
// slot, with cancellation_type::terminal) and `timeout_error` is thrown once
// it has finished unwinding. When the operation fails before the deadline its
// exception is rethrown at once: this helper does not wait for the timer, as
// `op || timer` with Boost 1.81's awaitable operators does. Cancelling the
// caller cancels the operation too.

#include <chrono>
#include <optional>
#include <stdexcept>
#include <utility>

#include "sidecar/asio.hpp"

namespace sidecar {

class timeout_error : public std::runtime_error {
 public:
  timeout_error() : std::runtime_error("operation timed out") {}
};

// The type-erased core of with_timeout.
asio::awaitable<void> run_with_timeout(asio::awaitable<void> op,
                                       std::chrono::steady_clock::duration timeout);

template <typename T>
asio::awaitable<T> with_timeout(asio::awaitable<T> op, std::chrono::steady_clock::duration timeout) {
  if constexpr (std::is_void_v<T>) {
    co_await run_with_timeout(std::move(op), timeout);
  } else {
    std::optional<T> result;
    co_await run_with_timeout(
        [](asio::awaitable<T> inner, std::optional<T>& out) -> asio::awaitable<void> {
          out.emplace(co_await std::move(inner));
        }(std::move(op), result),
        timeout);
    co_return std::move(*result);
  }
}

}  // namespace sidecar
