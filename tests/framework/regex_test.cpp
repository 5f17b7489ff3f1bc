#include "sidecar/regex.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include <re2/re2.h>
#include <catch2/catch.hpp>

namespace {

// Runs `f` with file descriptor 2 pointed at a temporary file and returns
// what was written to it, to see whether RE2 logs anything.
template <typename F>
std::string capture_stderr(F&& f) {
  std::fflush(stderr);
  char path[] = "/tmp/sidecar-regex-stderr-XXXXXX";
  int file = mkstemp(path);
  REQUIRE(file >= 0);
  int saved = dup(2);
  dup2(file, 2);
  f();
  std::fflush(stderr);
  dup2(saved, 2);
  close(saved);

  std::string content;
  lseek(file, 0, SEEK_SET);
  char buffer[4096];
  for (ssize_t n; (n = read(file, buffer, sizeof buffer)) > 0;)
    content.append(buffer, static_cast<std::size_t>(n));
  close(file);
  unlink(path);
  return content;
}

}  // namespace

TEST_CASE("regex search and full_match") {
  std::optional<sidecar::regex> re = sidecar::regex::compile("ready");
  REQUIRE(re.has_value());
  CHECK(re->pattern() == "ready");
  CHECK(re->search("status: ready\n"));
  CHECK_FALSE(re->search("status: starting"));
  CHECK_FALSE(re->full_match("status: ready"));
  CHECK(re->full_match("ready"));

  std::optional<sidecar::regex> anchored = sidecar::regex::compile("^[a-z]+/json$");
  REQUIRE(anchored.has_value());
  CHECK(anchored->search("application/json"));
  CHECK_FALSE(anchored->search("application/json; charset=utf-8"));
}

TEST_CASE("regex empty pattern") {
  std::optional<sidecar::regex> re = sidecar::regex::compile("");
  REQUIRE(re.has_value());
  CHECK(re->search("anything"));
  CHECK(re->search(""));
  CHECK(re->full_match(""));
  CHECK_FALSE(re->full_match("x"));
}

TEST_CASE("regex matches UTF-8 characters") {
  std::optional<sidecar::regex> re = sidecar::regex::compile("^caf.$");
  REQUIRE(re.has_value());
  CHECK(re->search("caf\xc3\xa9"));  // 'é' is one character of two bytes
}

TEST_CASE("regex text with NUL bytes") {
  std::optional<sidecar::regex> re = sidecar::regex::compile("b$");
  REQUIRE(re.has_value());
  CHECK(re->search(std::string_view("a\0b", 3)));
}

TEST_CASE("regex invalid pattern error") {
  std::string error;
  std::string logged =
      capture_stderr([&] { CHECK_FALSE(sidecar::regex::compile("(abc", &error).has_value()); });
  CHECK(error == "missing ): (abc");
  CHECK(logged.empty());

  CHECK(sidecar::regex::compile("a{2,1}", &error) == std::nullopt);
  CHECK(error == "invalid repetition size: {2,1}");

  // Without an error string the failure is still reported.
  CHECK_FALSE(sidecar::regex::compile("[z-a]").has_value());
}

TEST_CASE("regex rejects backreferences") {
  // RE2 gives up backreferences to guarantee linear time.
  std::string error;
  CHECK_FALSE(sidecar::regex::compile(R"((a)\1)", &error).has_value());
  CHECK(error == R"(invalid escape sequence: \1)");
}

TEST_CASE("regex pathological pattern completes") {
  // A backtracking engine takes about 2^30 steps here; RE2 is linear.
  std::optional<sidecar::regex> re = sidecar::regex::compile("(a+)+$");
  REQUIRE(re.has_value());
  std::string text = std::string(30, 'a') + "b";
  CHECK_FALSE(re->full_match(text));
  CHECK_FALSE(sidecar::regex::compile("^(a+)+$")->search(text));
  CHECK(re->search(std::string(100'000, 'a')));
  CHECK_FALSE(sidecar::regex::compile("^(a|aa)+$")->search(std::string(100'000, 'a') + "b"));
}

TEST_CASE("regex copies share the program") {
  std::optional<sidecar::regex> re = sidecar::regex::compile("(\\d+)ms");
  REQUIRE(re.has_value());
  sidecar::regex copy = *re;
  CHECK(&copy.native() == &re->native());
  CHECK(copy.native().NumberOfCapturingGroups() == 1);

  int value = 0;
  CHECK(re2::RE2::PartialMatch("took 250ms", copy.native(), &value));
  CHECK(value == 250);
}
