#include "sidecar/http_server.hpp"

#include <arpa/inet.h>

#include <array>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <map>
#include <unordered_set>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace sidecar::http {

namespace {

namespace beast = boost::beast;
namespace beast_http = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

constexpr auto as_result = asio::as_tuple(asio::use_awaitable);

// Bytes asked for when waiting for the first byte of a request.
constexpr std::size_t first_read_size = 4096;

// After a response that closes the connection, what the client still sends is
// read and dropped for this long, at most `max_drain` bytes. Closing a socket
// with unread input makes the kernel send a reset, which can destroy the
// response before the client has read it.
constexpr std::chrono::milliseconds drain_timeout{500};
constexpr std::size_t max_drain = 256 * 1024;

// Pause after an accept error such as EMFILE, so that the loop does not spin.
constexpr std::chrono::milliseconds accept_retry_delay{100};

using beast_request = beast_http::request<beast_http::string_body>;
using beast_response = beast_http::response<beast_http::string_body>;

// The next action on a connection after one request.
enum class next_step { keep_open, close, close_at_once };

// Everything a connection needs. Connections hold a shared_ptr to it, so that
// a connection still unwinding after the server is destroyed touches no freed
// memory.
struct server_state {
  server_state(asio::any_io_executor executor, server_options options,
               std::shared_ptr<router> routes, logger log)
      : options(std::move(options)),
        routes(std::move(routes)),
        log(std::move(log)),
        acceptor(executor) {}

  // Closes the listener and every open connection.
  void close_all();

  server_options options;
  std::shared_ptr<router> routes;
  logger log;
  tcp::acceptor acceptor;
  std::string address;  // the host part of options.listen, for log lines
  std::uint16_t port = 0;
  std::unordered_set<beast::tcp_stream*> connections;
  // Kept-alive connections waiting for their next request, oldest first.
  // The key is a sequence number, so a connection can remove its own entry
  // whether or not admit_connection() has already taken it out.
  std::map<std::uint64_t, beast::tcp_stream*> idle_connections;
  std::uint64_t idle_sequence = 0;
  std::size_t rejected_connections = 0;
  bool stopped = false;
};

void server_state::close_all() {
  stopped = true;
  error_code ignored;
  acceptor.close(ignored);

  // Closing does not run completion handlers here, so the set is not changed
  // while it is walked. Each connection removes itself once it has unwound.
  for (beast::tcp_stream* stream : connections) {
    stream->socket().close(ignored);
  }
}

}  // namespace

struct server::impl {
  std::shared_ptr<server_state> state;
};

// ---------------------------------------------------------------------------
// router

void router::add(std::string method, std::string path, handler h) {
  routes_[std::move(path)][std::move(method)] = std::move(h);
}

void router::remove(std::string_view path) {
  if (auto it = routes_.find(path); it != routes_.end()) {
    routes_.erase(it);
  }
}

const handler* router::find(std::string_view method, std::string_view path, bool& path_known,
                            std::string& allow) const {
  path_known = false;
  allow.clear();

  const auto route = routes_.find(path);
  if (route == routes_.end()) {
    return nullptr;
  }
  const auto& methods = route->second;
  if (auto it = methods.find(std::string(method)); it != methods.end()) {
    return &it->second;
  }
  // The GET handler serves HEAD too, and the server drops the body.
  const bool has_get = methods.contains("GET");
  if (method == "HEAD" && has_get) {
    return &methods.at("GET");
  }

  path_known = true;
  for (const auto& [name, h] : methods) {
    if (name == "HEAD") {
      continue;
    }
    if (!allow.empty()) {
      allow += ", ";
    }
    allow += name;
    if (name == "GET") {
      allow += ", HEAD";
    }
  }
  if (allow.empty()) {
    allow = "HEAD";
  }
  return nullptr;
}

// ---------------------------------------------------------------------------
// listen address

std::pair<std::string, std::uint16_t> parse_listen_address(std::string_view text) {
  const auto invalid = [text](const std::string& reason) {
    return std::invalid_argument("listen address \"" + std::string(text) + "\": " + reason);
  };

  // Host: an IPv4 address or a bracketed IPv6 address.
  std::string host;
  std::string_view rest;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      throw invalid("IPv6 address has no closing \"]\", expected [address]:port");
    }
    host = std::string(text.substr(1, close - 1));
    in6_addr address{};
    if (inet_pton(AF_INET6, host.c_str(), &address) != 1) {
      throw invalid("\"" + host + "\" is not an IPv6 address, expected [address]:port");
    }
    rest = text.substr(close + 1);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      throw invalid("missing port, expected host:port");
    }
    host = std::string(text.substr(0, colon));
    in_addr address{};
    if (inet_pton(AF_INET, host.c_str(), &address) != 1) {
      throw invalid("\"" + host + "\" is not an IPv4 address, expected host:port with an IP address");
    }
    rest = text.substr(colon);
  }

  // Port: 0-65535, where 0 lets the kernel pick a free port.
  if (!rest.starts_with(':') || rest.size() == 1) {
    throw invalid("missing port, expected host:port");
  }
  const std::string_view port_text = rest.substr(1);
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || end != port_text.data() + port_text.size() || port > 65535) {
    throw invalid("port \"" + std::string(port_text) + "\" is not a number from 0 to 65535");
  }
  return {host, static_cast<std::uint16_t>(port)};
}

// ---------------------------------------------------------------------------
// one connection

namespace {

// Registers a connection with the server state for as long as it lives.
class connection_registration {
 public:
  connection_registration(server_state& state, beast::tcp_stream& stream)
      : state_(state), stream_(stream) {
    state_.connections.insert(&stream_);
  }
  ~connection_registration() { state_.connections.erase(&stream_); }
  connection_registration(const connection_registration&) = delete;
  connection_registration& operator=(const connection_registration&) = delete;

 private:
  server_state& state_;
  beast::tcp_stream& stream_;
};

request to_request(const beast_request& in) {
  request out;
  out.method = std::string(in.method_string());
  out.target = std::string(in.target());
  const auto question = out.target.find('?');
  out.path = out.target.substr(0, question);
  if (question != std::string::npos) {
    out.query = out.target.substr(question + 1);
  }
  for (const auto& field : in) {
    out.headers.add(std::string(field.name_string()), std::string(field.value()));
  }
  out.body = in.body();
  return out;
}

// Finds and runs the handler of a request. A missing route or a handler that
// throws becomes an error response.
asio::awaitable<response> run_handler(server_state& state, const request& req) {
  bool path_known = false;
  std::string allow;
  const handler* found = state.routes->find(req.method, req.path, path_known, allow);
  if (found == nullptr && path_known) {
    response r = make_response(405, "method not allowed\n");
    r.headers.set("Allow", allow);
    co_return r;
  }
  if (found == nullptr) {
    co_return make_response(404, "not found\n");
  }

  // A copy, because the handler may change the routes while it runs.
  const handler h = *found;
  std::string error;
  try {
    response r = co_await h(req);
    if (r.status >= 200 && r.status <= 599) {
      co_return r;
    }
    error = "status " + std::to_string(r.status) + " is outside 200-599";
  } catch (const std::exception& e) {
    error = e.what();
  } catch (...) {
    error = "unknown exception";
  }
  state.log.error("http handler failed",
                  {{"method", req.method}, {"path", req.path}, {"error", error}});
  co_return make_response(500, "internal server error\n");
}

beast_response to_beast_response(response&& in, unsigned version, bool keep_alive, bool is_head) {
  beast_response out;
  out.version(version);
  out.result(static_cast<unsigned>(in.status));
  out.reason(reason_phrase(in.status));
  for (auto& [name, value] : in.headers) {
    out.insert(name, value);
  }
  if (!in.content_type.empty() && !in.headers.contains("Content-Type")) {
    out.set(beast_http::field::content_type, in.content_type);
  }
  out.keep_alive(keep_alive);

  // RFC 9110 forbids a body and a Content-Length in a 204 response. A 304
  // would have to repeat the length of the resource, which is unknown here.
  if (in.status == 204 || in.status == 304) {
    return out;
  }
  out.content_length(in.body.size());
  if (!is_head) {
    out.body() = std::move(in.body);
  }
  return out;
}

asio::awaitable<bool> write_response(server_state& state, beast::tcp_stream& stream,
                                     beast_response& out) {
  stream.expires_after(state.options.write_timeout);
  auto [ec, written] = co_await beast_http::async_write(stream, out, as_result);
  co_return !ec;
}

// Sends an error response for a request that cannot be read. The caller
// closes the connection afterwards.
asio::awaitable<next_step> reject_request(server_state& state, beast::tcp_stream& stream,
                                          int status, unsigned version) {
  auto out = to_beast_response(make_response(status, std::string(reason_phrase(status)) + "\n"),
                               version, false, false);
  const bool written = co_await write_response(state, stream, out);
  co_return written ? next_step::close : next_step::close_at_once;
}

// The response to a request whose header or body could not be read, or
// nothing when the connection just ended or timed out.
std::optional<int> status_for_read_error(const error_code& ec) {
  if (ec == beast_http::error::header_limit) {
    return 431;
  }
  if (ec == beast_http::error::body_limit) {
    return 413;
  }
  if (ec.category() == beast_http::make_error_code(beast_http::error::end_of_stream).category() &&
      ec != beast_http::error::end_of_stream && ec != beast_http::error::partial_message) {
    return 400;
  }
  return std::nullopt;
}

// Waits for the first byte of the next request. Returns false when the
// connection ended or stayed idle for `idle`.
asio::awaitable<bool> wait_for_request(beast::tcp_stream& stream, beast::flat_buffer& buffer,
                                       std::chrono::milliseconds idle) {
  if (buffer.size() > 0) {
    co_return true;  // a pipelined request has already arrived
  }
  stream.expires_after(idle);
  auto [ec, n] = co_await stream.async_read_some(buffer.prepare(first_read_size), as_result);
  if (ec) {
    co_return false;
  }
  buffer.commit(n);
  co_return true;
}

// Reads one request whose first byte has arrived, answers it, and says what
// becomes of the connection.
asio::awaitable<next_step> serve_request(server_state& state, beast::tcp_stream& stream,
                                         beast::flat_buffer& buffer) {
  beast_http::request_parser<beast_http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(state.options.max_header));
  parser.body_limit(state.options.max_body);

  // Header, within read_timeout of its first byte. The parser rejects a
  // Content-Length over max_body here, before any of the body is read.
  stream.expires_after(state.options.read_timeout);
  auto [header_ec, header_bytes] =
      co_await beast_http::async_read_header(stream, buffer, parser, as_result);
  const unsigned version = parser.is_header_done() ? parser.get().version() : 11;
  if (header_ec) {
    const auto status = status_for_read_error(header_ec);
    if (!status) {
      co_return next_step::close_at_once;
    }
    co_return co_await reject_request(state, stream, *status, version);
  }
  // RFC 9112, section 3.2: an HTTP/1.1 request without Host gets 400.
  if (version == 11 && parser.get().find(beast_http::field::host) == parser.get().end()) {
    co_return co_await reject_request(state, stream, 400, version);
  }

  // Body, with a budget of its own. A client that sent "Expect: 100-continue"
  // waits for the interim response before it sends the body.
  if (!parser.is_done()) {
    if (iequals(parser.get()[beast_http::field::expect], "100-continue")) {
      beast_http::response<beast_http::empty_body> interim{beast_http::status::continue_, version};
      stream.expires_after(state.options.write_timeout);
      auto [ec, n] = co_await beast_http::async_write(stream, interim, as_result);
      if (ec) {
        co_return next_step::close_at_once;
      }
    }
    stream.expires_after(state.options.read_timeout);
    auto [body_ec, body_bytes] = co_await beast_http::async_read(stream, buffer, parser, as_result);
    if (body_ec) {
      const auto status = status_for_read_error(body_ec);
      if (!status) {
        co_return next_step::close_at_once;
      }
      co_return co_await reject_request(state, stream, *status, version);
    }
  }

  // Handler and response.
  const request req = to_request(parser.get());
  response res = co_await run_handler(state, req);
  const bool keep_alive = parser.get().keep_alive() && !state.stopped;
  auto out = to_beast_response(std::move(res), version, keep_alive, req.method == "HEAD");
  const bool written = co_await write_response(state, stream, out);
  if (!written) {
    co_return next_step::close_at_once;
  }
  co_return keep_alive ? next_step::keep_open : next_step::close;
}

// Ends the sending side and reads what the client still sends for a short
// while, so that the last response is not lost to a reset.
asio::awaitable<void> close_gracefully(beast::tcp_stream& stream) {
  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);

  stream.expires_after(drain_timeout);
  std::array<char, 4096> scratch;
  std::size_t drained = 0;
  while (drained < max_drain) {
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(scratch), as_result);
    if (ec) {
      break;
    }
    drained += n;
  }
  stream.close();
}

asio::awaitable<void> serve_connection(std::shared_ptr<server_state> state, tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  const connection_registration registration(*state, stream);
  beast::flat_buffer buffer;

  // A new connection must start its first request within read_timeout, and a
  // kept-alive one its next request within idle_timeout.
  auto wait = state->options.read_timeout;
  next_step step = next_step::close_at_once;
  while (!state->stopped) {
    // A kept-alive connection with nothing pipelined is idle until its next
    // request, and may be closed to make room for a new connection.
    const bool idle = wait == state->options.idle_timeout && buffer.size() == 0;
    const std::uint64_t idle_key = ++state->idle_sequence;
    if (idle) {
      state->idle_connections.emplace(idle_key, &stream);
    }
    const bool started = co_await wait_for_request(stream, buffer, wait);
    state->idle_connections.erase(idle_key);
    if (!started) {
      break;
    }
    step = co_await serve_request(*state, stream, buffer);
    if (step != next_step::keep_open) {
      break;
    }
    wait = state->options.idle_timeout;
  }

  if (step == next_step::close && !state->stopped) {
    co_await close_gracefully(stream);
  } else {
    stream.close();
  }
}

// Starts a connection. When max_connections are open, the oldest idle
// kept-alive connection is closed to make room, so that clients holding
// connections open between requests cannot lock out a new client such as the
// kubelet. With none idle, the new connection is closed at once.
void admit_connection(const std::shared_ptr<server_state>& state, tcp::socket socket) {
  if (state->connections.size() >= state->options.max_connections && !state->idle_connections.empty()) {
    const auto oldest = state->idle_connections.begin();
    error_code ignored;
    oldest->second->socket().close(ignored);
    state->idle_connections.erase(oldest);
    state->log.info("http idle connection closed to make room", {{"max_connections", state->options.max_connections}});
  } else if (state->connections.size() >= state->options.max_connections) {
    error_code ignored;
    socket.close(ignored);
    ++state->rejected_connections;
    state->log.warn("http connection rejected",
                    {{"max_connections", state->options.max_connections},
                     {"rejected_connections", state->rejected_connections}});
    return;
  }

  auto executor = socket.get_executor();
  asio::co_spawn(executor, serve_connection(state, std::move(socket)),
                 [state](std::exception_ptr error) {
                   if (!error) {
                     return;
                   }
                   try {
                     std::rethrow_exception(error);
                   } catch (const std::exception& e) {
                     state->log.error("http connection failed", {{"error", e.what()}});
                   } catch (...) {
                     state->log.error("http connection failed", {{"error", "unknown exception"}});
                   }
                 });
}

}  // namespace

// ---------------------------------------------------------------------------
// server

server::server(asio::any_io_executor executor, server_options options,
               std::shared_ptr<router> routes, logger log)
    : impl_(std::make_unique<impl>()), routes_(routes) {
  const std::string listen = options.listen;
  const auto [host, port] = parse_listen_address(listen);
  impl_->state = std::make_shared<server_state>(executor, std::move(options), std::move(routes),
                                                std::move(log));
  auto& state = *impl_->state;
  state.address = host;

  // Asio throws boost::system::system_error, but the interface promises the
  // standard type, with the listen address in its message.
  try {
    const tcp::endpoint endpoint(asio::ip::make_address(host), port);
    state.acceptor.open(endpoint.protocol());
    state.acceptor.set_option(tcp::acceptor::reuse_address(true));
    state.acceptor.bind(endpoint);
    state.acceptor.listen(asio::socket_base::max_listen_connections);
    state.port = state.acceptor.local_endpoint().port();
  } catch (const boost::system::system_error& e) {
    throw std::system_error(std::error_code(e.code().value(), std::system_category()),
                            "listen address \"" + listen + "\": failed to listen");
  }
}

server::~server() { stop(); }

asio::awaitable<void> server::run() {
  // Only the shared state is used after the first suspension, so the server
  // object may be destroyed while this coroutine unwinds.
  const std::shared_ptr<server_state> state = impl_->state;
  state->log.info("http server started", {{"address", state->address}, {"port", state->port}});

  while (!state->stopped) {
    auto [ec, socket] = co_await state->acceptor.async_accept(as_result);
    if (ec == asio::error::operation_aborted || state->stopped) {
      break;
    }
    if (ec) {
      state->log.error("http accept failed", {{"error", ec.message()}});
      asio::steady_timer pause(state->acceptor.get_executor(), accept_retry_delay);
      auto [wait_ec] = co_await pause.async_wait(as_result);
      if (wait_ec) {
        break;
      }
      continue;
    }
    admit_connection(state, std::move(socket));
  }

  // Cancellation of run() ends the server as stop() does, so that no
  // connection outlives the duty that served it.
  state->close_all();
  state->log.info("http server stopped", {{"address", state->address}, {"port", state->port}});
}

void server::stop() {
  if (impl_ && impl_->state) {
    impl_->state->close_all();
  }
}

std::uint16_t server::port() const { return impl_->state->port; }

std::size_t server::open_connections() const { return impl_->state->connections.size(); }

std::size_t server::rejected_connections() const { return impl_->state->rejected_connections; }

}  // namespace sidecar::http
