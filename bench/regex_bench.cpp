// sidecar::regex::search, the body match of a check, over 1 MiB: the
// throughput gives the cost per MiB of body. The pattern is the one a user
// writes for {"value": 5}. "match at end" scans the whole body before it finds
// the text; "no match" scans it all and fails, the case of an app that is not
// ready.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>

#include "body.hpp"
#include "sidecar/regex.hpp"

namespace {

constexpr std::size_t body_size = 1 << 20;
constexpr const char* value_pattern = R"re("value"\s*:\s*5[,}\s])re";

void run_search(benchmark::State& state, const std::string& body, bool expected) {
  std::string error;
  const auto pattern = sidecar::regex::compile(value_pattern, &error);
  if (!pattern) {
    state.SkipWithError(("pattern invalid: " + error).c_str());
    return;
  }
  if (pattern->search(body) != expected) {
    state.SkipWithError(expected ? "pattern did not match, expected a match"
                                 : "pattern matched, expected no match");
    return;
  }

  for (auto _ : state) {
    benchmark::DoNotOptimize(pattern->search(body));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}

void bm_regex_match_at_end(benchmark::State& state) {
  // The status body with its value moved to the end.
  std::string body = sidecar::bench::make_status_body(body_size);
  body.replace(body.find(R"("value": 5)"), 10, R"("other": 5)");
  body.replace(body.rfind('}'), 1, R"(, "value": 5})");
  run_search(state, body, true);
}

void bm_regex_no_match(benchmark::State& state) {
  std::string body = sidecar::bench::make_status_body(body_size);
  body.replace(body.find(R"("value": 5)"), 10, R"("value": 4)");
  run_search(state, body, false);
}

}  // namespace

BENCHMARK(bm_regex_match_at_end)->Unit(benchmark::kMicrosecond);
BENCHMARK(bm_regex_no_match)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
