// Calls POST /flush on the main app every --every (default 30s) and logs each
// call that fails.
#include <sidecar/app.hpp>

using namespace std::chrono_literals;

int main(int argc, char** argv) {
  sidecar::app app(sidecar::app::options_from_args("flush", argc, argv));

  app.every("flush", app.duration_flag("every", 30s), [&](sidecar::duty_context& ctx) -> boost::asio::awaitable<void> {
    sidecar::http::client_request flush{.method = "POST", .url = app.url("/flush"), .timeout = 2s};
    auto r = co_await ctx.http.fetch(std::move(flush));
    if (!r.ok() || r.response.status >= 300) {
      ctx.log.warn("flush failed", {{"status", r.response.status}, {"reason", to_string(r.error)}});
    }
  });

  return app.run();
}
