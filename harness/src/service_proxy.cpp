// A Service port as a TCP proxy on 127.0.0.1: each new connection goes to
// the next ready pod in round-robin order, and endpoints follow readiness as
// it changes. With no ready pod the connection is reset at once, as
// kube-proxy rejects connections to a Service without endpoints.

#include "control_plane.hpp"

#include <array>

#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/asio/write.hpp>

namespace podsim::detail {
namespace {

using tcp = asio::ip::tcp;
using boost::system::error_code;

constexpr std::chrono::seconds connect_timeout{5};

// Copies bytes from `from` to `to`. An end of stream is passed on as a
// half-close; any other error closes both sockets, which ends the pump of the
// other direction too.
asio::awaitable<void> pump(tcp::socket& from, tcp::socket& to) {
  std::array<char, 16 * 1024> buffer;
  error_code ignored;
  while (true) {
    auto [read_error, n] = co_await from.async_read_some(asio::buffer(buffer), asio::as_tuple(asio::use_awaitable));
    if (n > 0) {
      auto [write_error, written] =
          co_await asio::async_write(to, asio::buffer(buffer.data(), n), asio::as_tuple(asio::use_awaitable));
      if (write_error) {
        from.close(ignored);
        to.close(ignored);
        co_return;
      }
    }
    if (read_error == asio::error::eof) {
      to.shutdown(tcp::socket::shutdown_send, ignored);
      co_return;
    }
    if (read_error) {
      from.close(ignored);
      to.close(ignored);
      co_return;
    }
  }
}

void reset(tcp::socket& socket) {
  error_code ignored;
  socket.set_option(asio::socket_base::linger(true, 0), ignored);
  socket.close(ignored);
}

asio::awaitable<bool> connect_with_timeout(tcp::socket& socket, const tcp::endpoint& endpoint) {
  asio::steady_timer deadline(socket.get_executor(), connect_timeout);
  auto [order, connect_error, timer_error] =
      co_await asio::experimental::make_parallel_group(socket.async_connect(endpoint, asio::deferred),
                                                       deadline.async_wait(asio::deferred))
          .async_wait(asio::experimental::wait_for_one(), asio::use_awaitable);
  co_return order[0] == 0 && !connect_error;
}

}  // namespace

void control_plane::bind_service(service_state& service) {
  for (const auto& spec : service.object.ports) {
    auto port = std::make_unique<service_port_state>();
    port->spec = spec;
    const auto mapped = options_.service_host_ports.find(spec.port);
    const std::uint16_t wanted =
        mapped != options_.service_host_ports.end() ? mapped->second : static_cast<std::uint16_t>(spec.port);

    port->acceptor = std::make_unique<tcp::acceptor>(executor_);
    const tcp::endpoint endpoint(asio::ip::make_address_v4("127.0.0.1"), wanted);
    error_code error;
    port->acceptor->open(endpoint.protocol(), error);
    if (!error) port->acceptor->set_option(asio::socket_base::reuse_address(true), error);
    if (!error) port->acceptor->bind(endpoint, error);
    if (!error) port->acceptor->listen(asio::socket_base::max_listen_connections, error);
    if (error) {
      throw std::runtime_error("service " + service.object.meta.name + ": port " + std::to_string(spec.port) +
                               ": listening on 127.0.0.1:" + std::to_string(wanted) + " failed: " + error.message());
    }
    port->host_port = port->acceptor->local_endpoint().port();
    service.ports.push_back(std::move(port));
  }
}

void control_plane::start_service(service_state& service) {
  for (auto& port : service.ports) asio::co_spawn(executor_, accept_connections(service, *port), asio::detached);
}

asio::awaitable<void> control_plane::accept_connections(service_state& service, service_port_state& port) {
  while (!stopping_ && port.acceptor->is_open()) {
    auto [error, client] = co_await port.acceptor->async_accept(asio::as_tuple(asio::use_awaitable));
    if (stopping_) co_return;
    if (error) {
      // Out of descriptors, or a connection reset before accept: try again shortly.
      asio::steady_timer pause(executor_, std::chrono::milliseconds(50));
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    asio::co_spawn(executor_, proxy_connection(std::move(client), service, port), asio::detached);
  }
}

asio::awaitable<void> control_plane::proxy_connection(tcp::socket client, service_state& service,
                                                      service_port_state& port) {
  const auto endpoints_now = endpoints(service, port);
  if (endpoints_now.empty()) {
    reset(client);
    co_return;
  }

  // Tries the endpoints in round-robin order, from the next one on.
  auto upstream = std::make_shared<tcp::socket>(executor_);
  bool connected = false;
  for (std::size_t attempt = 0; attempt < endpoints_now.size() && !connected && !stopping_; ++attempt) {
    const auto& target = endpoints_now[port.next_endpoint++ % endpoints_now.size()];
    error_code ignored;
    upstream->close(ignored);
    const tcp::endpoint endpoint(asio::ip::make_address(target.ip, ignored), static_cast<std::uint16_t>(target.port));
    connected = co_await connect_with_timeout(*upstream, endpoint);
  }
  if (!connected || stopping_) {
    reset(client);
    co_return;
  }

  auto downstream = std::make_shared<tcp::socket>(std::move(client));
  proxied_sockets_.insert(downstream);
  proxied_sockets_.insert(upstream);
  co_await asio::experimental::make_parallel_group(
      asio::co_spawn(executor_, pump(*downstream, *upstream), asio::deferred),
      asio::co_spawn(executor_, pump(*upstream, *downstream), asio::deferred))
      .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
  proxied_sockets_.erase(downstream);
  proxied_sockets_.erase(upstream);
  error_code ignored;
  downstream->close(ignored);
  upstream->close(ignored);
}

}  // namespace podsim::detail
