#include "support/prometheus.hpp"

#include <signal.h>

#include <sstream>
#include <stdexcept>

#include "support/http_get.hpp"

namespace support {
namespace {

using namespace std::chrono_literals;

constexpr const char* prometheus_binary = "/usr/bin/prometheus";
constexpr const char* promtool_binary = "/usr/bin/promtool";

std::string seconds_text(std::chrono::milliseconds duration) {
  std::ostringstream text;
  if (duration.count() % 1000 == 0) {
    text << duration.count() / 1000 << "s";
  } else {
    text << duration.count() << "ms";
  }
  return text.str();
}

std::string render_config(const prometheus_options& options) {
  std::ostringstream yaml;
  yaml << "global:\n"
       << "  scrape_interval: " << seconds_text(options.scrape_interval) << "\n"
       << "  scrape_timeout: " << seconds_text(options.scrape_interval) << "\n"
       << "scrape_configs:\n"
       << "  - job_name: \"" << options.job << "\"\n"
       << "    metrics_path: \"" << options.metrics_path << "\"\n"
       << "    static_configs:\n"
       << "      - targets: [";
  for (std::size_t i = 0; i < options.targets.size(); ++i) {
    yaml << (i == 0 ? "" : ", ") << "\"" << options.targets[i] << "\"";
  }
  yaml << "]\n";
  return yaml.str();
}

std::int64_t unix_seconds(std::chrono::system_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count();
}

}  // namespace

std::string url_encode(std::string_view text) {
  constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '_' || c == '.' || c == '~';
    if (unreserved) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

prometheus_server::prometheus_server(prometheus_options options)
    : dir_("sidecar-prometheus"), port_(options.port != 0 ? options.port : free_port()) {
  dir_.write_file("prometheus.yml", render_config(options));
  process_ = std::make_unique<support::process>(std::vector<std::string>{
      prometheus_binary,
      "--config.file=" + (dir_.path() / "prometheus.yml").string(),
      "--storage.tsdb.path=" + (dir_.path() / "data").string(),
      "--web.listen-address=127.0.0.1:" + std::to_string(port_),
  });
}

prometheus_server::~prometheus_server() {
  if (process_) process_->stop(SIGTERM, 10s);
}

bool prometheus_server::wait_ready(std::chrono::milliseconds timeout) {
  return wait_until(
      [this] {
        if (!process_->running()) return true;
        return http_get(port_, "/-/ready", 1s).status == 200;
      },
      timeout, 100ms) &&
         process_->running();
}

std::string prometheus_server::query(std::string_view expr) {
  auto result = http_get(port_, "/api/v1/query?query=" + url_encode(expr), 10s);
  return result.ok() ? result.body : result.error;
}

std::string prometheus_server::query_range(std::string_view expr, std::chrono::seconds range,
                                           std::chrono::seconds step) {
  auto end = unix_seconds(std::chrono::system_clock::now());
  std::string target = "/api/v1/query_range?query=" + url_encode(expr) +
                       "&start=" + std::to_string(end - range.count()) + "&end=" + std::to_string(end) +
                       "&step=" + std::to_string(step.count());
  auto result = http_get(port_, target, 10s);
  return result.ok() ? result.body : result.error;
}

std::string prometheus_server::log_tail(std::size_t lines) const {
  return last_lines(process_->stderr_content(), lines);
}

promtool_result promtool_check_metrics(std::string_view text) {
  temp_dir dir("sidecar-promtool");
  dir.write_file("metrics.txt", text);
  support::process promtool({promtool_binary, "check", "metrics"}, {.stdin_file = dir.path() / "metrics.txt"});
  promtool_result result;
  auto status = promtool.wait_for_exit(30s);
  result.exit_status = status ? *status : promtool.stop(SIGKILL, 1s);
  result.output = promtool.stdout_content() + promtool.stderr_content();
  return result;
}

}  // namespace support
