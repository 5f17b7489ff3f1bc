#include "sidecar/url.hpp"

#include <string>

#include <catch2/catch.hpp>

#include "sidecar/http_message.hpp"

using sidecar::parse_url;
using sidecar::resolve_url;

namespace {

// The error text of parse_url for `text`, or "parsed" when it succeeded.
std::string parse_error(const std::string& text) {
  std::string error;
  return parse_url(text, &error) ? "parsed" : error;
}

}  // namespace

TEST_CASE("parse_url splits host port and target", "[url]") {
  struct row {
    const char* text;
    const char* host;
    std::uint16_t port;
    const char* target;
  };
  const auto r = GENERATE(values<row>({
      {"http://127.0.0.1:8080/status?x=1", "127.0.0.1", 8080, "/status?x=1"},
      {"http://localhost/", "localhost", 80, "/"},
      {"http://localhost", "localhost", 80, "/"},
      {"http://example.com?a=b", "example.com", 80, "/?a=b"},
      {"http://Api.Example.COM:9/x", "api.example.com", 9, "/x"},
      {"HTTP://host/x", "host", 80, "/x"},
      {"http://[::1]:9090/metrics", "::1", 9090, "/metrics"},
      {"http://[fe80::1]/", "fe80::1", 80, "/"},
      {"http://host:65535/a#fragment", "host", 65535, "/a"},
      {"http://my_host-1.svc:1/", "my_host-1.svc", 1, "/"},
  }));
  CAPTURE(r.text);

  const auto parsed = parse_url(r.text);
  REQUIRE(parsed);
  CHECK(parsed->scheme == "http");
  CHECK(parsed->host == r.host);
  CHECK(parsed->port == r.port);
  CHECK(parsed->target == r.target);
}

TEST_CASE("parse_url rejects with exact messages", "[url]") {
  struct row {
    const char* text;
    const char* error;
  };
  const auto r = GENERATE(values<row>({
      {"ftp://x", R"(invalid URL "ftp://x": scheme "ftp" is not supported, expected http)"},
      {"https://x/", R"(invalid URL "https://x/": scheme "https" is not supported, expected http)"},
      {"127.0.0.1/x", R"(invalid URL "127.0.0.1/x": missing scheme, expected "http://")"},
      {"", R"(invalid URL "": missing scheme, expected "http://")"},
      {"http:x", R"(invalid URL "http:x": missing "//" after "http:")"},
      {"http:///x", R"(invalid URL "http:///x": host is missing)"},
      {"http://:80/", R"(invalid URL "http://:80/": host is missing)"},
      {"http://h:0/", R"(invalid URL "http://h:0/": port "0" is out of range, expected 1-65535)"},
      {"http://h:65536/", R"(invalid URL "http://h:65536/": port "65536" is out of range, expected 1-65535)"},
      {"http://h:99999999999/", R"(invalid URL "http://h:99999999999/": port "99999999999" is out of range, expected 1-65535)"},
      {"http://h:8o/", R"(invalid URL "http://h:8o/": port "8o" is not a number, expected 1-65535)"},
      {"http://h:-1/", R"(invalid URL "http://h:-1/": port "-1" is not a number, expected 1-65535)"},
      {"http://h:/", R"(invalid URL "http://h:/": port is empty, expected 1-65535)"},
      {"http://user@h/", R"(invalid URL "http://user@h/": user info is not supported)"},
      {"http://[::1/", R"(invalid URL "http://[::1/": IPv6 address has no closing "]")"},
      {"http://[::g]/", R"(invalid URL "http://[::g]/": host "[::g]" is not a valid IPv6 address)"},
      {"http://[::1]x/", R"(invalid URL "http://[::1]x/": unexpected "x" after the IPv6 address, expected ":port")"},
      {"http://::1/", R"(invalid URL "http://::1/": host "::1" has several ":", expected an IPv6 address in brackets)"},
      {"http://256.1.1.1/", R"(invalid URL "http://256.1.1.1/": host "256.1.1.1" is not a valid IPv4 address)"},
      {"http://a!b/", R"(invalid URL "http://a!b/": host "a!b" has an invalid character "!")"},
      {"http://h/a b", R"(invalid URL "http://h/a b": path has a space or control character, expected it percent-encoded)"},
  }));
  CAPTURE(r.text);

  CHECK(parse_error(r.text) == r.error);
  CHECK_FALSE(parse_url(r.text));
}

TEST_CASE("url authority omits port 80", "[url]") {
  CHECK(parse_url("http://h/")->authority() == "h");
  CHECK(parse_url("http://h:8080/")->authority() == "h:8080");
  CHECK(parse_url("http://[::1]/")->authority() == "[::1]");
  CHECK(parse_url("http://[::1]:81/")->authority() == "[::1]:81");
  CHECK(parse_url("http://h:8080/a?b")->to_string() == "http://h:8080/a?b");
  CHECK(parse_url("http://h")->to_string() == "http://h/");
}

TEST_CASE("resolve_url applies references", "[url]") {
  const auto base = parse_url("http://h:8080/a/b/c?q=1");
  REQUIRE(base);

  struct row {
    const char* reference;
    const char* expected;
  };
  const auto r = GENERATE(values<row>({
      {"http://other:9/x", "http://other:9/x"},
      {"//other/y", "http://other/y"},
      {"/root", "http://h:8080/root"},
      {"/root?z", "http://h:8080/root?z"},
      {"/a/./b/../d", "http://h:8080/a/d"},
      {"sibling", "http://h:8080/a/b/sibling"},
      {"../up", "http://h:8080/a/up"},
      {"../../../../top", "http://h:8080/top"},
      {"./", "http://h:8080/a/b/"},
      {"..", "http://h:8080/a/"},
      {"?only=query", "http://h:8080/a/b/c?only=query"},
      {"#fragment", "http://h:8080/a/b/c?q=1"},
      {"/x#fragment", "http://h:8080/x"},
  }));
  CAPTURE(r.reference);

  std::string error;
  const auto resolved = resolve_url(*base, r.reference, &error);
  REQUIRE(resolved);
  CHECK(resolved->to_string() == r.expected);
}

TEST_CASE("resolve_url rejects bad references", "[url]") {
  const auto base = parse_url("http://h/");
  REQUIRE(base);
  std::string error;

  CHECK_FALSE(resolve_url(*base, "", &error));
  CHECK(error == R"(invalid URL reference "": it is empty)");

  CHECK_FALSE(resolve_url(*base, "ftp://x/", &error));
  CHECK(error == R"(invalid URL "ftp://x/": scheme "ftp" is not supported, expected http)");

  CHECK_FALSE(resolve_url(*base, "/a b", &error));
  CHECK(error ==
        R"(invalid URL reference "/a b": path has a space or control character, expected it percent-encoded)");
}

TEST_CASE("headers compare names case-insensitively", "[http]") {
  sidecar::http::headers h{{"Content-Type", "text/plain"}, {"X-Tag", "a"}};
  h.add("x-tag", "b");

  CHECK(h.get("content-type") == "text/plain");
  CHECK(h.get("X-TAG") == "a");
  CHECK(h.contains("CONTENT-TYPE"));
  CHECK_FALSE(h.contains("Content-Length"));
  CHECK(h.get("missing").empty());
  CHECK(h.size() == 3);

  h.set("X-Tag", "c");
  CHECK(h.size() == 2);
  CHECK(h.get("x-tag") == "c");

  CHECK(sidecar::http::iequals("Keep-Alive", "keep-alive"));
  CHECK_FALSE(sidecar::http::iequals("keep-alive", "keep-alive "));
}

TEST_CASE("request query_param finds values", "[http]") {
  sidecar::http::request req;
  req.query = "a=1&flag&b=two%20words&a=3&=x&empty=";

  CHECK(req.query_param("a") == "1");
  CHECK(req.query_param("b") == "two%20words");
  CHECK(req.query_param("flag").empty());
  CHECK(req.query_param("empty").empty());
  CHECK(req.query_param("missing").empty());
  CHECK(req.query_param("") == "x");
}

TEST_CASE("reason_phrase and make_response", "[http]") {
  CHECK(sidecar::http::reason_phrase(200) == "OK");
  CHECK(sidecar::http::reason_phrase(404) == "Not Found");
  CHECK(sidecar::http::reason_phrase(431) == "Request Header Fields Too Large");
  CHECK(sidecar::http::reason_phrase(799) == "Unknown");

  const auto r = sidecar::http::make_response(503, "down\n", "application/json");
  CHECK(r.status == 503);
  CHECK(r.body == "down\n");
  CHECK(r.content_type == "application/json");
  CHECK(r.headers.empty());
}
