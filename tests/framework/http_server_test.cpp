#include "sidecar/http_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>

#include "sidecar/log.hpp"
#include "support/http_get.hpp"
#include "support/process.hpp"

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace http = sidecar::http;
using clock_type = std::chrono::steady_clock;

namespace {

// Routes shared by most tests.
std::shared_ptr<http::router> test_routes() {
  auto routes = std::make_shared<http::router>();
  routes->add("GET", "/hello", [](const http::request&) -> asio::awaitable<http::response> {
    co_return http::make_response(200, "hello\n");
  });
  routes->add("POST", "/echo", [](const http::request& req) -> asio::awaitable<http::response> {
    co_return http::make_response(200, req.body, "application/octet-stream");
  });
  routes->add("GET", "/query", [](const http::request& req) -> asio::awaitable<http::response> {
    co_return http::make_response(200, std::string(req.query_param("name")));
  });
  routes->add("GET", "/fail", [](const http::request&) -> asio::awaitable<http::response> {
    throw std::runtime_error("boom");
    co_return http::make_response(200, "unreachable");
  });
  routes->add("GET", "/big", [](const http::request&) -> asio::awaitable<http::response> {
    co_return http::make_response(200, std::string(32 * 1024 * 1024, 'x'));
  });
  return routes;
}

// Our server on 127.0.0.1:0, run by an io_context on a thread of its own, so
// that the test thread can use blocking sockets against it. Everything that
// touches the server goes through on_server_thread(), because the server is
// not thread-safe.
class server_fixture {
 public:
  explicit server_fixture(http::server_options options = {},
                          std::shared_ptr<http::router> routes = test_routes()) {
    sink_ = std::make_shared<sidecar::log_sink>(sidecar::log_level::debug);
    sink_->set_writer([this](std::string_view line) {
      std::lock_guard lock(mutex_);
      lines_.emplace_back(line);
    });
    options.listen = "127.0.0.1:0";
    server_.emplace(io_.get_executor(), options, std::move(routes), sink_->make_logger("http"));
    port_ = server_->port();
    asio::co_spawn(io_, server_->run(), [this](std::exception_ptr) { run_finished_ = true; });
    thread_ = std::thread([this] { io_.run(); });
  }

  ~server_fixture() {
    stop();
    work_.reset();
    thread_.join();
  }

  std::uint16_t port() const { return port_; }

  template <typename F>
  auto on_server_thread(F f) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    asio::post(io_, [&task] { task(); });
    return result.get();
  }

  std::size_t open_connections() {
    return on_server_thread([this] { return server_->open_connections(); });
  }
  std::size_t rejected_connections() {
    return on_server_thread([this] { return server_->rejected_connections(); });
  }
  void stop() {
    on_server_thread([this] { server_->stop(); });
  }
  bool run_finished() const { return run_finished_; }

  // Log lines whose text contains `text`.
  std::vector<std::string> log_lines(std::string_view text) {
    std::lock_guard lock(mutex_);
    std::vector<std::string> found;
    for (const auto& line : lines_) {
      if (line.find(text) != std::string::npos) {
        found.push_back(line);
      }
    }
    return found;
  }

 private:
  asio::io_context io_;
  // Keeps io_.run() going after the server stops, so that on_server_thread()
  // works until the destructor.
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::shared_ptr<sidecar::log_sink> sink_;
  std::optional<http::server> server_;
  std::uint16_t port_ = 0;
  std::atomic<bool> run_finished_{false};
  std::thread thread_;
  std::mutex mutex_;
  std::vector<std::string> lines_;
};

// A blocking client socket to 127.0.0.1 for exchanges that support::http_get
// cannot express: several requests on one connection, partial requests, and
// watching for the server to close. Every read waits at most 5 s.
class raw_client {
 public:
  explicit raw_client(std::uint16_t port, int receive_buffer = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) {
      throw std::system_error(errno, std::generic_category(), "socket");
    }
    if (receive_buffer > 0) {
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      const int error = errno;
      ::close(fd_);
      throw std::system_error(error, std::generic_category(), "connect");
    }
  }
  ~raw_client() { close(); }
  raw_client(const raw_client&) = delete;
  raw_client& operator=(const raw_client&) = delete;

  void close() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

  // False when the server has closed the connection.
  bool send(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) {
        return false;
      }
      data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Reads one response framed by Content-Length (none for HEAD) and parses
  // it. The result has `error` set when the connection ended first.
  support::http_result read_response(bool head_only = false) {
    std::size_t head_end = 0;
    while ((head_end = pending_.find("\r\n\r\n")) == std::string::npos) {
      if (!receive(5s)) {
        return support::parse_http_response(std::exchange(pending_, {}), head_only);
      }
    }
    head_end += 4;
    auto head = support::parse_http_response(pending_.substr(0, head_end), true);
    std::size_t length = 0;
    if (!head_only && head.header("Content-Length")) {
      length = std::stoul(*head.header("Content-Length"));
    }
    while (pending_.size() < head_end + length) {
      if (!receive(5s)) {
        break;
      }
    }
    const std::string wire = pending_.substr(0, head_end + length);
    pending_.erase(0, wire.size());
    return support::parse_http_response(wire, head_only);
  }

  // Bytes received and not yet returned by read_response().
  const std::string& pending() const { return pending_; }

  // Waits up to `timeout` for the server to close; bytes received meanwhile
  // are kept in pending(). True when the server closed.
  bool wait_for_close(std::chrono::milliseconds timeout) {
    const auto deadline = clock_type::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
      if (left <= 0ms) {
        return false;
      }
      if (!receive(left)) {
        return closed_;
      }
    }
  }

 private:
  // Appends what arrives within `timeout`. Returns false on close, error or timeout.
  bool receive(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) {
      return false;
    }
    char chunk[16384];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
      closed_ = true;
      return false;
    }
    pending_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool closed_ = false;
  std::string pending_;
};

std::string get_request(std::string_view target, std::string_view extra_headers = "") {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: test\r\n" + std::string(extra_headers) +
         "\r\n";
}

}  // namespace

TEST_CASE("server routes by path and method", "[http_server]") {
  server_fixture fixture;

  SECTION("known route answers 200") {
    const auto r = support::http_get(fixture.port(), "/hello");
    REQUIRE(r.ok());
    CHECK(r.status == 200);
    CHECK(r.reason == "OK");
    CHECK(r.body == "hello\n");
    CHECK(r.header("Content-Type") == "text/plain; charset=utf-8");
  }

  SECTION("unknown path answers 404") {
    const auto r = support::http_get(fixture.port(), "/missing");
    REQUIRE(r.ok());
    CHECK(r.status == 404);
    CHECK(r.reason == "Not Found");
  }

  SECTION("other method answers 405 with Allow") {
    const auto r = support::http_request(fixture.port(), "DELETE", "/hello");
    REQUIRE(r.ok());
    CHECK(r.status == 405);
    CHECK(r.header("Allow") == "GET, HEAD");

    const auto post_only = support::http_request(fixture.port(), "GET", "/echo");
    CHECK(post_only.status == 405);
    CHECK(post_only.header("Allow") == "POST");
  }

  SECTION("query string is split from the path") {
    const auto r = support::http_get(fixture.port(), "/query?name=value&x=1");
    REQUIRE(r.ok());
    CHECK(r.status == 200);
    CHECK(r.body == "value");
  }

  SECTION("POST body reaches the handler") {
    const auto r = support::http_request(fixture.port(), "POST", "/echo", "payload");
    REQUIRE(r.ok());
    CHECK(r.status == 200);
    CHECK(r.body == "payload");
    CHECK(r.header("Content-Type") == "application/octet-stream");
  }
}

TEST_CASE("server answers HEAD from GET", "[http_server]") {
  server_fixture fixture;
  raw_client client(fixture.port());

  REQUIRE(client.send("HEAD /hello HTTP/1.1\r\nHost: test\r\n\r\n"));
  const auto head = client.read_response(true);
  REQUIRE(head.ok());
  CHECK(head.status == 200);
  CHECK(head.header("Content-Length") == "6");
  CHECK(head.body.empty());

  // Had the server sent a body after the HEAD response, it would arrive
  // ahead of this response and break its status line.
  REQUIRE(client.send(get_request("/hello")));
  const auto get = client.read_response();
  REQUIRE(get.ok());
  CHECK(get.status == 200);
  CHECK(get.body == "hello\n");
}

TEST_CASE("server answers 431 on a 9 KiB header", "[http_server]") {
  server_fixture fixture;
  raw_client client(fixture.port());

  REQUIRE(client.send(get_request("/hello", "X-Big: " + std::string(9 * 1024, 'a') + "\r\n")));
  const auto r = client.read_response();
  REQUIRE(r.ok());
  CHECK(r.status == 431);
  CHECK(r.header("Connection") == "close");
  CHECK(client.wait_for_close(3s));
}

TEST_CASE("server answers 413 from Content-Length", "[http_server]") {
  server_fixture fixture({.max_body = 64 * 1024, .read_timeout = 5s});
  raw_client client(fixture.port());

  // No body follows, so the response must come from the header alone, long
  // before read_timeout.
  const auto start = clock_type::now();
  REQUIRE(client.send("POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 10000000\r\n\r\n"));
  const auto r = client.read_response();
  REQUIRE(r.ok());
  CHECK(r.status == 413);
  CHECK(clock_type::now() - start < 2s);
  CHECK(client.wait_for_close(3s));
}

TEST_CASE("server answers 413 on a long chunked body", "[http_server]") {
  server_fixture fixture({.max_body = 64 * 1024});
  raw_client client(fixture.port());

  std::string request = "POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string chunk(16 * 1024, 'c');
  for (int i = 0; i < 5; ++i) {
    request += "4000\r\n" + chunk + "\r\n";
  }
  request += "0\r\n\r\n";
  REQUIRE(client.send(request));

  const auto r = client.read_response();
  REQUIRE(r.ok());
  CHECK(r.status == 413);
}

TEST_CASE("server reads a short chunked body", "[http_server]") {
  server_fixture fixture;
  raw_client client(fixture.port());

  REQUIRE(client.send(
      "POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
  const auto r = client.read_response();
  REQUIRE(r.ok());
  CHECK(r.status == 200);
  CHECK(r.body == "abcde");
}

TEST_CASE("server answers 400 on garbage", "[http_server]") {
  server_fixture fixture;
  raw_client client(fixture.port());

  REQUIRE(client.send("this is not http\r\n\r\n"));
  const auto r = client.read_response();
  REQUIRE(r.ok());
  CHECK(r.status == 400);
  CHECK(client.wait_for_close(3s));
}

TEST_CASE("server sends 100 Continue when asked", "[http_server]") {
  server_fixture fixture;
  raw_client client(fixture.port());

  REQUIRE(client.send(
      "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"));
  const auto interim = client.read_response(true);
  REQUIRE(interim.ok());
  CHECK(interim.status == 100);

  REQUIRE(client.send("ping"));
  const auto r = client.read_response();
  REQUIRE(r.ok());
  CHECK(r.status == 200);
  CHECK(r.body == "ping");
}

TEST_CASE("server keeps HTTP/1.1 connections alive", "[http_server]") {
  server_fixture fixture;
  raw_client client(fixture.port());

  REQUIRE(client.send(get_request("/hello")));
  const auto first = client.read_response();
  REQUIRE(first.ok());
  CHECK(first.status == 200);
  CHECK_FALSE(first.header("Connection"));

  REQUIRE(client.send(get_request("/query?name=second")));
  const auto second = client.read_response();
  REQUIRE(second.ok());
  CHECK(second.body == "second");
  CHECK(fixture.open_connections() == 1);
}

TEST_CASE("server answers pipelined requests in order", "[http_server]") {
  server_fixture fixture;
  raw_client client(fixture.port());

  REQUIRE(client.send(get_request("/query?name=one") + get_request("/query?name=two")));
  const auto first = client.read_response();
  const auto second = client.read_response();
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(first.body == "one");
  CHECK(second.body == "two");
}

TEST_CASE("server follows HTTP/1.0 keep-alive rules", "[http_server]") {
  server_fixture fixture;

  SECTION("closes without keep-alive") {
    raw_client client(fixture.port());
    REQUIRE(client.send("GET /hello HTTP/1.0\r\n\r\n"));
    const auto r = client.read_response();
    REQUIRE(r.ok());
    CHECK(r.status == 200);
    CHECK(client.wait_for_close(3s));
  }

  SECTION("stays open with keep-alive") {
    raw_client client(fixture.port());
    REQUIRE(client.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    const auto first = client.read_response();
    REQUIRE(first.ok());
    CHECK(first.header("Connection") == "keep-alive");

    REQUIRE(client.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    const auto second = client.read_response();
    REQUIRE(second.ok());
    CHECK(second.status == 200);
  }
}

TEST_CASE("server closes idle keep-alive connections", "[http_server]") {
  server_fixture fixture({.idle_timeout = 300ms});
  raw_client client(fixture.port());

  REQUIRE(client.send(get_request("/hello")));
  REQUIRE(client.read_response().ok());
  const auto answered = clock_type::now();

  REQUIRE(client.wait_for_close(5s));
  const auto idle = clock_type::now() - answered;
  CHECK(idle >= 250ms);
  CHECK(idle < 2s);
}

TEST_CASE("server cuts a slowloris client", "[http_server]") {
  server_fixture fixture({.read_timeout = 1s});

  // The slow client sends its header one byte every 250 ms; the whole header
  // would take about 10 s.
  raw_client slow(fixture.port());
  const std::string request = get_request("/hello", "X-Padding: " + std::string(20, 'p') + "\r\n");
  const auto first_byte = clock_type::now();
  std::promise<std::optional<clock_type::duration>> closed_after;
  std::thread slow_sender([&] {
    std::optional<clock_type::duration> closed;
    for (std::size_t i = 0; i < request.size() && !closed; ++i) {
      if (!slow.send(request.substr(i, 1)) || slow.wait_for_close(250ms)) {
        closed = clock_type::now() - first_byte;
      }
    }
    closed_after.set_value(closed);
  });

  // Meanwhile another client is answered at once.
  std::this_thread::sleep_for(300ms);
  const auto start = clock_type::now();
  const auto r = support::http_get(fixture.port(), "/hello");
  const auto took = clock_type::now() - start;
  CHECK(r.ok());
  CHECK(r.status == 200);
  CHECK(took < 500ms);

  auto closed = closed_after.get_future().get();
  slow_sender.join();
  REQUIRE(closed);
  CHECK(*closed >= 900ms);
  CHECK(*closed < 2500ms);
  CHECK(slow.pending().empty());  // cut without a response
}

TEST_CASE("server caps open connections", "[http_server]") {
  server_fixture fixture({.max_connections = 2, .read_timeout = 10s});

  auto first = std::make_unique<raw_client>(fixture.port());
  raw_client second(fixture.port());
  REQUIRE(support::wait_until([&] { return fixture.open_connections() == 2; }, 3s));

  // The kernel completes the handshake; the server closes at once.
  raw_client third(fixture.port());
  CHECK(third.wait_for_close(3s));
  CHECK(third.pending().empty());
  CHECK(fixture.rejected_connections() == 1);
  CHECK(fixture.open_connections() == 2);
  CHECK(fixture.log_lines(R"("msg":"http connection rejected")").size() == 1);

  // A closed connection frees its place.
  first.reset();
  REQUIRE(support::wait_until([&] { return fixture.open_connections() == 1; }, 3s));
  const auto r = support::http_get(fixture.port(), "/hello");
  CHECK(r.ok());
  CHECK(r.status == 200);
}

TEST_CASE("server rejects HTTP/1.1 without Host", "[http_server]") {
  server_fixture fixture;
  raw_client client(fixture.port());
  REQUIRE(client.send("GET /hello HTTP/1.1\r\n\r\n"));
  const auto r = client.read_response();
  REQUIRE(r.ok());
  CHECK(r.status == 400);

  raw_client old_client(fixture.port());
  REQUIRE(old_client.send("GET /hello HTTP/1.0\r\n\r\n"));
  const auto old_r = old_client.read_response();
  REQUIRE(old_r.ok());
  CHECK(old_r.status == 200);
}

TEST_CASE("server evicts idle keep-alive at the cap", "[http_server]") {
  server_fixture fixture({.max_connections = 2, .read_timeout = 10s, .idle_timeout = 60s});

  // Two clients that keep their connections open between requests.
  raw_client older(fixture.port());
  REQUIRE(older.send(get_request("/hello")));
  REQUIRE(older.read_response().ok());
  raw_client newer(fixture.port());
  REQUIRE(newer.send(get_request("/hello")));
  REQUIRE(newer.read_response().ok());
  REQUIRE(fixture.open_connections() == 2);

  // A third client is served; the oldest idle connection makes room.
  const auto r = support::http_get(fixture.port(), "/hello");
  CHECK(r.ok());
  CHECK(r.status == 200);
  CHECK(older.wait_for_close(3s));
  CHECK(fixture.rejected_connections() == 0);
  CHECK(fixture.log_lines(R"("msg":"http idle connection closed to make room")").size() == 1);

  // The newer idle connection still works.
  REQUIRE(newer.send(get_request("/hello")));
  const auto again = newer.read_response();
  CHECK(again.ok());
  CHECK(again.status == 200);
}

TEST_CASE("server answers 500 when a handler throws", "[http_server]") {
  server_fixture fixture;

  const auto r = support::http_get(fixture.port(), "/fail");
  REQUIRE(r.ok());
  CHECK(r.status == 500);

  const auto lines = fixture.log_lines(R"("msg":"http handler failed")");
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].find(R"("level":"error")") != std::string::npos);
  CHECK(lines[0].find(R"("method":"GET")") != std::string::npos);
  CHECK(lines[0].find(R"("path":"/fail")") != std::string::npos);
  CHECK(lines[0].find(R"("error":"boom")") != std::string::npos);
}

TEST_CASE("server drops a client that stops reading", "[http_server]") {
  server_fixture fixture({.write_timeout = 300ms});

  // A small receive buffer, and no reads: the 32 MiB body cannot drain.
  raw_client client(fixture.port(), 4096);
  REQUIRE(client.send(get_request("/big")));
  REQUIRE(support::wait_until([&] { return fixture.open_connections() == 1; }, 3s));
  CHECK(support::wait_until([&] { return fixture.open_connections() == 0; }, 5s));
}

TEST_CASE("server stop closes every connection", "[http_server]") {
  server_fixture fixture;
  raw_client client(fixture.port());
  REQUIRE(client.send(get_request("/hello")));
  REQUIRE(client.read_response().ok());

  fixture.stop();
  CHECK(client.wait_for_close(3s));
  CHECK(support::wait_until([&] { return fixture.run_finished(); }, 3s));
  CHECK_THROWS_AS(raw_client(fixture.port()), std::system_error);
}

TEST_CASE("server destroyed during a request", "[http_server]") {
  // A connection whose handler is still running when the server object is
  // destroyed finishes on the shared state without touching the server.
  asio::io_context io;
  auto sink = std::make_shared<sidecar::log_sink>();
  sink->set_writer([](std::string_view) {});
  auto routes = std::make_shared<http::router>();
  routes->add("GET", "/wait", [](const http::request&) -> asio::awaitable<http::response> {
    asio::steady_timer timer(co_await asio::this_coro::executor, 200ms);
    co_await timer.async_wait(asio::use_awaitable);
    co_return http::make_response(200, "late\n");
  });

  auto server = std::make_unique<http::server>(io.get_executor(), http::server_options{.listen = "127.0.0.1:0"},
                                               routes, sink->make_logger("http"));
  const auto port = server->port();
  asio::co_spawn(io, server->run(), asio::detached);
  std::thread thread([&] { io.run(); });

  raw_client client(port);
  REQUIRE(client.send(get_request("/wait")));
  std::this_thread::sleep_for(50ms);
  std::promise<void> destroyed;
  asio::post(io, [&] {
    server.reset();
    destroyed.set_value();
  });
  destroyed.get_future().get();

  // The handler's response is dropped because stop() closed the socket.
  CHECK(client.wait_for_close(3s));
  thread.join();
}

TEST_CASE("server reports a busy port", "[http_server]") {
  asio::io_context io;
  auto sink = std::make_shared<sidecar::log_sink>();
  auto routes = std::make_shared<http::router>();

  http::server first(io.get_executor(), {.listen = "127.0.0.1:0"}, routes, sink->make_logger("a"));
  REQUIRE(first.port() != 0);
  const std::string listen = "127.0.0.1:" + std::to_string(first.port());

  try {
    http::server second(io.get_executor(), {.listen = listen}, routes, sink->make_logger("b"));
    FAIL("the second server bound a busy port");
  } catch (const std::system_error& e) {
    CHECK(e.code() == std::errc::address_in_use);
    CHECK(std::string(e.what()).starts_with("listen address \"" + listen + "\": failed to listen"));
  }
}

TEST_CASE("parse_listen_address accepts and rejects", "[http_server]") {
  CHECK(http::parse_listen_address("127.0.0.1:9090") == std::pair<std::string, std::uint16_t>{"127.0.0.1", 9090});
  CHECK(http::parse_listen_address("0.0.0.0:0") == std::pair<std::string, std::uint16_t>{"0.0.0.0", 0});
  CHECK(http::parse_listen_address("[::1]:80") == std::pair<std::string, std::uint16_t>{"::1", 80});

  struct row {
    const char* text;
    const char* error;
  };
  const auto r = GENERATE(values<row>({
      {"127.0.0.1", R"(listen address "127.0.0.1": missing port, expected host:port)"},
      {"127.0.0.1:", R"(listen address "127.0.0.1:": missing port, expected host:port)"},
      {"localhost:80", R"(listen address "localhost:80": "localhost" is not an IPv4 address, expected host:port with an IP address)"},
      {"127.0.0.1:65536", R"(listen address "127.0.0.1:65536": port "65536" is not a number from 0 to 65535)"},
      {"127.0.0.1:http", R"(listen address "127.0.0.1:http": port "http" is not a number from 0 to 65535)"},
      {"[::1:80", R"(listen address "[::1:80": IPv6 address has no closing "]", expected [address]:port)"},
      {"[x]:80", R"(listen address "[x]:80": "x" is not an IPv6 address, expected [address]:port)"},
      {"[::1]", R"(listen address "[::1]": missing port, expected host:port)"},
  }));
  CAPTURE(r.text);
  try {
    http::parse_listen_address(r.text);
    FAIL("parsed");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()) == r.error);
  }
}

TEST_CASE("router finds handlers and Allow", "[http_server]") {
  http::router routes;
  const http::handler ok = [](const http::request&) -> asio::awaitable<http::response> {
    co_return http::make_response(200, "");
  };
  routes.add("GET", "/a", ok);
  routes.add("POST", "/a", ok);
  routes.add("PUT", "/b", ok);

  bool known = false;
  std::string allow;
  CHECK(routes.find("GET", "/a", known, allow) != nullptr);
  CHECK(routes.find("HEAD", "/a", known, allow) != nullptr);

  CHECK(routes.find("DELETE", "/a", known, allow) == nullptr);
  CHECK(known);
  CHECK(allow == "GET, HEAD, POST");

  CHECK(routes.find("HEAD", "/b", known, allow) == nullptr);
  CHECK(known);
  CHECK(allow == "PUT");

  CHECK(routes.find("GET", "/c", known, allow) == nullptr);
  CHECK_FALSE(known);

  routes.remove("/a");
  CHECK(routes.find("GET", "/a", known, allow) == nullptr);
  CHECK_FALSE(known);
}
