// Times a request to the main app every --every (default 5s) and exports the
// latest latency as a gauge. A failed request sets it to NaN.
#include <cmath>

#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <sidecar/app.hpp>
#include <sidecar/metrics.hpp>

using namespace std::chrono_literals;

int main(int argc, char** argv) {
  sidecar::app app(sidecar::app::options_from_args("latency-gauge", argc, argv));
  auto& latency = prometheus::BuildGauge()
                      .Name("app_latency_seconds")
                      .Help("Latency of the last request to the main app; NaN when it failed.")
                      .Register(app.metrics().registry())
                      .Add({});

  app.every("latency", app.duration_flag("every", 5s), [&](sidecar::duty_context& ctx) -> boost::asio::awaitable<void> {
    sidecar::http::client_request request{.url = app.url("/"), .timeout = 2s};
    auto r = co_await ctx.http.fetch(std::move(request));
    latency.Set(r.ok() ? std::chrono::duration<double>(r.duration).count() : NAN);
  });

  return app.run();
}
