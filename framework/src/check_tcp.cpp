#include "sidecar/check.hpp"

#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "sidecar/duration.hpp"

namespace sidecar {
namespace {

using tcp = asio::ip::tcp;
using boost::system::error_code;
namespace experimental = asio::experimental;

class tcp_check final : public check {
 public:
  explicit tcp_check(tcp_check_spec spec) : spec_(std::move(spec)) {}

  std::string_view kind() const override { return "tcp"; }
  std::string target() const override { return authority(); }

  asio::awaitable<check_result> run() override {
    auto executor = co_await asio::this_coro::executor;
    asio::steady_timer deadline(executor, spec_.timeout);

    std::optional<tcp::resolver::results_type> endpoints;
    check_result failure = co_await resolve(deadline, endpoints);
    if (!endpoints) co_return failure;
    co_return co_await connect(deadline, *endpoints);
  }

 private:
  // host:port, with brackets around an IPv6 address.
  std::string authority() const {
    bool is_ipv6 = spec_.host.find(':') != std::string::npos;
    std::string host = is_ipv6 ? "[" + spec_.host + "]" : spec_.host;
    return host + ":" + std::to_string(spec_.port);
  }

  check_result timed_out(std::string_view step) const {
    return check_failed("timeout", std::string(step) + " " + authority() + " timed out after " +
                                       format_duration(spec_.timeout));
  }

  // Resolves the host into `endpoints`. On failure `endpoints` stays empty and
  // the result gives the reason.
  asio::awaitable<check_result> resolve(asio::steady_timer& deadline,
                                        std::optional<tcp::resolver::results_type>& endpoints) {
    // An IP address needs no resolver, so the usual 127.0.0.1 skips the
    // resolver's background thread.
    error_code parse_error;
    asio::ip::address address = asio::ip::make_address(spec_.host, parse_error);
    if (!parse_error) {
      endpoints = tcp::resolver::results_type::create(tcp::endpoint(address, spec_.port),
                                                      spec_.host, std::to_string(spec_.port));
      co_return check_passed();
    }

    // NOTE: cancelling a resolve does not stop the getaddrinfo call running
    // on Asio's resolver thread, so a stalled DNS server can hold this step
    // past the deadline until getaddrinfo itself gives up.
    tcp::resolver resolver(deadline.get_executor());
    auto [order, resolve_error, results, timer_error] =
        co_await experimental::make_parallel_group(
            resolver.async_resolve(spec_.host, std::to_string(spec_.port), asio::deferred),
            deadline.async_wait(asio::deferred))
            .async_wait(experimental::wait_for_one(), asio::use_awaitable);

    if (order[0] == 1) co_return timed_out("resolve");
    if (resolve_error) {
      co_return check_failed("resolve", "resolve " + spec_.host + ": " + resolve_error.message());
    }
    endpoints = std::move(results);
    co_return check_passed();
  }

  asio::awaitable<check_result> connect(asio::steady_timer& deadline,
                                        const tcp::resolver::results_type& endpoints) {
    tcp::socket socket(deadline.get_executor());
    auto [order, connect_error, endpoint, timer_error] =
        co_await experimental::make_parallel_group(
            asio::async_connect(socket, endpoints, asio::deferred),
            deadline.async_wait(asio::deferred))
            .async_wait(experimental::wait_for_one(), asio::use_awaitable);

    if (order[0] == 1) co_return timed_out("connect to");
    if (connect_error == asio::error::connection_refused) {
      co_return check_failed("refused", "connect to " + authority() + " refused");
    }
    if (connect_error) {
      co_return check_failed("io", "connect to " + authority() + ": " + connect_error.message());
    }

    // Only the handshake is checked, so the connection is closed at once.
    error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
    co_return check_passed();
  }

  tcp_check_spec spec_;
};

}  // namespace

std::unique_ptr<check> make_tcp_check(tcp_check_spec spec) {
  return std::make_unique<tcp_check>(std::move(spec));
}

}  // namespace sidecar
