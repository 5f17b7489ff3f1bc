#include "sidecar/http_client.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>

#include "sidecar/deadline.hpp"
#include "sidecar/http_server.hpp"
#include "sidecar/log.hpp"
#include "support/nginx.hpp"
#include "support/raw_server.hpp"
#include "support/run.hpp"

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace http = sidecar::http;

namespace {

constexpr std::string_view ok_response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

// A socket bound to a port on 127.0.0.1 that never listens, so connecting
// to it is refused and no other program can take the port meanwhile.
class refusing_port {
 public:
  refusing_port() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::system_error(errno, std::generic_category(), "refusing_port");
    }
    port_ = ntohs(address.sin_port);
  }
  ~refusing_port() { ::close(fd_); }
  refusing_port(const refusing_port&) = delete;
  refusing_port& operator=(const refusing_port&) = delete;

  std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// A listener whose accept queue is full and never drained: Linux drops
// further SYNs, so a new connect neither succeeds nor fails.
class full_backlog {
 public:
  full_backlog() {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::listen(listener_, 0) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::system_error(errno, std::generic_category(), "full_backlog");
    }
    port_ = ntohs(address.sin_port);

    // Connect until one connect stays pending for 200 ms.
    for (int i = 0; i < 8 && !full_; ++i) {
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      fillers_.push_back(fd);
      ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
      pollfd p{fd, POLLOUT, 0};
      full_ = ::poll(&p, 1, 200) == 0;
    }
  }
  ~full_backlog() {
    for (const int fd : fillers_) {
      ::close(fd);
    }
    ::close(listener_);
  }
  full_backlog(const full_backlog&) = delete;
  full_backlog& operator=(const full_backlog&) = delete;

  std::uint16_t port() const { return port_; }
  bool full() const { return full_; }

 private:
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::vector<int> fillers_;
  bool full_ = false;
};

// A logger whose lines are dropped.
sidecar::logger quiet_logger() {
  auto sink = std::make_shared<sidecar::log_sink>();
  sink->set_writer([](std::string_view) {});
  return sink->make_logger("http");
}

// Our own server on the test's io_context, for well-behaved peers.
class local_server {
 public:
  local_server(asio::io_context& io, std::shared_ptr<http::router> routes)
      : server_(io.get_executor(), {.listen = "127.0.0.1:0"}, std::move(routes), quiet_logger()) {
    asio::co_spawn(io, server_.run(), asio::detached);
  }
  ~local_server() { server_.stop(); }

  std::string url(std::string_view target) const {
    return "http://127.0.0.1:" + std::to_string(server_.port()) + std::string(target);
  }
  http::server& server() { return server_; }

 private:
  http::server server_;
};

http::handler text(int status, std::string body, std::string location = "") {
  return [=](const http::request&) -> asio::awaitable<http::response> {
    auto r = http::make_response(status, body);
    if (!location.empty()) {
      r.headers.set("Location", location);
    }
    co_return r;
  };
}

// Fetches on a fresh client and io_context.
http::client_result fetch_once(http::client_request request) {
  asio::io_context io;
  http::client client(io.get_executor());
  return support::run(io, client.fetch(std::move(request)));
}

}  // namespace

TEST_CASE("client sends Host User-Agent and body", "[http_client]") {
  std::string head;
  support::raw_server server([&](int fd) {
    auto request = support::read_request(fd);
    if (request) {
      head = request->head + request->body;
    }
    support::write_all(fd, ok_response);
  });

  const auto result = fetch_once({.method = "POST",
                                  .url = server.url("/submit?x=1"),
                                  .headers = {{"X-Extra", "1"}},
                                  .body = "data"});
  REQUIRE(result.ok());
  CHECK(result.response.status == 200);
  CHECK(result.response.body == "ok");
  CHECK(result.response.headers.get("content-length") == "2");
  CHECK_FALSE(result.reused_connection);
  CHECK(result.duration > 0s);

  CHECK(head.starts_with("POST /submit?x=1 HTTP/1.1\r\n"));
  CHECK(head.find("Host: 127.0.0.1:" + std::to_string(server.port()) + "\r\n") != std::string::npos);
  CHECK(head.find("User-Agent: sidecar\r\n") != std::string::npos);
  CHECK(head.find("Content-Length: 4\r\n") != std::string::npos);
  CHECK(head.find("X-Extra: 1\r\n") != std::string::npos);
  CHECK(head.ends_with("\r\n\r\ndata"));
}

TEST_CASE("client returns refused at once", "[http_client]") {
  refusing_port port;
  const std::string url = "http://127.0.0.1:" + std::to_string(port.port()) + "/";

  const auto result = fetch_once({.url = url, .timeout = 5s, .connect_timeout = 5s});
  CHECK(result.error == http::failure::refused);
  CHECK(result.message == "GET " + url + ": connection refused");
  CHECK(result.duration < 1s);
}

TEST_CASE("client times out at the deadline", "[http_client]") {
  support::raw_server silent([](int fd) {
    support::read_request(fd);
    support::sleep_unless_stopped(10s);
  });

  const auto result = fetch_once({.url = silent.url("/"), .timeout = 300ms});
  CHECK(result.error == http::failure::timeout);
  CHECK(result.message == "GET " + silent.url("/") + ": timed out after 300ms");
  CHECK(result.duration >= 300ms);
  CHECK(result.duration < 300ms + 1500ms);
}

TEST_CASE("client times out in the middle of a body", "[http_client]") {
  support::raw_server stalling([](int fd) {
    support::read_request(fd);
    support::write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial");
    support::sleep_unless_stopped(10s);
  });

  const auto result = fetch_once({.url = stalling.url("/"), .timeout = 300ms});
  CHECK(result.error == http::failure::timeout);
  CHECK(result.duration < 300ms + 1500ms);
}

TEST_CASE("client connect_timeout is separate", "[http_client]") {
  full_backlog listener;
  if (!listener.full()) {
    WARN("the accept queue did not fill; this kernel does not drop SYNs here");
    return;
  }
  const std::string url = "http://127.0.0.1:" + std::to_string(listener.port()) + "/";

  const auto result = fetch_once({.url = url, .timeout = 5s, .connect_timeout = 300ms});
  CHECK(result.error == http::failure::connect_timeout);
  CHECK(result.message == "GET " + url + ": connect timed out after 300ms");
  CHECK(result.duration >= 300ms);
  CHECK(result.duration < 2s);

  // When the whole deadline is shorter, the call reports a timeout.
  const auto short_deadline = fetch_once({.url = url, .timeout = 300ms, .connect_timeout = 5s});
  CHECK(short_deadline.error == http::failure::timeout);
}

TEST_CASE("client stops reading at max_body", "[http_client]") {
  // Each server sends 10 MiB and records whether the client cut it off.
  const std::string chunk(64 * 1024, 'x');
  constexpr int chunks = 160;  // 10 MiB

  SECTION("body with Content-Length") {
    support::raw_server big([&](int fd) {
      support::read_request(fd);
      support::write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(chunks * chunk.size()) + "\r\n\r\n");
      for (int i = 0; i < chunks && support::write_all(fd, chunk); ++i) {
      }
    });
    const auto result = fetch_once({.url = big.url("/"), .timeout = 5s, .max_body = 1024 * 1024});
    CHECK(result.error == http::failure::body_too_large);
    CHECK(result.message == "GET " + big.url("/") + ": response body exceeds max_body of 1048576 bytes");
    CHECK(result.response.body.empty());
  }

  SECTION("chunked body") {
    support::raw_server big([&](int fd) {
      support::read_request(fd);
      support::write_all(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
      for (int i = 0; i < chunks && support::write_all(fd, "10000\r\n" + chunk + "\r\n"); ++i) {
      }
      support::write_all(fd, "0\r\n\r\n");
    });
    const auto result = fetch_once({.url = big.url("/"), .timeout = 5s, .max_body = 1024 * 1024});
    CHECK(result.error == http::failure::body_too_large);
  }

  SECTION("body ended by close") {
    support::raw_server big([&](int fd) {
      support::read_request(fd);
      support::write_all(fd, "HTTP/1.0 200 OK\r\n\r\n");
      for (int i = 0; i < chunks && support::write_all(fd, chunk); ++i) {
      }
    });
    const auto result = fetch_once({.url = big.url("/"), .timeout = 5s, .max_body = 1024 * 1024});
    CHECK(result.error == http::failure::body_too_large);
  }
}

TEST_CASE("client limits response header size", "[http_client]") {
  support::raw_server big([](int fd) {
    support::read_request(fd);
    std::string head = "HTTP/1.1 200 OK\r\n";
    while (head.size() < 100 * 1024) {
      head += "X-Padding: " + std::string(100, 'p') + "\r\n";
    }
    support::write_all(fd, head + "Content-Length: 0\r\n\r\n");
  });

  const auto result = fetch_once({.url = big.url("/"), .timeout = 5s});
  CHECK(result.error == http::failure::header_too_large);
  CHECK(result.message == "GET " + big.url("/") + ": response header exceeds 65536 bytes");
}

TEST_CASE("client reports reset mid-body", "[http_client]") {
  SECTION("end of stream") {
    support::raw_server cut([](int fd) {
      support::read_request(fd);
      support::write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + std::string(100, 'b'));
    });
    const auto result = fetch_once({.url = cut.url("/"), .timeout = 5s});
    CHECK(result.error == http::failure::reset);
    CHECK(result.message ==
          "GET " + cut.url("/") + ": connection closed before the response was complete");
    CHECK(result.duration < 2s);
  }

  SECTION("TCP reset") {
    support::raw_server cut([](int fd) {
      support::read_request(fd);
      support::write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + std::string(100, 'b'));
      support::reset_on_close(fd);
    });
    const auto result = fetch_once({.url = cut.url("/"), .timeout = 5s});
    CHECK(result.error == http::failure::reset);
    CHECK(result.duration < 2s);
  }

  SECTION("closed before the status line") {
    support::raw_server cut([](int fd) { support::read_request(fd); });
    const auto result = fetch_once({.url = cut.url("/"), .timeout = 5s});
    CHECK(result.error == http::failure::reset);
  }
}

TEST_CASE("client rejects a non-HTTP peer", "[http_client]") {
  SECTION("banner of another protocol") {
    support::raw_server ssh([](int fd) {
      support::write_all(fd, "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
      support::sleep_unless_stopped(10s);
    });
    const auto result = fetch_once({.url = ssh.url("/"), .timeout = 5s});
    CHECK(result.error == http::failure::protocol);
    CHECK(result.message ==
          "GET " + ssh.url("/") + ": invalid HTTP response: it does not start with \"HTTP/\"");
    CHECK(result.duration < 1s);
  }

  SECTION("short garbage then close") {
    support::raw_server junk([](int fd) {
      support::read_request(fd);
      support::write_all(fd, "??\n");
    });
    const auto result = fetch_once({.url = junk.url("/"), .timeout = 5s});
    CHECK(result.error == http::failure::protocol);
  }

  SECTION("bad status line") {
    support::raw_server junk([](int fd) {
      support::read_request(fd);
      support::write_all(fd, "HTTP/1.1 abc Broken\r\n\r\n");
      support::sleep_unless_stopped(10s);
    });
    const auto result = fetch_once({.url = junk.url("/"), .timeout = 5s});
    CHECK(result.error == http::failure::protocol);
    CHECK(result.message.starts_with("GET " + junk.url("/") + ": invalid HTTP response: "));
    CHECK(result.duration < 1s);
  }
}

// Requests inside coroutines are named variables: g++ 12 destroys a braced
// aggregate temporary written inside a co_await expression twice.

TEST_CASE("client reuses kept-alive connections", "[http_client]") {
  asio::io_context io;
  auto routes = std::make_shared<http::router>();
  routes->add("GET", "/a", text(200, "a"));
  local_server server(io, routes);
  http::client client(io.get_executor());

  support::run(io, [&]() -> asio::awaitable<void> {
    const http::client_request get_a{.url = server.url("/a")};
    const auto first = co_await client.fetch(get_a);
    REQUIRE(first.ok());
    CHECK_FALSE(first.reused_connection);
    CHECK(client.idle_connections() == 1);

    const auto second = co_await client.fetch(get_a);
    REQUIRE(second.ok());
    CHECK(second.response.body == "a");
    CHECK(second.reused_connection);
    CHECK(server.server().open_connections() == 1);
    CHECK(client.idle_connections() == 1);

    client.close_idle();
    CHECK(client.idle_connections() == 0);
    const auto third = co_await client.fetch(get_a);
    REQUIRE(third.ok());
    CHECK_FALSE(third.reused_connection);
  }());
}

TEST_CASE("client keeps at most max_idle_per_host", "[http_client]") {
  asio::io_context io;
  auto routes = std::make_shared<http::router>();
  routes->add("GET", "/a", text(200, "a"));
  local_server server(io, routes);
  http::client client(io.get_executor(), {.max_idle_per_host = 2});

  support::run(io, [&]() -> asio::awaitable<void> {
    using namespace asio::experimental::awaitable_operators;
    // Three fetches at once need three connections; two stay idle.
    const http::client_request get_a{.url = server.url("/a")};
    co_await (client.fetch(get_a) && client.fetch(get_a) && client.fetch(get_a));
    CHECK(client.idle_connections() == 2);
  }());
}

TEST_CASE("client drops idle connections after idle_timeout", "[http_client]") {
  asio::io_context io;
  auto routes = std::make_shared<http::router>();
  routes->add("GET", "/a", text(200, "a"));
  local_server server(io, routes);
  http::client client(io.get_executor(), {.idle_timeout = 100ms});

  support::run(io, [&]() -> asio::awaitable<void> {
    const http::client_request get_a{.url = server.url("/a")};
    const auto first = co_await client.fetch(get_a);
    REQUIRE(first.ok());
    asio::steady_timer pause(io, 200ms);
    co_await pause.async_wait(asio::use_awaitable);
    const auto second = co_await client.fetch(get_a);
    REQUIRE(second.ok());
    CHECK_FALSE(second.reused_connection);
  }());
}

TEST_CASE("client retries a stale connection once", "[http_client]") {
  // Each connection answers its first request and closes on the second
  // without answering, as a server does whose idle timeout has just passed.
  support::raw_server server([](int fd) {
    if (!support::read_request(fd)) {
      return;
    }
    support::write_all(fd, ok_response);
    support::read_request(fd);
  });

  asio::io_context io;
  http::client client(io.get_executor());
  support::run(io, [&]() -> asio::awaitable<void> {
    const http::client_request get{.url = server.url("/"), .timeout = 5s};
    const auto first = co_await client.fetch(get);
    REQUIRE(first.ok());
    REQUIRE(client.idle_connections() == 1);

    const auto second = co_await client.fetch(get);
    CHECK(second.ok());
    CHECK(second.response.body == "ok");
    CHECK_FALSE(second.reused_connection);
    CHECK(server.connections() == 2);
    CHECK(server.requests() == 3);
  }());
}

TEST_CASE("client never repeats a POST", "[http_client]") {
  // As above, each connection closes after reading its second request. A
  // POST that the server read may have had its effect, so the client sends
  // it on a new connection rather than on the kept-alive one.
  support::raw_server server([](int fd) {
    if (!support::read_request(fd)) {
      return;
    }
    support::write_all(fd, ok_response);
    support::read_request(fd);
  });

  asio::io_context io;
  http::client client(io.get_executor());
  support::run(io, [&]() -> asio::awaitable<void> {
    const http::client_request get{.url = server.url("/"), .timeout = 5s};
    const auto got = co_await client.fetch(get);
    REQUIRE(got.ok());
    REQUIRE(client.idle_connections() == 1);

    const http::client_request post{.method = "POST", .url = server.url("/flush"), .body = "x", .timeout = 5s};
    const auto posted = co_await client.fetch(post);
    CHECK(posted.ok());
    CHECK_FALSE(posted.reused_connection);
    CHECK(server.connections() == 2);
    CHECK(server.requests() == 2);
  }());
}

TEST_CASE("client does not retry after response bytes", "[http_client]") {
  // The second response on the connection breaks off after its status line.
  support::raw_server server([](int fd) {
    if (!support::read_request(fd)) {
      return;
    }
    support::write_all(fd, ok_response);
    if (support::read_request(fd)) {
      support::write_all(fd, "HTTP/1.1 200 OK\r\n");
    }
  });

  asio::io_context io;
  http::client client(io.get_executor());
  support::run(io, [&]() -> asio::awaitable<void> {
    const http::client_request get{.url = server.url("/"), .timeout = 5s};
    const auto first = co_await client.fetch(get);
    REQUIRE(first.message == "");
    const auto second = co_await client.fetch(get);
    CHECK(second.error == http::failure::reset);
    CHECK(server.connections() == 1);
  }());
}

TEST_CASE("client follows redirects when asked", "[http_client]") {
  asio::io_context io;
  auto routes = std::make_shared<http::router>();
  local_server server(io, routes);
  routes->add("GET", "/start", text(302, "", "/middle"));
  routes->add("GET", "/middle", text(301, "", server.url("/end")));
  routes->add("GET", "/end", text(200, "end"));
  routes->add("GET", "/loop", text(302, "", "loop"));
  routes->add("GET", "/no-location", text(302, "no location"));
  routes->add("POST", "/form", text(303, "", "/method"));
  routes->add("GET", "/method", [](const http::request& req) -> asio::awaitable<http::response> {
    co_return http::make_response(200, req.method + " " + std::to_string(req.body.size()));
  });
  http::client client(io.get_executor());

  support::run(io, [&]() -> asio::awaitable<void> {
    // Not followed: the redirect is the response.
    const http::client_request start{.url = server.url("/start")};
    const auto plain = co_await client.fetch(start);
    REQUIRE(plain.ok());
    CHECK(plain.response.status == 302);
    CHECK(plain.response.headers.get("Location") == "/middle");

    // Followed through a relative and an absolute Location.
    const http::client_request start_following{.url = server.url("/start"), .follow_redirects = true};
    const auto followed = co_await client.fetch(start_following);
    REQUIRE(followed.ok());
    CHECK(followed.response.status == 200);
    CHECK(followed.response.body == "end");

    // A loop stops at max_redirects.
    const http::client_request loop_request{
        .url = server.url("/loop"), .follow_redirects = true, .max_redirects = 3};
    const auto loop = co_await client.fetch(loop_request);
    CHECK(loop.error == http::failure::too_many_redirects);
    CHECK(loop.message == "GET " + server.url("/loop") + ": more than 3 redirects");

    // Without a Location the 3xx is the response.
    const http::client_request no_location{.url = server.url("/no-location"), .follow_redirects = true};
    const auto bare = co_await client.fetch(no_location);
    REQUIRE(bare.ok());
    CHECK(bare.response.status == 302);

    // 303 turns a POST into a GET without a body.
    const http::client_request post_form{
        .method = "POST", .url = server.url("/form"), .body = "x=1", .follow_redirects = true};
    const auto form = co_await client.fetch(post_form);
    REQUIRE(form.ok());
    CHECK(form.response.body == "GET 0");
  }());
}

TEST_CASE("client resolves localhost", "[http_client]") {
  asio::io_context io;
  auto routes = std::make_shared<http::router>();
  routes->add("GET", "/a", text(200, "a"));
  local_server server(io, routes);
  http::client client(io.get_executor());

  const std::string url = "http://localhost:" + std::to_string(server.server().port()) + "/a";
  const auto result = support::run(io, client.fetch({.url = url, .timeout = 5s}));
  REQUIRE(result.ok());
  CHECK(result.response.body == "a");
}

TEST_CASE("client rejects an invalid URL", "[http_client]") {
  const auto result = fetch_once({.url = "ftp://x/"});
  CHECK(result.error == http::failure::invalid_url);
  CHECK(result.message == R"(invalid URL "ftp://x/": scheme "ftp" is not supported, expected http)");
}

TEST_CASE("client against real nginx", "[http_client][nginx]") {
  support::nginx_server nginx;
  nginx.write_file("index.html", "hello from nginx\n");
  nginx.write_file("big.bin", std::string(2 * 1024 * 1024, 'n'));

  asio::io_context io;
  http::client client(io.get_executor());
  support::run(io, [&]() -> asio::awaitable<void> {
    const http::client_request index{.url = nginx.url("/index.html"), .timeout = 5s};
    const auto first = co_await client.fetch(index);
    REQUIRE(first.ok());
    CHECK(first.response.status == 200);
    CHECK(first.response.body == "hello from nginx\n");
    CHECK(first.response.headers.get("content-type") == "text/html");
    CHECK_FALSE(first.reused_connection);

    const auto second = co_await client.fetch(index);
    REQUIRE(second.ok());
    CHECK(second.reused_connection);

    const http::client_request head_index{.method = "HEAD", .url = nginx.url("/index.html"), .timeout = 5s};
    const auto head = co_await client.fetch(head_index);
    REQUIRE(head.ok());
    CHECK(head.response.headers.get("Content-Length") == "17");
    CHECK(head.response.body.empty());

    const http::client_request missing_file{.url = nginx.url("/missing"), .timeout = 5s};
    const auto missing = co_await client.fetch(missing_file);
    REQUIRE(missing.ok());
    CHECK(missing.response.status == 404);

    const http::client_request big_file{.url = nginx.url("/big.bin"), .timeout = 5s, .max_body = 1024 * 1024};
    const auto big = co_await client.fetch(big_file);
    CHECK(big.error == http::failure::body_too_large);

    http::client_request big_file_allowed = big_file;
    big_file_allowed.max_body = 4 * 1024 * 1024;
    const auto whole = co_await client.fetch(big_file_allowed);
    REQUIRE(whole.ok());
    CHECK(whole.response.body.size() == 2 * 1024 * 1024);
  }());
  CHECK(nginx.count_requests("GET /index.html") == 2);
  CHECK(nginx.count_requests("HEAD /index.html") == 1);
}

TEST_CASE("failure names are distinct", "[http_client]") {
  const std::vector<http::failure> all = {
      http::failure::none,           http::failure::invalid_url,     http::failure::resolve,
      http::failure::refused,        http::failure::connect_timeout, http::failure::timeout,
      http::failure::reset,          http::failure::body_too_large,  http::failure::header_too_large,
      http::failure::protocol,       http::failure::too_many_redirects, http::failure::io,
  };
  std::set<std::string_view> names;
  for (const auto f : all) {
    names.insert(http::to_string(f));
  }
  CHECK(names.size() == all.size());
  CHECK(http::to_string(http::failure::refused) == "refused");
  CHECK(http::to_string(http::failure::body_too_large) == "body_too_large");
  CHECK(http::to_string(http::failure::too_many_redirects) == "too_many_redirects");
}

TEST_CASE("client throws when its caller is cancelled", "[http_client]") {
  support::raw_server silent([](int fd) {
    if (support::read_request(fd)) support::sleep_unless_stopped(10s);
  });
  asio::io_context io;
  http::client client(io.get_executor());
  const http::client_request request{.url = silent.url("/"), .timeout = 5s};
  CHECK_THROWS_AS(support::run(io, sidecar::with_timeout(client.fetch(request), 100ms)), sidecar::timeout_error);
}
