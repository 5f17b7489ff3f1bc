#include "sidecar/http_client.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <boost/system/system_error.hpp>

#include "sidecar/url.hpp"

namespace sidecar::http {

namespace {

namespace beast = boost::beast;
namespace beast_http = boost::beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using clock_type = std::chrono::steady_clock;

constexpr auto as_result = asio::as_tuple(asio::use_awaitable);

// Responses from the main container have small headers, so 64 KiB leaves
// ample room while it bounds the memory one response header can take.
constexpr std::uint32_t max_response_header = 64 * 1024;

// Bytes asked for by the first read of a response.
constexpr std::size_t first_read_size = 4096;

// Interim (1xx) responses skipped before the final one. A server sending
// more is reported as a protocol failure.
constexpr int max_interim_responses = 8;

using beast_request = beast_http::request<beast_http::string_body>;
using response_parser = beast_http::response_parser<beast_http::string_body>;

// A failure without the "METHOD URL: " prefix of the final message.
struct attempt_failure {
  failure error = failure::none;
  std::string reason;
  // Nothing of the response had arrived, so a stale kept-alive connection
  // may be the cause and the request may be sent again.
  bool before_response = false;
};

// The outcome of one request on one connection.
struct exchange_result {
  attempt_failure failed;
  client_response response;
  bool keep_alive = false;

  bool ok() const { return failed.error == failure::none; }
};

std::string format_ms(std::chrono::milliseconds duration) {
  return std::to_string(duration.count()) + "ms";
}

bool is_connection_closed(const error_code& ec) {
  return ec == asio::error::eof || ec == beast_http::error::end_of_stream ||
         ec == beast_http::error::partial_message || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::connection_aborted;
}

// Classifies an error of the write or read phase.
attempt_failure classify(const error_code& ec, const client_request& request) {
  if (ec == beast::error::timeout) {
    return {failure::timeout, "timed out after " + format_ms(request.timeout)};
  }
  if (ec == beast_http::error::body_limit) {
    return {failure::body_too_large,
            "response body exceeds max_body of " + std::to_string(request.max_body) + " bytes"};
  }
  if (ec == beast_http::error::header_limit) {
    return {failure::header_too_large,
            "response header exceeds " + std::to_string(max_response_header) + " bytes"};
  }
  if (ec == asio::error::connection_reset) {
    return {failure::reset, "connection reset before the response was complete"};
  }
  if (is_connection_closed(ec)) {
    return {failure::reset, "connection closed before the response was complete"};
  }
  if (ec.category() == beast_http::make_error_code(beast_http::error::end_of_stream).category()) {
    return {failure::protocol, "invalid HTTP response: " + ec.message()};
  }
  return {failure::io, ec.message()};
}

bool is_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// True when the peer has closed an idle connection or has sent unrequested
// bytes on it. Either way the connection cannot carry another request.
bool is_unusable(beast::tcp_stream& stream) {
  char byte = 0;
  const ssize_t n = ::recv(stream.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

beast_request make_beast_request(const client_request& request, const url& target,
                                 const client_options& options) {
  beast_request out;
  out.method_string(request.method);
  out.target(target.target);
  out.version(11);
  out.set(beast_http::field::host, target.authority());
  out.set(beast_http::field::user_agent, options.user_agent);
  for (const auto& [name, value] : request.headers) {
    if (iequals(name, "Host") || iequals(name, "User-Agent")) {
      out.set(name, value);
    } else {
      out.insert(name, value);
    }
  }
  out.body() = request.body;
  // Sets Content-Length for a body, and for POST, PUT and OPTIONS without one.
  out.prepare_payload();
  return out;
}

client_response to_client_response(response_parser& parser) {
  auto& in = parser.get();
  client_response out;
  out.status = static_cast<int>(in.result_int());
  for (const auto& field : in) {
    out.headers.add(std::string(field.name_string()), std::string(field.value()));
  }
  out.body = std::move(in.body());
  return out;
}

// Reads the first bytes of a response and checks that they can begin a
// status line, so that a peer speaking another protocol is a protocol
// failure even when it sends less than a line and then stops or closes.
asio::awaitable<attempt_failure> read_first_bytes(beast::tcp_stream& stream,
                                                  beast::flat_buffer& buffer,
                                                  const client_request& request) {
  auto [ec, n] = co_await stream.async_read_some(buffer.prepare(first_read_size), as_result);
  if (ec) {
    attempt_failure failed = classify(ec, request);
    failed.before_response = true;
    co_return failed;
  }
  buffer.commit(n);

  constexpr std::string_view prefix = "HTTP/";
  const std::string_view received(static_cast<const char*>(buffer.data().data()),
                                  std::min(buffer.size(), prefix.size()));
  if (!prefix.starts_with(received)) {
    co_return attempt_failure{failure::protocol, "invalid HTTP response: it does not start with \"HTTP/\""};
  }
  co_return attempt_failure{};
}

// Reads one response, skipping interim 1xx responses.
asio::awaitable<exchange_result> read_response(beast::tcp_stream& stream,
                                               const client_request& request) {
  exchange_result result;
  beast::flat_buffer buffer;
  result.failed = co_await read_first_bytes(stream, buffer, request);
  if (!result.ok()) {
    co_return result;
  }

  std::optional<response_parser> parser;
  for (int interim = 0;; ++interim) {
    parser.emplace();
    parser->header_limit(max_response_header);
    parser->body_limit(request.max_body);
    if (request.method == "HEAD") {
      parser->skip(true);
    }

    auto [ec, n] = co_await beast_http::async_read_header(stream, buffer, *parser, as_result);
    if (ec) {
      result.failed = classify(ec, request);
      co_return result;
    }
    const unsigned status = parser->get().result_int();
    if (status >= 200 || status == 101) {
      break;
    }
    if (interim == max_interim_responses) {
      result.failed = {failure::protocol,
                       "invalid HTTP response: more than " +
                           std::to_string(max_interim_responses) + " interim responses"};
      co_return result;
    }
  }

  // The body. A Content-Length over max_body has failed above already, and
  // a chunked or unframed body fails as soon as it passes max_body.
  auto [ec, n] = co_await beast_http::async_read(stream, buffer, *parser, as_result);
  if (ec) {
    result.failed = classify(ec, request);
    co_return result;
  }
  // Bytes after the response would belong to no request of ours.
  result.keep_alive = parser->keep_alive() && buffer.size() == 0;
  result.response = to_client_response(*parser);
  co_return result;
}

// Sends a request on a connected stream and reads its response, all before
// `deadline`.
asio::awaitable<exchange_result> exchange(beast::tcp_stream& stream, const client_request& request,
                                          const url& target, const client_options& options,
                                          clock_type::time_point deadline) {
  beast_request out = make_beast_request(request, target, options);
  stream.expires_at(deadline);
  auto [ec, n] = co_await beast_http::async_write(stream, out, as_result);
  if (ec) {
    exchange_result result;
    result.failed = classify(ec, request);
    result.failed.before_response = true;
    co_return result;
  }

  stream.expires_at(deadline);
  co_return co_await read_response(stream, request);
}

struct connect_result {
  std::unique_ptr<beast::tcp_stream> stream;
  attempt_failure failed;
};

// Resolves a host name before `deadline`. An IP literal needs no lookup.
asio::awaitable<std::variant<std::vector<tcp::endpoint>, attempt_failure>> resolve(
    asio::any_io_executor executor, const url& target, const client_request& request,
    clock_type::time_point deadline) {
  using namespace asio::experimental::awaitable_operators;

  error_code parse_ec;
  const auto address = asio::ip::make_address(target.host, parse_ec);
  const std::string port = std::to_string(target.port);
  if (!parse_ec) {
    co_return std::vector<tcp::endpoint>{tcp::endpoint(address, target.port)};
  }

  // Both operations report errors as values, so `||` returns as soon as
  // either finishes and cancels the other.
  tcp::resolver resolver(executor);
  asio::steady_timer timer(executor, deadline);
  auto outcome = co_await (
      resolver.async_resolve(target.host, port, tcp::resolver::numeric_service, as_result) ||
      timer.async_wait(as_result));
  if (outcome.index() == 1) {
    co_return attempt_failure{failure::timeout, "timed out after " + format_ms(request.timeout) +
                                                    " resolving host \"" + target.host + "\""};
  }
  auto [ec, results] = std::get<0>(std::move(outcome));
  if (ec) {
    co_return attempt_failure{failure::resolve,
                              "resolving host \"" + target.host + "\" failed: " + ec.message()};
  }
  co_return std::vector<tcp::endpoint>(results.begin(), results.end());
}

// Opens a new connection within connect_timeout and before `deadline`.
asio::awaitable<connect_result> connect(asio::any_io_executor executor, const url& target,
                                        const client_request& request,
                                        clock_type::time_point deadline) {
  connect_result result;
  auto endpoints = co_await resolve(executor, target, request, deadline);
  if (auto* failed = std::get_if<attempt_failure>(&endpoints)) {
    result.failed = std::move(*failed);
    co_return result;
  }

  const auto connect_deadline = std::min(deadline, clock_type::now() + request.connect_timeout);
  auto stream = std::make_unique<beast::tcp_stream>(executor);
  stream->expires_at(connect_deadline);
  auto [ec, endpoint] = co_await stream->async_connect(
      std::get<std::vector<tcp::endpoint>>(endpoints), as_result);
  if (ec == beast::error::timeout && connect_deadline < deadline) {
    result.failed = {failure::connect_timeout,
                     "connect timed out after " + format_ms(request.connect_timeout)};
  } else if (ec == beast::error::timeout) {
    result.failed = {failure::timeout, "timed out after " + format_ms(request.timeout)};
  } else if (ec == asio::error::connection_refused) {
    result.failed = {failure::refused, "connection refused"};
  } else if (ec) {
    result.failed = {failure::io, "connect failed: " + ec.message()};
  } else {
    stream->socket().set_option(tcp::no_delay(true), ec);
    result.stream = std::move(stream);
  }
  co_return result;
}

client_result make_failure(const client_request& request, const url& target, failure error,
                           const std::string& reason) {
  client_result result;
  result.error = error;
  result.message = request.method + " " + target.to_string() + ": " + reason;
  return result;
}

}  // namespace

std::string_view to_string(failure f) {
  switch (f) {
    case failure::none: return "none";
    case failure::invalid_url: return "invalid_url";
    case failure::resolve: return "resolve";
    case failure::refused: return "refused";
    case failure::connect_timeout: return "connect_timeout";
    case failure::timeout: return "timeout";
    case failure::reset: return "reset";
    case failure::body_too_large: return "body_too_large";
    case failure::header_too_large: return "header_too_large";
    case failure::protocol: return "protocol";
    case failure::too_many_redirects: return "too_many_redirects";
    case failure::io: return "io";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------
// client::impl: the pool of idle connections and the request steps

struct client::impl {
  struct idle_connection {
    std::unique_ptr<beast::tcp_stream> stream;
    clock_type::time_point idle_since;
  };

  impl(asio::any_io_executor executor, client_options options)
      : executor(std::move(executor)), options(std::move(options)) {}

  // An idle connection to `key` that still looks usable, if any.
  std::unique_ptr<beast::tcp_stream> take_idle(const std::string& key);
  void put_idle(const std::string& key, std::unique_ptr<beast::tcp_stream> stream);
  // Closes connections idle for longer than idle_timeout.
  void close_expired();

  asio::awaitable<client_result> fetch_once(const client_request& request, const url& target,
                                            clock_type::time_point deadline);
  asio::awaitable<client_result> fetch_following(client_request request,
                                                 clock_type::time_point deadline);

  asio::any_io_executor executor;
  client_options options;
  std::map<std::string, std::vector<idle_connection>> idle;  // by host:port
};

void client::impl::close_expired() {
  const auto now = clock_type::now();
  for (auto it = idle.begin(); it != idle.end();) {
    std::erase_if(it->second, [&](const idle_connection& c) {
      return now - c.idle_since >= options.idle_timeout;
    });
    it = it->second.empty() ? idle.erase(it) : std::next(it);
  }
}

std::unique_ptr<beast::tcp_stream> client::impl::take_idle(const std::string& key) {
  close_expired();
  const auto it = idle.find(key);
  if (it == idle.end()) {
    return nullptr;
  }

  // The most recently used connection is the least likely to have been
  // closed by the server.
  auto& connections = it->second;
  std::unique_ptr<beast::tcp_stream> found;
  while (!connections.empty() && !found) {
    auto stream = std::move(connections.back().stream);
    connections.pop_back();
    if (!is_unusable(*stream)) {
      found = std::move(stream);
    }
  }
  if (connections.empty()) {
    idle.erase(it);
  }
  return found;
}

void client::impl::put_idle(const std::string& key, std::unique_ptr<beast::tcp_stream> stream) {
  auto& connections = idle[key];
  if (connections.size() >= options.max_idle_per_host) {
    return;  // the stream closes as it goes out of scope
  }
  stream->expires_never();
  connections.push_back({std::move(stream), clock_type::now()});
}

namespace {

bool is_idempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" || method == "OPTIONS" ||
         method == "TRACE";
}

}  // namespace

asio::awaitable<client_result> client::impl::fetch_once(const client_request& request,
                                                        const url& target,
                                                        clock_type::time_point deadline) {
  const std::string key = target.host + ":" + std::to_string(target.port);

  // A kept-alive connection first. When it fails before any byte of the
  // response, the server most likely closed it while it was idle, so the
  // request is sent once more on a new connection. Only an idempotent request
  // may be repeated (RFC 9110, section 9.2.2): the server may have acted on
  // it before closing, so a POST always goes on a new connection.
  bool reused = false;
  exchange_result result;
  auto stream = is_idempotent(request.method) ? take_idle(key) : nullptr;
  if (stream) {
    result = co_await exchange(*stream, request, target, options, deadline);
    reused = true;
    if (result.ok() && result.keep_alive) {
      put_idle(key, std::move(stream));
    }
  }

  const bool retry = reused && !result.ok() && result.failed.before_response &&
                     result.failed.error != failure::timeout;
  if (!reused || retry) {
    reused = false;
    auto connected = co_await connect(executor, target, request, deadline);
    if (!connected.stream) {
      co_return make_failure(request, target, connected.failed.error, connected.failed.reason);
    }
    result = co_await exchange(*connected.stream, request, target, options, deadline);
    if (result.ok() && result.keep_alive) {
      put_idle(key, std::move(connected.stream));
    }
  }

  if (!result.ok()) {
    co_return make_failure(request, target, result.failed.error, result.failed.reason);
  }
  client_result out;
  out.response = std::move(result.response);
  out.reused_connection = reused;
  co_return out;
}

asio::awaitable<client_result> client::impl::fetch_following(client_request request,
                                                             clock_type::time_point deadline) {
  std::string error;
  auto target = parse_url(request.url, &error);
  if (!target) {
    // The parse error names the URL already.
    client_result result;
    result.error = failure::invalid_url;
    result.message = std::move(error);
    co_return result;
  }

  for (int redirects = 0;; ++redirects) {
    client_result result = co_await fetch_once(request, *target, deadline);
    if (!result.ok() || !request.follow_redirects || !is_redirect(result.response.status)) {
      co_return result;
    }
    const std::string_view location = result.response.headers.get("Location");
    if (location.empty()) {
      co_return result;
    }
    if (redirects == request.max_redirects) {
      co_return make_failure(request, *target, failure::too_many_redirects,
                             "more than " + std::to_string(request.max_redirects) + " redirects");
    }

    auto next = resolve_url(*target, location, &error);
    if (!next) {
      co_return make_failure(request, *target, failure::invalid_url, "redirect: " + error);
    }
    // RFC 9110 section 15.4: after 303 a client uses GET (HEAD stays HEAD),
    // and after 301 or 302 it may turn a POST into a GET, as browsers do.
    // 307 and 308 repeat the request unchanged.
    const int status = result.response.status;
    if (status == 303 || ((status == 301 || status == 302) && request.method == "POST")) {
      request.method = request.method == "HEAD" ? "HEAD" : "GET";
      request.body.clear();
    }
    target = std::move(next);
  }
}

// ---------------------------------------------------------------------------
// client

client::client(asio::any_io_executor executor, client_options options)
    : impl_(std::make_unique<impl>(std::move(executor), std::move(options))) {}

client::~client() = default;

asio::awaitable<client_result> client::fetch(client_request request) {
  const auto start = clock_type::now();
  const auto deadline = start + request.timeout;
  client_result result = co_await impl_->fetch_following(std::move(request), deadline);
  result.duration = clock_type::now() - start;

  // A call cancelled by its caller (a duty stopping) is no failure of the
  // main app, so it ends with an exception rather than a result to record.
  const asio::cancellation_state cancellation = co_await asio::this_coro::cancellation_state;
  if (cancellation.cancelled() != asio::cancellation_type::none) {
    throw boost::system::system_error(asio::error::operation_aborted);
  }
  co_return result;
}

void client::close_idle() { impl_->idle.clear(); }

std::size_t client::idle_connections() const {
  std::size_t count = 0;
  for (const auto& [key, connections] : impl_->idle) {
    count += connections.size();
  }
  return count;
}

}  // namespace sidecar::http
