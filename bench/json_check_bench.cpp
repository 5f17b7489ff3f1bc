// sidecar::evaluate, the JSON pointer check of a probe, on status bodies of
// 1 KiB and 1 MiB. evaluate() validates the whole body before it follows the
// pointer, so both pointers cost about the same: /value names the first key
// and /last the key after the long array.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>

#include "body.hpp"
#include "sidecar/json_check.hpp"

namespace {

void run_check(benchmark::State& state, const sidecar::json_check& check) {
  const std::string body = sidecar::bench::make_status_body(static_cast<std::size_t>(state.range(0)));

  // A check that fails would time the failure path, not the one a ready app takes.
  if (const auto first = sidecar::evaluate(check, body); !first.passed) {
    state.SkipWithError(("check failed: " + first.message).c_str());
    return;
  }

  for (auto _ : state) {
    sidecar::json_check_result result = sidecar::evaluate(check, body);
    benchmark::DoNotOptimize(result);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}

void bm_json_first_key(benchmark::State& state) {
  run_check(state, {.pointer = "/value", .op = sidecar::json_op::equals, .operand = 5.0});
}

void bm_json_last_key(benchmark::State& state) {
  run_check(state, {.pointer = "/last", .op = sidecar::json_op::equals, .operand = std::string("end")});
}

}  // namespace

BENCHMARK(bm_json_first_key)->Arg(1 << 10)->Arg(1 << 20);
BENCHMARK(bm_json_last_key)->Arg(1 << 10)->Arg(1 << 20);

BENCHMARK_MAIN();
