// Tests of the test helpers themselves, for the parts where a bug would make
// other tests pass or fail for the wrong reason.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "support/http_get.hpp"
#include "support/nginx.hpp"
#include "support/process.hpp"
#include "support/prometheus.hpp"
#include "support/raw_server.hpp"

using namespace std::chrono_literals;

namespace {

std::string response(std::string_view status, std::string_view body) {
  return "HTTP/1.1 " + std::string(status) + "\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + std::string(body);
}

}  // namespace

TEST_CASE("process reports exit status") {
  support::process p({"sh", "-c", "exit 3"});
  CHECK(p.wait_for_exit(5s) == 3);
  CHECK(p.exit_status() == 3);
  CHECK_FALSE(p.running());
}

TEST_CASE("process reports killing signal") {
  support::process p({"sleep", "30"});
  CHECK(p.running());
  CHECK_FALSE(p.wait_for_exit(50ms).has_value());
  p.signal(SIGTERM);
  CHECK(p.wait_for_exit(5s) == 128 + SIGTERM);
}

TEST_CASE("process captures stdout and stderr") {
  support::process p({"sh", "-c", "echo out; echo err >&2; printf '%s' \"$EXTRA\"; pwd"},
                     {.env = {{"EXTRA", "added"}}, .working_dir = "/usr"});
  REQUIRE(p.wait_for_exit(5s) == 0);
  CHECK(p.stdout_content() == "out\nadded/usr\n");
  CHECK(p.stderr_content() == "err\n");
}

TEST_CASE("process reads stdin file") {
  support::temp_dir dir;
  dir.write_file("in.txt", "line one\nline two\n");
  support::process p({"wc", "-l"}, {.stdin_file = dir.path() / "in.txt"});
  REQUIRE(p.wait_for_exit(5s) == 0);
  CHECK(p.stdout_content() == "2\n");
}

TEST_CASE("process start failure throws") {
  CHECK_THROWS_WITH(support::process({"no-such-program-here"}),
                    "process: \"no-such-program-here\" not found in PATH");
  support::temp_dir dir;
  dir.write_file("not-executable", "#!/bin/sh\n");
  const std::string script = (dir.path() / "not-executable").string();
  CHECK_THROWS_WITH(support::process({script}), "process " + script + ": exec failed: Permission denied");
  CHECK_THROWS_WITH(support::process({"true"}, {.working_dir = "/no/such/dir"}),
                    "process true: chdir to /no/such/dir failed: No such file or directory");
}

TEST_CASE("process destructor kills child") {
  pid_t pid;
  {
    support::process p({"sleep", "30"});
    pid = p.pid();
    REQUIRE(::kill(pid, 0) == 0);
  }
  // Reaped, so the PID no longer names our child.
  CHECK(::kill(pid, 0) == -1);
}

TEST_CASE("process stop escalates to SIGKILL") {
  support::process p({"sh", "-c", "trap '' TERM; echo ready; sleep 30"});
  REQUIRE(support::wait_until([&] { return p.stdout_content() == "ready\n"; }, 5s));
  CHECK(p.stop(SIGTERM, 200ms) == 128 + SIGKILL);
}

TEST_CASE("temp_dir removed with content") {
  std::filesystem::path path;
  {
    support::temp_dir dir("support-test");
    path = dir.path();
    dir.write_file("a/b/c.txt", "content");
    CHECK(support::read_file(path / "a/b/c.txt") == "content");
    CHECK(path.string().starts_with("/tmp/support-test-"));
  }
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("last_lines keeps the tail") {
  CHECK(support::last_lines("a\nb\nc\n", 2) == "b\nc\n");
  CHECK(support::last_lines("a\nb\nc", 1) == "c");
  CHECK(support::last_lines("a\nb\n", 5) == "a\nb\n");
  CHECK(support::last_lines("", 3) == "");
}

TEST_CASE("wait_for_port sees listener") {
  auto port = support::free_port();
  CHECK_FALSE(support::wait_for_port(port, 100ms));
  support::raw_server server([](int) {});
  CHECK(support::wait_for_port(server.port(), 1s));
}

TEST_CASE("wait_until polls until true") {
  int calls = 0;
  CHECK(support::wait_until([&] { return ++calls == 3; }, 5s, 1ms));
  CHECK(calls == 3);
  CHECK_FALSE(support::wait_until([] { return false; }, 30ms, 5ms));
}

TEST_CASE("http_result parses framings") {
  SECTION("content length") {
    auto r = support::parse_http_response("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  b \r\n\r\nhelloEXTRA");
    CHECK(r.error == "");
    CHECK(r.status == 200);
    CHECK(r.reason == "OK");
    CHECK(r.body == "hello");
    CHECK(r.header("x-a") == "b");
    CHECK_FALSE(r.header("missing").has_value());
  }
  SECTION("chunked") {
    auto r = support::parse_http_response(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;ext=1\r\n!\r\n0\r\nTrailer: x\r\n\r\n");
    CHECK(r.error == "");
    CHECK(r.body == "hello!");
  }
  SECTION("end of connection") {
    auto r = support::parse_http_response("HTTP/1.0 503 Service Unavailable\r\n\r\nnot ready");
    CHECK(r.error == "");
    CHECK(r.status == 503);
    CHECK(r.body == "not ready");
  }
  SECTION("no body for 204") {
    auto r = support::parse_http_response("HTTP/1.1 204 No Content\r\n\r\n");
    CHECK(r.error == "");
    CHECK(r.body == "");
  }
  SECTION("truncated body") {
    auto r = support::parse_http_response("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    CHECK(r.error == "connection closed after 3 of 10 body bytes");
    CHECK(r.status == 200);
  }
  SECTION("garbage") {
    auto r = support::parse_http_response("SSH-2.0-OpenSSH\r\n\r\n");
    CHECK(r.error == "malformed status line: \"SSH-2.0-OpenSSH\"");
  }
  SECTION("no end of headers") {
    auto r = support::parse_http_response("HTTP/1.1 200 OK\r\n");
    CHECK(r.error == "connection closed before the end of the headers, after 17 bytes");
  }
}

TEST_CASE("raw_server counts connections and requests") {
  support::raw_server server([](int fd) {
    while (auto request = support::read_request(fd, 2s)) {
      support::write_all(fd, response("200 OK", request->method + " " + request->target + " " + request->body));
    }
  });

  auto get = support::http_get(server.port(), "/a?b=c");
  REQUIRE(get.error == "");
  CHECK(get.status == 200);
  CHECK(get.body == "GET /a?b=c ");

  auto post = support::http_request(server.port(), "POST", "/p", "payload");
  REQUIRE(post.error == "");
  CHECK(post.body == "POST /p payload");

  CHECK(server.connections() == 2);
  CHECK(server.requests() == 2);
}

TEST_CASE("raw_server reset reaches client") {
  support::raw_server server([](int fd) {
    support::read_request(fd);
    support::write_all(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial");
    support::reset_on_close(fd);
  });
  auto r = support::http_get(server.port(), "/");
  CHECK(r.error.starts_with("reading from 127.0.0.1:" + std::to_string(server.port()) +
                            " failed: Connection reset by peer"));
  CHECK(r.status == 200);
}

TEST_CASE("http_get times out on silent server") {
  support::raw_server server([](int) { support::sleep_unless_stopped(1h); });
  auto r = support::http_get(server.port(), "/", 300ms);
  CHECK(r.error == "timed out after 300ms waiting for the response from 127.0.0.1:" +
                       std::to_string(server.port()) + ", 0 bytes received");
}

TEST_CASE("http_get reads large body") {
  const std::string body(10 * 1024 * 1024, 'x');
  support::raw_server server([&](int fd) {
    support::read_request(fd);
    support::write_all(fd, response("200 OK", body));
  });
  auto r = support::http_get(server.port(), "/big", 30s);
  REQUIRE(r.error == "");
  CHECK(r.body.size() == body.size());
}

TEST_CASE("http_get reports refused port") {
  auto port = support::free_port();
  auto r = support::http_get(port, "/");
  CHECK(r.error == "connect to 127.0.0.1:" + std::to_string(port) + " failed: Connection refused");
  CHECK(r.status == 0);
}

TEST_CASE("raw_server stop wakes handlers") {
  auto started = std::chrono::steady_clock::now();
  {
    support::raw_server server([](int fd) {
      support::read_request(fd, 1h);
      support::sleep_unless_stopped(1h);
    });
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(server.port());
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(support::wait_until([&] { return server.connections() == 1; }, 5s));
    server.stop();
    ::close(fd);
  }
  // The handler waits for an hour unless stop() wakes it.
  CHECK(std::chrono::steady_clock::now() - started < 10s);
}

TEST_CASE("nginx_server serves files") {
  support::nginx_server nginx({.locations = "location = /flush { return 204; }"});
  nginx.write_file("status.json", R"({"value": 5})");

  auto r = support::http_get(nginx.port(), "/status.json");
  REQUIRE(r.error == "");
  CHECK(r.status == 200);
  CHECK(r.header("Content-Type") == "application/json");
  CHECK(r.body == R"({"value": 5})");

  nginx.write_file("status.json", R"({"value": 4})");
  CHECK(support::http_get(nginx.port(), "/status.json").body == R"({"value": 4})");

  CHECK(support::http_request(nginx.port(), "POST", "/flush").status == 204);
  CHECK(support::http_get(nginx.port(), "/missing").status == 404);
  CHECK(support::http_request(nginx.port(), "HEAD", "/status.json").status == 200);

  REQUIRE(nginx.wait_for_requests("/status.json", 3));
  CHECK(nginx.count_requests("/status.json") == 3);
  CHECK(nginx.count_requests("POST /flush") == 1);
  CHECK(nginx.count_requests("GET /flush") == 0);
}

TEST_CASE("nginx_server counts finished requests") {
  support::nginx_server nginx;
  nginx.write_file("status.json", "{}");
  // Each count follows the response at once, before nginx may have written
  // the line; sync() inside count_requests() must close that gap.
  for (std::size_t i = 1; i <= 50; ++i) {
    REQUIRE(support::http_get(nginx.port(), "/status.json").status == 200);
    REQUIRE(nginx.count_requests("GET /status.json") == i);
  }
  CHECK(nginx.count_requests("support-sync") == 0);
  CHECK(nginx.access_log_content().find("support-sync") == std::string::npos);
}

TEST_CASE("nginx_server with master process") {
  support::nginx_server nginx({.master_process = true});
  nginx.write_file("index.html", "<p>hi</p>");
  auto r = support::http_get(nginx.port(), "/");
  REQUIRE(r.error == "");
  CHECK(r.status == 200);
  CHECK(r.header("Content-Type") == "text/html");
  CHECK(r.body == "<p>hi</p>");
}

TEST_CASE("nginx_server bad config throws") {
  try {
    support::nginx_server nginx({.locations = "no_such_directive on;"});
    FAIL("nginx started with an invalid directive");
  } catch (const std::runtime_error& e) {
    std::string message = e.what();
    CHECK_THAT(message, Catch::Contains("exited with status 1"));
    CHECK_THAT(message, Catch::Contains("unknown directive \"no_such_directive\""));
  }
}

TEST_CASE("promtool checks exposition text") {
  auto valid = support::promtool_check_metrics(
      "# HELP requests_total Requests served.\n# TYPE requests_total counter\nrequests_total 3\n");
  CHECK(valid.exit_status == 0);
  CHECK(valid.output == "");

  auto lint = support::promtool_check_metrics("# HELP requests Requests.\n# TYPE requests counter\nrequests 3\n");
  CHECK(lint.exit_status == 3);
  CHECK_THAT(lint.output, Catch::Contains("counter metrics should have \"_total\" suffix"));

  auto broken = support::promtool_check_metrics("requests_total{ 3\n");
  CHECK(broken.exit_status == 1);
  CHECK_THAT(broken.output, Catch::Contains("error while linting"));
}

TEST_CASE("prometheus_server scrapes target") {
  const std::string metrics = "# HELP demo_value A value.\n# TYPE demo_value gauge\ndemo_value 42\n";
  support::raw_server target([&](int fd) {
    if (support::read_request(fd)) {
      support::write_all(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: " +
                                 std::to_string(metrics.size()) + "\r\nConnection: close\r\n\r\n" + metrics);
    }
  });
  support::prometheus_server prometheus({.targets = {"127.0.0.1:" + std::to_string(target.port())}});
  REQUIRE(prometheus.wait_ready());

  std::string body;
  bool scraped = support::wait_until(
      [&] {
        body = prometheus.query("demo_value");
        return body.find(R"("42")") != std::string::npos;
      },
      30s, 200ms);
  INFO(body << "\n" << prometheus.log_tail());
  CHECK(scraped);
  CHECK(body.starts_with(R"({"status":"success")"));
  CHECK(target.requests() >= 1);
}
