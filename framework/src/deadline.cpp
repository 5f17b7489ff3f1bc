#include "sidecar/deadline.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

namespace sidecar {

asio::awaitable<void> run_with_timeout(asio::awaitable<void> op, std::chrono::steady_clock::duration timeout) {
  auto executor = co_await asio::this_coro::executor;
  asio::steady_timer timer(executor, timeout);

  // wait_for_one completes the group when either side completes, success or
  // not, and cancels the other side. The group then waits for both, so the
  // operation has fully unwound when this returns.
  auto [order, op_error, timer_error] =
      co_await asio::experimental::make_parallel_group(asio::co_spawn(executor, std::move(op), asio::deferred),
                                                       timer.async_wait(asio::deferred))
          .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);

  if (order[0] == 0) {
    if (op_error) std::rethrow_exception(op_error);
    co_return;
  }
  if (!timer_error) throw timeout_error();

  // The timer was aborted, so the caller itself was cancelled.
  if (op_error) std::rethrow_exception(op_error);
  throw boost::system::system_error(asio::error::operation_aborted);
}

}  // namespace sidecar
