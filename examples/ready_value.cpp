// A readiness endpoint that fails unless the main app's /status.json has
// "value": 5. Run it beside the app and point the pod's readinessProbe at
// http://POD:9090/ready.
#include <sidecar/app.hpp>

using namespace std::chrono_literals;

int main(int argc, char** argv) {
  sidecar::app app(sidecar::app::options_from_args("ready-value", argc, argv));

  sidecar::http_check_spec status;
  status.request = {.url = app.url("/status.json"), .timeout = 1s};
  status.json = {{.pointer = "/value", .op = sidecar::json_op::equals, .operand = 5.0}};
  app.probe("/ready", sidecar::make_http_check(app.http(), std::move(status)));

  return app.run();
}
