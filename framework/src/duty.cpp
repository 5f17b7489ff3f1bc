#include "sidecar/duty.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace sidecar {

asio::awaitable<void> duty_context::sleep(std::chrono::steady_clock::duration duration) const {
  asio::steady_timer timer(executor, duration);
  co_await timer.async_wait(asio::use_awaitable);
}

}  // namespace sidecar
