#pragma once

// A small blocking HTTP/1.1 client for tests, on raw POSIX sockets, so that a
// test can talk to a server under test without Asio or our own client.
//
//   auto r = support::http_get(port, "/ready");
//   REQUIRE(r.error == "");
//   CHECK(r.status == 200);
//
// Each call opens one connection to 127.0.0.1, sends `Connection: close` and
// reads until the body is complete or the server closes. Bodies framed by
// Content-Length, by chunked transfer coding or by the end of the connection
// are all understood. The whole exchange is bounded by `timeout`.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace support {

using header_list = std::vector<std::pair<std::string, std::string>>;

struct http_result {
  int status = 0;      // 0 when no status line was read
  std::string reason;  // the reason phrase of the status line
  header_list headers;  // in the order received
  std::string body;    // decoded from chunked transfer coding when needed
  // Empty on success, otherwise what failed, such as
  // "connect to 127.0.0.1:8080 failed: Connection refused".
  std::string error;

  bool ok() const { return error.empty(); }
  // The first header of that name, compared case-insensitively.
  std::optional<std::string> header(std::string_view name) const;
};

// Sends `method target` with `headers` and `body` to 127.0.0.1:`port`. A
// Content-Length header is added when the body is not empty or the method is
// POST or PUT; Host and Connection are always added.
http_result http_request(std::uint16_t port, std::string_view method, std::string_view target,
                         std::string_view body = {},
                         std::chrono::milliseconds timeout = std::chrono::seconds(5),
                         const header_list& headers = {});

http_result http_get(std::uint16_t port, std::string_view target,
                     std::chrono::milliseconds timeout = std::chrono::seconds(5));

// Parses a complete response as received on the wire, including the body;
// `head_only` is for responses to HEAD, which have no body. Returns the
// result with `error` set when the text is malformed or truncated.
http_result parse_http_response(std::string_view wire, bool head_only = false);

}  // namespace support
