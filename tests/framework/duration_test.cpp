#include "sidecar/duration.hpp"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

namespace {

using std::chrono::milliseconds;

constexpr milliseconds max_duration{std::numeric_limits<std::int64_t>::max()};

}  // namespace

TEST_CASE("parse_duration valid") {
  struct row {
    std::string text;
    milliseconds expected;
  };
  const std::vector<row> rows = {
      {"250ms", milliseconds{250}},
      {"5s", milliseconds{5000}},
      {"1m", milliseconds{60'000}},
      {"1h", milliseconds{3'600'000}},
      {"0s", milliseconds{0}},
      {"0ms", milliseconds{0}},
      {"1.5s", milliseconds{1500}},
      {"1.500s", milliseconds{1500}},
      {"1.0s", milliseconds{1000}},
      {"0.001s", milliseconds{1}},
      {"2.5m", milliseconds{150'000}},
      {"1.25h", milliseconds{4'500'000}},
      {"0.00001h", milliseconds{36}},
      {"1m30s", milliseconds{90'000}},
      {"1h30m", milliseconds{5'400'000}},
      {"1h2m3s4ms", milliseconds{3'723'004}},
      {"1s500ms", milliseconds{1500}},
      {"1m1.5s", milliseconds{61'500}},
      {"05s", milliseconds{5000}},
      {"9223372036854775807ms", max_duration},
  };
  for (const row& r : rows) {
    INFO(r.text);
    CHECK(sidecar::parse_duration(r.text) == r.expected);
  }
}

TEST_CASE("parse_duration rejects") {
  const std::vector<std::string> rows = {
      "",
      "5",  // a bare number
      "0",
      "-5s",  // negative
      "+5s",
      "5 s",  // spaces
      " 5s",
      "5s ",
      "5x",  // unknown units
      "5S",
      "5sec",
      "5d",
      "5us",
      "s",  // no number
      "ms",
      "1m30",  // a term without a unit
      "5s5",
      ".5s",  // a point needs digits on both sides
      "5.s",
      "1..5s",
      "1.5.5s",
      "1e3ms",
      "1.5ms",  // not a whole number of milliseconds
      "0.0001s",
      "0.000001h",
      "9223372036854775808ms",  // overflow
      "9223372036854776s",
      "2562047788016h",
      "99999999999999999999999s",
      "9223372036854775807ms1ms",
  };
  for (const std::string& text : rows) {
    INFO(text);
    CHECK_FALSE(sidecar::parse_duration(text).has_value());
  }
}

TEST_CASE("format_duration") {
  CHECK(sidecar::format_duration(milliseconds{0}) == "0s");
  CHECK(sidecar::format_duration(milliseconds{250}) == "250ms");
  CHECK(sidecar::format_duration(milliseconds{999}) == "999ms");
  CHECK(sidecar::format_duration(milliseconds{1000}) == "1s");
  CHECK(sidecar::format_duration(milliseconds{1500}) == "1.5s");
  CHECK(sidecar::format_duration(milliseconds{1001}) == "1.001s");
  CHECK(sidecar::format_duration(milliseconds{1250}) == "1.25s");
  CHECK(sidecar::format_duration(milliseconds{5000}) == "5s");
  CHECK(sidecar::format_duration(milliseconds{60'000}) == "1m");
  CHECK(sidecar::format_duration(milliseconds{90'000}) == "1m30s");
  CHECK(sidecar::format_duration(milliseconds{3'600'000}) == "1h");
  CHECK(sidecar::format_duration(milliseconds{3'601'000}) == "1h1s");
  CHECK(sidecar::format_duration(milliseconds{3'600'001}) == "1h0.001s");
  CHECK(sidecar::format_duration(milliseconds{3'723'500}) == "1h2m3.5s");
  CHECK(sidecar::format_duration(milliseconds{-1500}) == "-1.5s");
  CHECK(sidecar::format_duration(milliseconds{-250}) == "-250ms");
  CHECK(sidecar::format_duration(milliseconds{std::numeric_limits<std::int64_t>::min()}) ==
        "-2562047788015h12m55.808s");
}

TEST_CASE("format_duration round trip") {
  for (milliseconds d : {milliseconds{0}, milliseconds{1}, milliseconds{250}, milliseconds{1000},
                         milliseconds{1500}, milliseconds{59'999}, milliseconds{61'001},
                         milliseconds{3'599'999}, milliseconds{86'400'000}, max_duration}) {
    std::string text = sidecar::format_duration(d);
    INFO(text);
    CHECK(sidecar::parse_duration(text) == d);
  }
}
