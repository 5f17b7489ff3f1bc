// sidecar::metrics::render, the text exposition behind GET /metrics, for a
// registry of 1, 1,000 and 100,000 gauge series in one family. Each series
// has two labels, as the probe series do ({duty, check}).

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include "sidecar/metrics.hpp"

namespace {

void bm_metrics_render(benchmark::State& state) {
  const auto series = static_cast<int>(state.range(0));
  sidecar::metrics metrics;
  auto& family = prometheus::BuildGauge()
                     .Name("bench_probe_success")
                     .Help("A gauge family with one series per benchmark duty.")
                     .Register(metrics.registry());
  for (int i = 0; i < series; ++i) {
    family.Add({{"duty", "duty-" + std::to_string(i)}, {"check", "status"}}).Set(i % 2);
  }

  // Every series must reach the text: one line each, plus # HELP and # TYPE.
  const std::string first = metrics.render();
  const auto lines = std::count(first.begin(), first.end(), '\n');
  if (lines != series + 2) {
    state.SkipWithError(("render wrote " + std::to_string(lines) + " lines, expected " +
                         std::to_string(series + 2)).c_str());
    return;
  }

  for (auto _ : state) {
    std::string text = metrics.render();
    benchmark::DoNotOptimize(text);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * first.size()));
  state.counters["series"] = series;
  state.counters["series_per_second"] =
      benchmark::Counter(static_cast<double>(series), benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(bm_metrics_render)->Arg(1)->Arg(1000)->Arg(100000)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
