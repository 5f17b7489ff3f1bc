// The HTTP GET of the kubelet's probes and preStop hooks: its default
// headers, at most 10 KiB of body read, and status 200-399 as success. A
// redirect to the same host is followed, up to 10 requests in all, and a
// redirect to another host ends the probe as a success with a warning.

#include "control_plane.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "sidecar/duration.hpp"
#include "sidecar/http_message.hpp"
#include "sidecar/url.hpp"

namespace podsim::detail {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

constexpr std::size_t max_body = 10 * 1024;
// The kubelet fails the probe when the 10th response is another redirect.
constexpr int max_requests = 10;
constexpr std::string_view user_agent = "kube-probe/1.30";

struct http_answer {
  std::string error;  // why no response was read; empty when one was
  int status = 0;
  std::string location;
  std::string body;  // at most max_body bytes
};

bool is_followed_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

std::string transport_error(const error_code& error) {
  if (error == beast::error::timeout) return "timed out";
  return error.message();
}

http::request<http::empty_body> make_request(const sidecar::url& url,
                                             const std::vector<std::pair<std::string, std::string>>& headers) {
  http::request<http::empty_body> request{http::verb::get, url.target, 11};
  request.set(http::field::host, url.authority());
  request.set(http::field::user_agent, user_agent);
  request.set(http::field::accept, "*/*");
  request.set(http::field::connection, "close");
  // A header of the probe replaces the default of that name; repeats are all sent.
  for (const auto& [name, value] : headers) request.erase(name);
  for (const auto& [name, value] : headers) request.insert(name, value);
  return request;
}

asio::awaitable<http_answer> get_once(const sidecar::url& url,
                                      const std::vector<std::pair<std::string, std::string>>& headers,
                                      steady_clock::time_point deadline) {
  auto executor = co_await asio::this_coro::executor;
  beast::tcp_stream stream(executor);
  stream.expires_at(deadline);

  tcp::resolver resolver(executor);
  const std::string service = std::to_string(url.port);
  auto [resolve_error, endpoints] =
      co_await resolver.async_resolve(url.host, service, asio::as_tuple(asio::use_awaitable));
  if (resolve_error) co_return http_answer{.error = "resolve " + url.host + ": " + resolve_error.message()};

  auto [connect_error, endpoint] = co_await stream.async_connect(endpoints, asio::as_tuple(asio::use_awaitable));
  if (connect_error) co_return http_answer{.error = transport_error(connect_error)};

  auto request = make_request(url, headers);
  auto [write_error, written] = co_await http::async_write(stream, request, asio::as_tuple(asio::use_awaitable));
  if (write_error) co_return http_answer{.error = transport_error(write_error)};

  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  auto [header_error, header_bytes] =
      co_await http::async_read_header(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
  if (header_error) co_return http_answer{.error = transport_error(header_error)};

  http_answer answer;
  answer.status = static_cast<int>(parser.get().result_int());
  answer.location = std::string(parser.get()[http::field::location]);

  // Reads into a fixed buffer, so a longer body is cut, not an error.
  answer.body.resize(max_body);
  std::size_t received = 0;
  while (!parser.is_done() && received < max_body) {
    parser.get().body().data = answer.body.data() + received;
    parser.get().body().size = max_body - received;
    auto [read_error, read_bytes] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    received = max_body - parser.get().body().size;
    if (read_error == http::error::need_buffer) continue;
    if (read_error) {
      answer.body.resize(received);
      co_return http_answer{.error = "reading the body: " + transport_error(read_error)};
    }
  }
  answer.body.resize(received);
  error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  co_return answer;
}

}  // namespace

asio::awaitable<probe_outcome> control_plane::http_get(const std::string& host, int port, const std::string& path,
                                                       const std::vector<std::pair<std::string, std::string>>& headers,
                                                       steady_clock::duration timeout) {
  const auto deadline = steady_clock::now() + timeout;
  const bool ipv6 = host.find(':') != std::string::npos;
  const std::string text = "http://" + (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port) +
                           (path.starts_with('/') ? path : "/" + path);
  std::string parse_error;
  auto url = sidecar::parse_url(text, &parse_error);
  if (!url) co_return probe_outcome{probe_outcome::result::failure, "GET " + text + ": invalid URL: " + parse_error};
  const std::string first_host = url->host;

  for (int request = 1;; ++request) {
    const http_answer answer = co_await get_once(*url, headers, deadline);
    const std::string subject = "GET " + url->to_string();
    if (!answer.error.empty()) {
      std::string error = answer.error;
      if (error == "timed out") {
        error += " after " + sidecar::format_duration(std::chrono::duration_cast<std::chrono::milliseconds>(timeout));
      }
      co_return probe_outcome{probe_outcome::result::failure, subject + ": " + error};
    }

    if (is_followed_redirect(answer.status) && !answer.location.empty()) {
      std::string resolve_error;
      auto next = sidecar::resolve_url(*url, answer.location, &resolve_error);
      if (!next) {
        co_return probe_outcome{probe_outcome::result::failure,
                                subject + ": redirect to \"" + answer.location + "\" is invalid: " + resolve_error};
      }
      // The kubelet compares host names only, so another port of the same host is followed.
      if (next->host != first_host) {
        co_return probe_outcome{probe_outcome::result::warning,
                                subject + ": redirect to another host (" + next->to_string() +
                                    ") not followed, counted as success; body: " + answer.body};
      }
      if (request >= max_requests) {
        co_return probe_outcome{probe_outcome::result::failure,
                                subject + ": stopped after " + std::to_string(max_requests) + " redirects"};
      }
      url = std::move(next);
      continue;
    }

    if (answer.status >= 200 && answer.status < 400) {
      if (answer.status >= 300) {
        co_return probe_outcome{probe_outcome::result::warning,
                                subject + ": HTTP status " + std::to_string(answer.status) +
                                    " without a redirect to follow, counted as success; body: " + answer.body};
      }
      co_return probe_outcome{probe_outcome::result::success, answer.body};
    }
    co_return probe_outcome{probe_outcome::result::failure,
                            subject + ": HTTP status " + std::to_string(answer.status) + ", expected 200-399"};
  }
}

}  // namespace podsim::detail
