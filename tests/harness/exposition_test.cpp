#include "podsim/exposition.hpp"

#include <cmath>
#include <string>

#include <catch2/catch.hpp>

namespace {

// The message of the exposition_error that parsing `text` throws, or "" when it parses.
std::string parse_error(const std::string& text) {
  try {
    podsim::parse_exposition(text);
  } catch (const podsim::exposition_error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("exposition parses families and samples") {
  const auto page = podsim::parse_exposition(
      "# HELP http_requests_total Requests served,\\n by code.\n"
      "# TYPE http_requests_total counter\n"
      "http_requests_total{code=\"200\",path=\"/a\\\"b\\\\c\\n\"} 1027 1395066363000\n"
      "http_requests_total{code=\"500\",} 3\n"
      "# A plain comment.\n"
      "\n"
      "# TYPE latency_seconds histogram\n"
      "latency_seconds_bucket{le=\"0.1\"} 2\n"
      "latency_seconds_bucket{le=\"+Inf\"} 3\n"
      "latency_seconds_sum 0.4\n"
      "latency_seconds_count 3\n"
      "# TYPE rpc summary\n"
      "rpc{quantile=\"0.5\"} 1.5e-3\n"
      "rpc_sum 7\n"
      "rpc_count 4\n"
      "untyped_thing -Inf\n"
      "nan_gauge NaN\n");

  REQUIRE(page.families.size() == 5);
  CHECK(page.families[0].name == "http_requests_total");
  CHECK(page.families[0].type == "counter");
  CHECK(page.families[0].help == "Requests served,\n by code.");
  CHECK(page.families[1].type == "histogram");
  CHECK(page.families[2].type == "summary");
  CHECK(page.families[3].name == "untyped_thing");
  CHECK(page.families[3].type == "untyped");

  REQUIRE(page.samples.size() == 11);
  const auto& first = page.samples[0];
  CHECK(first.name == "http_requests_total");
  CHECK(first.labels == std::vector<std::pair<std::string, std::string>>{{"code", "200"}, {"path", "/a\"b\\c\n"}});
  CHECK(first.value == 1027);
  CHECK(first.timestamp_ms == 1395066363000);
  CHECK_FALSE(page.samples[1].timestamp_ms);
  CHECK(page.samples[3].labels[0].second == "+Inf");
  CHECK(page.samples[6].value == Approx(0.0015));
  CHECK(page.samples[9].value == -INFINITY);
  CHECK(std::isnan(page.samples[10].value));
}

TEST_CASE("exposition accepts an empty page") { CHECK(podsim::parse_exposition("").samples.empty()); }

TEST_CASE("exposition errors carry line numbers") {
  struct error_case {
    const char* name;
    std::string text;
    std::string message;
  };
  const error_case cases[] = {
      {"missing final line feed", "a 1\nb 2", "line 2: the last line does not end with a line feed"},
      {"invalid metric name", "1abc 2\n", "line 1: invalid metric name at the start of \"1abc 2\""},
      {"missing value", "up\n", "line 1: expected a space and a value after up"},
      {"invalid value", "up one\n", "line 1: invalid value \"one\" for up"},
      {"hexadecimal value", "up 0x1p3\n", "line 1: invalid value \"0x1p3\" for up"},
      {"invalid timestamp", "up 1 soon\n",
       "line 1: invalid timestamp \"soon\" for up, expected milliseconds since the epoch"},
      {"text after timestamp", "up 1 2 3\n", "line 1: unexpected text after the timestamp of up"},
      {"unterminated labels", "up{a=\"1\" 1\n", "line 1: expected ',' or '}' in the labels of up"},
      {"unquoted label value", "up{a=1} 1\n", "line 1: expected a quoted value for label a of up"},
      {"bad label escape", "up{a=\"\\t\"} 1\n",
       "line 1: invalid escape sequence \\t in label a of up, expected \\\\, \\\" or \\n"},
      {"duplicate label", "up{a=\"1\",a=\"2\"} 1\n", "line 1: duplicate label a in up"},
      {"invalid label name", "up{a-b=\"1\"} 1\n", "line 1: expected '=' after label a of up"},
      {"unknown type", "# TYPE up gaugeish\n",
       "line 1: unknown metric type \"gaugeish\" for up, expected counter, gauge, histogram, summary or untyped"},
      {"second TYPE", "# TYPE up gauge\n# TYPE up gauge\n", "line 2: second TYPE line for metric up"},
      {"second HELP", "# HELP up a\n# HELP up b\n", "line 2: second HELP line for metric up"},
      {"TYPE after samples", "up 1\n# TYPE up gauge\n", "line 2: TYPE line for metric up after its samples"},
      {"bad HELP escape", "# HELP up a\\tb\n", "line 1: invalid escape sequence \\t in HELP text, expected \\\\ or \\n"},
      {"split family", "a 1\nb 1\na{x=\"1\"} 2\n",
       "line 3: metric a continues after other metrics, expected its lines in one group"},
      {"duplicate series", "a{x=\"1\",y=\"2\"} 1\na{y=\"2\",x=\"1\"} 2\n",
       "line 2: duplicate series a with the same labels"},
      {"bucket without le", "# TYPE h histogram\nh_bucket 1\n", "line 2: histogram bucket h_bucket without an le label"},
      {"bucket with bad le", "# TYPE h histogram\nh_bucket{le=\"big\"} 1\n",
       "line 2: histogram bucket h_bucket has le=\"big\", expected a number"},
      {"histogram sample without suffix", "# TYPE h histogram\nh 1\n",
       "line 2: histogram h has a sample without _bucket, _sum or _count"},
      {"summary without quantile", "# TYPE s summary\ns 1\n", "line 2: summary s has a sample without a quantile label"},
  };
  for (const auto& c : cases) {
    SECTION(c.name) { CHECK(parse_error(c.text) == c.message); }
  }
}
