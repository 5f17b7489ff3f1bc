#include "support/http_get.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace support {
namespace {

using clock = std::chrono::steady_clock;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::string quoted(std::string_view text) {
  constexpr std::size_t shown = 80;
  std::string out = "\"";
  for (char c : text.substr(0, shown)) {
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (std::isprint(static_cast<unsigned char>(c))) {
      out += c;
    } else {
      out += '?';
    }
  }
  if (text.size() > shown) out += "...";
  return out + "\"";
}

enum class parse_state { incomplete, complete, malformed };

// How far parsing of the received bytes got. `result` contains whatever was
// read so far (status and headers once the head is complete).
struct parse_progress {
  parse_state state = parse_state::incomplete;
  http_result result;
  // Once the head is parsed: how the body is framed, so that the caller
  // parses again only when the body can be complete.
  bool head_parsed = false;
  bool chunked = false;
  std::optional<std::size_t> total_size;  // head plus Content-Length
};

// The maximum size of the head. A server that sends more without an empty
// line is not speaking HTTP.
constexpr std::size_t max_head_size = 64 * 1024;

parse_progress malformed(parse_progress progress, std::string error) {
  progress.state = parse_state::malformed;
  progress.result.error = std::move(error);
  return progress;
}

// Parses "HTTP/1.1 200 OK" into `result`; returns false when malformed.
bool parse_status_line(std::string_view line, http_result& result) {
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[8] != ' ') return false;
  std::string_view code = line.substr(9, 3);
  if (!std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
  if (line.size() > 12 && line[12] != ' ') return false;
  std::from_chars(code.data(), code.data() + code.size(), result.status);
  result.reason = line.size() > 13 ? std::string(line.substr(13)) : std::string();
  return true;
}

// Decodes a chunked body starting at `body`. Returns nothing while it is
// incomplete, and sets `error` when it is malformed.
std::optional<std::string> decode_chunked(std::string_view body, std::string& error) {
  std::string decoded;
  std::size_t pos = 0;
  for (;;) {
    std::size_t line_end = body.find("\r\n", pos);
    if (line_end == std::string_view::npos) return std::nullopt;
    std::string_view size_text = body.substr(pos, line_end - pos);
    size_text = trim(size_text.substr(0, size_text.find(';')));
    std::size_t size = 0;
    auto [end, ec] = std::from_chars(size_text.data(), size_text.data() + size_text.size(), size, 16);
    if (ec != std::errc() || end != size_text.data() + size_text.size() || size_text.empty()) {
      error = "malformed chunk size line: " + quoted(body.substr(pos, line_end - pos));
      return std::nullopt;
    }
    pos = line_end + 2;

    if (size == 0) {
      // Trailer fields, if any, end with an empty line.
      for (;;) {
        std::size_t trailer_end = body.find("\r\n", pos);
        if (trailer_end == std::string_view::npos) return std::nullopt;
        bool empty_line = trailer_end == pos;
        pos = trailer_end + 2;
        if (empty_line) return decoded;
      }
    }

    if (body.size() < pos + size + 2) return std::nullopt;
    decoded.append(body.substr(pos, size));
    if (body.substr(pos + size, 2) != "\r\n") {
      error = "chunk of " + std::to_string(size) + " bytes is not followed by CRLF";
      return std::nullopt;
    }
    pos += size + 2;
  }
}

// Parses the bytes received so far. With `at_eof` the server has closed the
// connection, which completes a body framed by the end of the connection.
parse_progress parse_response(std::string_view wire, bool head_only, bool at_eof) {
  parse_progress progress;
  http_result& result = progress.result;

  // Status line and header fields.
  std::size_t head_end = wire.find("\r\n\r\n");
  if (head_end == std::string_view::npos) {
    if (wire.size() > max_head_size) {
      return malformed(std::move(progress), "no end of the headers in the first " +
                                                std::to_string(max_head_size) + " bytes: " + quoted(wire));
    }
    if (at_eof) {
      return malformed(std::move(progress), "connection closed before the end of the headers, after " +
                                                std::to_string(wire.size()) + " bytes");
    }
    return progress;
  }
  std::string_view head = wire.substr(0, head_end + 2);
  std::size_t line_end = head.find("\r\n");
  if (!parse_status_line(head.substr(0, line_end), result)) {
    return malformed(std::move(progress), "malformed status line: " + quoted(head.substr(0, line_end)));
  }
  for (std::size_t pos = line_end + 2; pos < head.size();) {
    std::size_t end = head.find("\r\n", pos);
    std::string_view line = head.substr(pos, end - pos);
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return malformed(std::move(progress), "malformed header line: " + quoted(line));
    }
    result.headers.emplace_back(std::string(line.substr(0, colon)), std::string(trim(line.substr(colon + 1))));
    pos = end + 2;
  }

  // The body, framed as RFC 9112 section 6.3 describes.
  std::string_view body = wire.substr(head_end + 4);
  bool no_body = head_only || result.status / 100 == 1 || result.status == 204 || result.status == 304;
  auto transfer_encoding = result.header("Transfer-Encoding");
  auto content_length = result.header("Content-Length");
  progress.head_parsed = true;
  if (no_body) {
    progress.state = parse_state::complete;
  } else if (transfer_encoding && transfer_encoding->find("chunked") != std::string::npos) {
    progress.chunked = true;
    std::string error;
    auto decoded = decode_chunked(body, error);
    if (!error.empty()) return malformed(std::move(progress), error);
    if (decoded) {
      result.body = std::move(*decoded);
      progress.state = parse_state::complete;
    } else if (at_eof) {
      return malformed(std::move(progress), "connection closed inside the chunked body");
    }
  } else if (content_length) {
    std::size_t length = 0;
    auto [end, ec] = std::from_chars(content_length->data(), content_length->data() + content_length->size(), length);
    if (ec != std::errc() || end != content_length->data() + content_length->size()) {
      return malformed(std::move(progress), "malformed Content-Length: " + quoted(*content_length));
    }
    progress.total_size = head_end + 4 + length;
    if (body.size() >= length) {
      result.body = std::string(body.substr(0, length));
      progress.state = parse_state::complete;
    } else if (at_eof) {
      return malformed(std::move(progress), "connection closed after " + std::to_string(body.size()) +
                                                " of " + std::to_string(length) + " body bytes");
    }
  } else if (at_eof) {
    result.body = std::string(body);
    progress.state = parse_state::complete;
  }
  return progress;
}

int remaining_ms(clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now()).count();
  return static_cast<int>(std::max<long long>(left, 0));
}

// Waits until `fd` is ready for `events` or the deadline passes.
bool wait_ready(int fd, short events, clock::time_point deadline) {
  for (;;) {
    pollfd entry{fd, events, 0};
    int n = ::poll(&entry, 1, remaining_ms(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

std::string build_request(std::uint16_t port, std::string_view method, std::string_view target,
                          std::string_view body, const header_list& headers) {
  std::string request;
  request.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  request.append("Host: 127.0.0.1:").append(std::to_string(port)).append("\r\n");
  request.append("Connection: close\r\n");
  if (!body.empty() || method == "POST" || method == "PUT") {
    request.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  for (const auto& [name, value] : headers) request.append(name).append(": ").append(value).append("\r\n");
  request.append("\r\n").append(body);
  return request;
}

}  // namespace

std::optional<std::string> http_result::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return value;
  }
  return std::nullopt;
}

http_result parse_http_response(std::string_view wire, bool head_only) {
  return parse_response(wire, head_only, true).result;
}

http_result http_request(std::uint16_t port, std::string_view method, std::string_view target,
                         std::string_view body, std::chrono::milliseconds timeout, const header_list& headers) {
  const auto deadline = clock::now() + timeout;
  const std::string peer = "127.0.0.1:" + std::to_string(port);
  const std::string timeout_text = std::to_string(timeout.count()) + "ms";
  http_result failure;
  auto fail = [&](std::string error) {
    failure.error = std::move(error);
    return failure;
  };

  // Connect.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return fail(std::string("socket failed: ") + std::strerror(errno));
  struct closer {
    int fd;
    ~closer() { ::close(fd); }
  } close_fd{fd};
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) < 0) {
    if (errno != EINPROGRESS) return fail("connect to " + peer + " failed: " + std::strerror(errno));
    if (!wait_ready(fd, POLLOUT, deadline)) return fail("connect to " + peer + " timed out after " + timeout_text);
    int error = 0;
    socklen_t length = sizeof error;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) return fail("connect to " + peer + " failed: " + std::strerror(error));
  }

  // Send the request.
  std::string request = build_request(port, method, target, body, headers);
  for (std::size_t sent = 0; sent < request.size();) {
    if (!wait_ready(fd, POLLOUT, deadline)) return fail("sending to " + peer + " timed out after " + timeout_text);
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n < 0) return fail("sending to " + peer + " failed: " + std::strerror(errno));
    sent += static_cast<std::size_t>(n);
  }

  // Read until the response is complete or the server closes.
  std::string wire;
  char buffer[65536];
  bool head_only = method == "HEAD";
  parse_progress progress;
  for (;;) {
    if (!wait_ready(fd, POLLIN, deadline)) {
      failure = parse_response(wire, head_only, false).result;
      return fail("timed out after " + timeout_text + " waiting for the response from " + peer + ", " +
                  std::to_string(wire.size()) + " bytes received");
    }
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n < 0) {
      failure = parse_response(wire, head_only, false).result;
      return fail("reading from " + peer + " failed: " + std::strerror(errno) + ", " + std::to_string(wire.size()) +
                  " bytes received");
    }
    wire.append(buffer, static_cast<std::size_t>(n));

    // Parsing again after every read would take quadratic time on large
    // bodies, so wait until the framing shows that the body can be complete. A
    // chunked body ends with an empty line after its last chunk.
    bool worth_parsing = n == 0 || !progress.head_parsed ||
                         (progress.total_size && wire.size() >= *progress.total_size) ||
                         (progress.chunked && wire.ends_with("\r\n\r\n"));
    if (!worth_parsing) continue;
    progress = parse_response(wire, head_only, n == 0);
    if (progress.state != parse_state::incomplete) return std::move(progress.result);
  }
}

http_result http_get(std::uint16_t port, std::string_view target, std::chrono::milliseconds timeout) {
  return http_request(port, "GET", target, {}, timeout);
}

}  // namespace support
