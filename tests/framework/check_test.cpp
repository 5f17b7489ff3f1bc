#include "sidecar/check.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <catch2/catch.hpp>

#include "sidecar/deadline.hpp"
#include "support/nginx.hpp"
#include "support/process.hpp"
#include "support/run.hpp"

namespace {

using namespace std::chrono_literals;
using Catch::Matchers::Contains;
using sidecar::check_result;
using sidecar::http_check_spec;

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------
// Helpers

http_check_spec spec_for(std::string url) {
  http_check_spec spec;
  spec.request.url = std::move(url);
  spec.request.timeout = 2s;
  return spec;
}

sidecar::http::client_result response(int status, std::string body,
                                      sidecar::http::headers headers = {}) {
  sidecar::http::client_result result;
  result.response.status = status;
  result.response.body = std::move(body);
  result.response.headers = std::move(headers);
  return result;
}

sidecar::regex compile(std::string_view pattern) {
  std::optional<sidecar::regex> re = sidecar::regex::compile(pattern);
  REQUIRE(re.has_value());
  return *re;
}

sidecar::json_check json_equals(std::string pointer, double value) {
  return {.pointer = std::move(pointer),
          .op = sidecar::json_op::equals,
          .operand = value,
          .type = sidecar::json_type::null};
}

check_result run_check(boost::asio::io_context& io, sidecar::check& check) {
  return support::run(io, sidecar::run_timed(check));
}

// A listening socket whose accept queue is full: the kernel drops further
// SYNs, so a connect to it neither succeeds nor is refused until it times out.
class full_listener {
 public:
  full_listener() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(listen_fd_ >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), size) == 0);
    REQUIRE(::listen(listen_fd_, 0) == 0);
    REQUIRE(::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &size) == 0);
    port_ = ntohs(address.sin_port);

    // Connect without accepting until one connect hangs.
    for (int i = 0; i < 8; ++i) {
      if (!connect_completes(address)) return;
    }
    FAIL("could not fill the accept queue of 127.0.0.1:" << port_);
  }

  ~full_listener() {
    for (int fd : clients_) ::close(fd);
    ::close(listen_fd_);
  }

  std::uint16_t port() const { return port_; }

 private:
  bool connect_completes(const sockaddr_in& address) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    REQUIRE(fd >= 0);
    clients_.push_back(fd);
    ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
    pollfd p{.fd = fd, .events = POLLOUT, .revents = 0};
    return ::poll(&p, 1, 200) == 1;
  }

  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::vector<int> clients_;
};

}  // namespace

// ---------------------------------------------------------------------------
// Status ranges and results

TEST_CASE("status ranges parse") {
  using ranges = std::vector<sidecar::status_range>;
  struct row {
    std::string text;
    ranges expected;
  };
  const std::vector<row> rows = {
      {"200-299", {{200, 299}}},
      {"200", {{200, 200}}},
      {"2xx", {{200, 299}}},
      {"5XX", {{500, 599}}},
      {"200-299,304", {{200, 299}, {304, 304}}},
      {"200, 3xx , 404-404", {{200, 200}, {300, 399}, {404, 404}}},
      {"100", {{100, 100}}},
      {"599", {{599, 599}}},
      {"1xx", {{100, 199}}},
  };
  for (const row& r : rows) {
    INFO(r.text);
    std::optional<ranges> parsed = sidecar::parse_status_ranges(r.text);
    REQUIRE(parsed.has_value());
    REQUIRE(parsed->size() == r.expected.size());
    for (std::size_t i = 0; i < parsed->size(); ++i) {
      CHECK((*parsed)[i].low == r.expected[i].low);
      CHECK((*parsed)[i].high == r.expected[i].high);
    }
  }
}

TEST_CASE("status ranges reject") {
  for (std::string text :
       {"",         "99",      "600",    "099",  "0200", "299-200", "2xx,",     ",200",
        "200,,304", "20x",     "2x",     "6xx",  "0xx",  "x00",     "abc",      "200-",
        "-200",     "200-600", "99-200", "1000", "+200", "200-2xx", "200 - 299"}) {
    INFO(text);
    CHECK_FALSE(sidecar::parse_status_ranges(text).has_value());
  }
}

TEST_CASE("status ranges format") {
  CHECK(sidecar::format_status_ranges({{200, 299}}) == "200-299");
  CHECK(sidecar::format_status_ranges({{200, 299}, {304, 304}}) == "200-299,304");
  CHECK(sidecar::format_status_ranges({}) == "");
  CHECK(sidecar::format_status_ranges(*sidecar::parse_status_ranges("2xx,404")) == "200-299,404");
}

TEST_CASE("status range contains") {
  sidecar::status_range range{200, 299};
  CHECK(range.contains(200));
  CHECK(range.contains(299));
  CHECK_FALSE(range.contains(199));
  CHECK_FALSE(range.contains(300));
}

TEST_CASE("check_passed and check_failed") {
  check_result ok = sidecar::check_passed();
  CHECK(ok.passed);
  CHECK(ok.reason == "ok");
  CHECK(ok.message.empty());

  check_result failed = sidecar::check_failed("status", "HTTP status 503, expected 200-299");
  CHECK_FALSE(failed.passed);
  CHECK(failed.reason == "status");
  CHECK(failed.message == "HTTP status 503, expected 200-299");
}

// ---------------------------------------------------------------------------
// evaluate_http_response, without I/O

TEST_CASE("http response transport failure") {
  http_check_spec spec = spec_for("http://127.0.0.1:1/");
  sidecar::http::client_result result;
  result.error = sidecar::http::failure::refused;
  result.message = "GET http://127.0.0.1:1/: connection refused";
  check_result r = sidecar::evaluate_http_response(spec, result);
  CHECK_FALSE(r.passed);
  CHECK(r.reason == "refused");
  CHECK(r.message == "GET http://127.0.0.1:1/: connection refused");

  result.error = sidecar::http::failure::body_too_large;
  result.message.clear();
  r = sidecar::evaluate_http_response(spec, result);
  CHECK(r.reason == "body_too_large");
  CHECK(r.message == "body_too_large");
}

TEST_CASE("http response status") {
  http_check_spec spec = spec_for("http://127.0.0.1/");
  check_result r = sidecar::evaluate_http_response(spec, response(503, "busy"));
  CHECK_FALSE(r.passed);
  CHECK(r.reason == "status");
  CHECK(r.message == "HTTP status 503, expected 200-299");

  CHECK(sidecar::evaluate_http_response(spec, response(200, "")).passed);
  CHECK(sidecar::evaluate_http_response(spec, response(299, "")).passed);

  spec.status = *sidecar::parse_status_ranges("200-299,304");
  CHECK(sidecar::evaluate_http_response(spec, response(304, "")).passed);
  CHECK(sidecar::evaluate_http_response(spec, response(301, "")).message ==
        "HTTP status 301, expected 200-299,304");

  spec.status.clear();
  CHECK(sidecar::evaluate_http_response(spec, response(500, "")).passed);
}

TEST_CASE("http response headers") {
  http_check_spec spec = spec_for("http://127.0.0.1/");
  sidecar::http::headers headers{{"Content-Type", "text/html"}, {"X-Ready", "yes"}};

  SECTION("equals") {
    spec.headers.push_back(
        {.name = "Content-Type", .equals = "application/json", .matches = std::nullopt});
    check_result r = sidecar::evaluate_http_response(spec, response(200, "", headers));
    CHECK(r.reason == "header_mismatch");
    CHECK(r.message == R"(header Content-Type is "text/html", expected "application/json")");
  }
  SECTION("missing") {
    spec.headers.push_back({.name = "X-Foo", .equals = std::nullopt, .matches = std::nullopt});
    check_result r = sidecar::evaluate_http_response(spec, response(200, "", headers));
    CHECK(r.reason == "header_mismatch");
    CHECK(r.message == "header X-Foo is missing");
  }
  SECTION("present") {
    spec.headers.push_back({.name = "x-ready", .equals = std::nullopt, .matches = std::nullopt});
    CHECK(sidecar::evaluate_http_response(spec, response(200, "", headers)).passed);
  }
  SECTION("name is case-insensitive") {
    spec.headers.push_back(
        {.name = "content-type", .equals = "text/html", .matches = std::nullopt});
    CHECK(sidecar::evaluate_http_response(spec, response(200, "", headers)).passed);
  }
  SECTION("value is case-sensitive") {
    spec.headers.push_back({.name = "X-Ready", .equals = "YES", .matches = std::nullopt});
    CHECK(sidecar::evaluate_http_response(spec, response(200, "", headers)).reason ==
          "header_mismatch");
  }
  SECTION("matches") {
    spec.headers.push_back(
        {.name = "Content-Type", .equals = std::nullopt, .matches = compile("^text/")});
    CHECK(sidecar::evaluate_http_response(spec, response(200, "", headers)).passed);
  }
  SECTION("does not match") {
    spec.headers.push_back(
        {.name = "Content-Type", .equals = std::nullopt, .matches = compile("json")});
    check_result r = sidecar::evaluate_http_response(spec, response(200, "", headers));
    CHECK(r.reason == "header_mismatch");
    CHECK(r.message == R"(header Content-Type is "text/html", expected a match of /json/)");
  }
  SECTION("quotes in the value") {
    spec.headers.push_back({.name = "ETag", .equals = R"("v2")", .matches = std::nullopt});
    check_result r =
        sidecar::evaluate_http_response(spec, response(200, "", {{"ETag", R"("v1")"}}));
    CHECK(r.message == R"(header ETag is "\"v1\"", expected "\"v2\"")");
  }
}

TEST_CASE("http response body regex") {
  http_check_spec spec = spec_for("http://127.0.0.1/");
  spec.body = compile("ready");
  check_result r = sidecar::evaluate_http_response(spec, response(200, "starting"));
  CHECK_FALSE(r.passed);
  CHECK(r.reason == "body_mismatch");
  CHECK(r.message == "body does not match /ready/");
  CHECK(sidecar::evaluate_http_response(spec, response(200, "status: ready\n")).passed);
}

TEST_CASE("http response json reasons") {
  struct row {
    std::string name;
    std::string body;
    sidecar::json_check check;
    std::string reason;
    std::string message;
  };
  const std::vector<row> rows = {
      {"passes", R"({"value": 5})", json_equals("/value", 5), "ok", ""},
      {"invalid", R"({"value": 5)", json_equals("/value", 5), "json_invalid",
       "body is not valid JSON: JSON document ended early in the middle of an object or array"},
      {"missing", R"({"other": 5})", json_equals("/value", 5), "json_missing", "/value is missing"},
      {"wrong type", R"({"value": "5"})", json_equals("/value", 5), "json_wrong_type",
       R"(/value is "5" (a string), expected a number)"},
      {"mismatch", R"({"value": 4})", json_equals("/value", 5), "json_mismatch",
       "/value is 4, expected equals 5"},
      {"invalid pointer", R"({"value": 5})", json_equals("value", 5), "json_invalid_pointer",
       R"(pointer "value": invalid, expected "" or a pointer starting with "/")"},
  };
  for (const row& r : rows) {
    DYNAMIC_SECTION(r.name) {
      http_check_spec spec = spec_for("http://127.0.0.1/");
      spec.json.push_back(r.check);
      check_result result = sidecar::evaluate_http_response(spec, response(200, r.body));
      CHECK(result.passed == (r.reason == "ok"));
      CHECK(result.reason == r.reason);
      CHECK(result.message == r.message);
    }
  }
}

TEST_CASE("http response reports the first failure") {
  http_check_spec spec = spec_for("http://127.0.0.1/");
  spec.headers.push_back({.name = "X-Missing", .equals = std::nullopt, .matches = std::nullopt});
  spec.body = compile("ready");
  spec.json.push_back(json_equals("/value", 5));
  spec.json.push_back(json_equals("/other", 1));

  CHECK(sidecar::evaluate_http_response(spec, response(503, "not json")).reason == "status");
  CHECK(sidecar::evaluate_http_response(spec, response(200, "not json")).reason ==
        "header_mismatch");

  sidecar::http::headers headers{{"X-Missing", "here"}};
  CHECK(sidecar::evaluate_http_response(spec, response(200, "not json", headers)).reason ==
        "body_mismatch");
  CHECK(sidecar::evaluate_http_response(spec, response(200, R"({"ready": 1})", headers)).reason ==
        "json_missing");

  check_result second =
      sidecar::evaluate_http_response(spec, response(200, R"({"ready": 1, "value": 5})", headers));
  CHECK(second.reason == "json_missing");
  CHECK(second.message == "/other is missing");
  CHECK(sidecar::evaluate_http_response(
            spec, response(200, R"({"ready": 1, "value": 5, "other": 1})", headers))
            .passed);
}

// ---------------------------------------------------------------------------
// HTTP check against a real nginx

TEST_CASE("http check against nginx") {
  support::nginx_server nginx;
  nginx.write_file("status.json", R"({"status": "ready", "value": 5})");
  boost::asio::io_context io;
  sidecar::http::client client(io.get_executor());

  http_check_spec spec = spec_for(nginx.url("/status.json"));
  spec.json.push_back(json_equals("/value", 5));

  SECTION("passes") {
    auto check = sidecar::make_http_check(client, spec);
    CHECK(check->kind() == "http");
    CHECK(check->target() == "GET " + nginx.url("/status.json"));
    check_result r = run_check(io, *check);
    INFO(r.message);
    CHECK(r.passed);
    CHECK(r.reason == "ok");
    CHECK(r.duration > 0s);
    CHECK(nginx.count_requests("GET /status.json") == 1);
  }
  SECTION("json mismatch") {
    nginx.write_file("status.json", R"({"status": "ready", "value": 4})");
    check_result r = run_check(io, *sidecar::make_http_check(client, spec));
    CHECK(r.reason == "json_mismatch");
    CHECK(r.message == "/value is 4, expected equals 5");
  }
  SECTION("status mismatch") {
    spec.request.url = nginx.url("/missing.json");
    check_result r = run_check(io, *sidecar::make_http_check(client, spec));
    CHECK(r.reason == "status");
    CHECK(r.message == "HTTP status 404, expected 200-299");
  }
  SECTION("body regex") {
    spec.body = compile(R"("status": "ready")");
    CHECK(run_check(io, *sidecar::make_http_check(client, spec)).passed);

    spec.body = compile("starting");
    check_result r = run_check(io, *sidecar::make_http_check(client, spec));
    CHECK(r.reason == "body_mismatch");
    CHECK(r.message == "body does not match /starting/");
  }
  SECTION("header expectation") {
    spec.headers.push_back(
        {.name = "Content-Type", .equals = "application/json", .matches = std::nullopt});
    spec.headers.push_back(
        {.name = "Server", .equals = std::nullopt, .matches = compile("^nginx")});
    check_result ok = run_check(io, *sidecar::make_http_check(client, spec));
    INFO(ok.message);
    CHECK(ok.passed);

    spec.request.url = nginx.url("/page.html");
    spec.json.clear();
    nginx.write_file("page.html", "<p>ready</p>");
    check_result r = run_check(io, *sidecar::make_http_check(client, spec));
    CHECK(r.reason == "header_mismatch");
    CHECK(r.message == R"(header Content-Type is "text/html", expected "application/json")");
  }
  SECTION("not JSON") {
    nginx.write_file("status.json", "<html>ready</html>");
    check_result r = run_check(io, *sidecar::make_http_check(client, spec));
    CHECK(r.reason == "json_invalid");
    CHECK_THAT(r.message, Contains("body is not valid JSON: "));
  }
}

TEST_CASE("http check refused port") {
  boost::asio::io_context io;
  sidecar::http::client client(io.get_executor());
  std::uint16_t port = support::free_port();
  http_check_spec spec = spec_for("http://127.0.0.1:" + std::to_string(port) + "/status.json");
  check_result r = run_check(io, *sidecar::make_http_check(client, spec));
  CHECK_FALSE(r.passed);
  CHECK(r.reason == "refused");
  CHECK_THAT(r.message, Contains("127.0.0.1:" + std::to_string(port)));
  CHECK(r.duration < 2s);  // refused at once, not after the request's timeout
}

// ---------------------------------------------------------------------------
// TCP check

TEST_CASE("tcp check open port") {
  support::nginx_server nginx;
  boost::asio::io_context io;
  auto check = sidecar::make_tcp_check({.host = "127.0.0.1", .port = nginx.port(), .timeout = 2s});
  CHECK(check->kind() == "tcp");
  CHECK(check->target() == "127.0.0.1:" + std::to_string(nginx.port()));
  check_result r = run_check(io, *check);
  INFO(r.message);
  CHECK(r.passed);
  CHECK(r.reason == "ok");
}

TEST_CASE("tcp check resolves localhost") {
  support::nginx_server nginx;
  boost::asio::io_context io;
  // localhost comes from /etc/hosts and may list ::1 first, where nginx does
  // not listen: the check tries each address in turn.
  check_result r = run_check(
      io, *sidecar::make_tcp_check({.host = "localhost", .port = nginx.port(), .timeout = 2s}));
  INFO(r.message);
  CHECK(r.passed);
}

TEST_CASE("tcp check refused") {
  boost::asio::io_context io;
  std::uint16_t port = support::free_port();
  check_result r =
      run_check(io, *sidecar::make_tcp_check({.host = "127.0.0.1", .port = port, .timeout = 5s}));
  CHECK_FALSE(r.passed);
  CHECK(r.reason == "refused");
  CHECK(r.message == "connect to 127.0.0.1:" + std::to_string(port) + " refused");
  CHECK(r.duration < 5s);  // at once, not at the deadline
}

TEST_CASE("tcp check timeout") {
  full_listener listener;
  boost::asio::io_context io;
  check_result r = run_check(
      io,
      *sidecar::make_tcp_check({.host = "127.0.0.1", .port = listener.port(), .timeout = 300ms}));
  CHECK_FALSE(r.passed);
  CHECK(r.reason == "timeout");
  CHECK(r.message ==
        "connect to 127.0.0.1:" + std::to_string(listener.port()) + " timed out after 300ms");
  CHECK(r.duration >= 300ms);
  CHECK(r.duration < 300ms + 2s);  // the deadline plus generous slack
}

TEST_CASE("tcp check IPv6 target") {
  auto check = sidecar::make_tcp_check({.host = "::1", .port = 8080, .timeout = 1s});
  CHECK(check->target() == "[::1]:8080");
}

// ---------------------------------------------------------------------------
// File check

TEST_CASE("file check") {
  support::temp_dir dir("sidecar-file-check");
  boost::asio::io_context io;
  fs::path path = dir.path() / "app.ready";

  SECTION("missing") {
    auto check = sidecar::make_file_check({.path = path, .max_age = std::nullopt});
    CHECK(check->kind() == "file");
    CHECK(check->target() == path.string());
    check_result r = run_check(io, *check);
    CHECK_FALSE(r.passed);
    CHECK(r.reason == "file_missing");
    CHECK(r.message == "file " + path.string() + " is missing");
  }
  SECTION("missing parent") {
    fs::path deeper = dir.path() / "no-such-dir" / "app.ready";
    check_result r =
        run_check(io, *sidecar::make_file_check({.path = deeper, .max_age = std::nullopt}));
    CHECK(r.reason == "file_missing");
  }
  SECTION("exists") {
    dir.write_file("app.ready", "");
    CHECK(run_check(io, *sidecar::make_file_check({.path = path, .max_age = std::nullopt})).passed);
  }
  SECTION("fresh") {
    dir.write_file("app.ready", "ok");
    CHECK(run_check(io, *sidecar::make_file_check({.path = path, .max_age = 30s})).passed);
  }
  SECTION("too old") {
    dir.write_file("app.ready", "ok");
    fs::last_write_time(path, fs::file_time_type::clock::now() - 42s);
    check_result r = run_check(io, *sidecar::make_file_check({.path = path, .max_age = 30s}));
    CHECK_FALSE(r.passed);
    CHECK(r.reason == "file_too_old");
    CHECK(r.message == "file " + path.string() + " was modified 42s ago, expected at most 30s");
  }
  SECTION("just past max_age") {
    dir.write_file("app.ready", "ok");
    fs::last_write_time(path, fs::file_time_type::clock::now() - 30s - 500ms);
    check_result r = run_check(io, *sidecar::make_file_check({.path = path, .max_age = 30s}));
    CHECK(r.reason == "file_too_old");
    // Milliseconds show, so the message never reads "30s ago, expected at most 30s".
    CHECK_THAT(r.message, Contains("was modified 30.5"));
  }
  SECTION("modified in the future") {
    dir.write_file("app.ready", "ok");
    fs::last_write_time(path, fs::file_time_type::clock::now() + 1h);
    CHECK(run_check(io, *sidecar::make_file_check({.path = path, .max_age = 30s})).passed);
  }
  SECTION("directory") {
    fs::create_directory(path);
    check_result r = run_check(io, *sidecar::make_file_check({.path = path, .max_age = 30s}));
    CHECK_FALSE(r.passed);
    CHECK(r.reason == "error");
    CHECK(r.message == "file " + path.string() + " is a directory, expected a file");
  }
  SECTION("path through a file") {
    dir.write_file("app.ready", "ok");
    check_result r =
        run_check(io, *sidecar::make_file_check({.path = path / "inner", .max_age = std::nullopt}));
    CHECK_FALSE(r.passed);
    CHECK(r.reason == "file_missing");
  }
}

// ---------------------------------------------------------------------------
// Function checks and run_timed

TEST_CASE("function check result") {
  boost::asio::io_context io;
  auto check =
      sidecar::make_function_check("queue depth", []() -> sidecar::asio::awaitable<check_result> {
        co_return sidecar::check_failed("queue_full", "queue depth 120, expected at most 100");
      });
  CHECK(check->kind() == "function");
  CHECK(check->target() == "queue depth");
  check_result r = run_check(io, *check);
  CHECK(r.reason == "queue_full");
  CHECK(r.message == "queue depth 120, expected at most 100");
}

TEST_CASE("run_timed measures duration") {
  boost::asio::io_context io;
  auto check =
      sidecar::make_function_check("sleep", []() -> sidecar::asio::awaitable<check_result> {
        boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, 50ms);
        co_await timer.async_wait(boost::asio::use_awaitable);
        co_return sidecar::check_passed();
      });
  check_result r = run_check(io, *check);
  CHECK(r.passed);
  CHECK(r.duration >= 50ms);
}

TEST_CASE("run_timed turns exceptions into results") {
  boost::asio::io_context io;
  auto check =
      sidecar::make_function_check("throws", []() -> sidecar::asio::awaitable<check_result> {
        throw std::runtime_error("boom");
        co_return sidecar::check_passed();
      });
  check_result r = run_check(io, *check);
  CHECK_FALSE(r.passed);
  CHECK(r.reason == "error");
  CHECK(r.message == "check failed with an exception: boom");
}

TEST_CASE("run_timed rethrows cancellation") {
  boost::asio::io_context io;
  bool finished = false;
  auto check =
      sidecar::make_function_check("slow", [&]() -> sidecar::asio::awaitable<check_result> {
        boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor, 10s);
        co_await timer.async_wait(boost::asio::use_awaitable);
        finished = true;
        co_return sidecar::check_passed();
      });
  // The deadline cancels the check; a result with reason "error" would hide that.
  CHECK_THROWS_AS(support::run(io, sidecar::with_timeout(sidecar::run_timed(*check), 50ms)),
                  sidecar::timeout_error);
  CHECK_FALSE(finished);
}
