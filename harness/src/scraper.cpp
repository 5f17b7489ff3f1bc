// The built-in scraper: pods annotated prometheus.io/scrape: "true" are
// scraped every interval at prometheus.io/port and prometheus.io/path, and
// the page is parsed strictly. The same targets go to a file_sd file for a
// real Prometheus, rewritten atomically when they change.

#include "control_plane.hpp"

#include <charconv>
#include <fstream>

#include <boost/asio/detached.hpp>

#include "podsim/exposition.hpp"

namespace podsim::detail {
namespace {

struct scrape_target {
  std::string pod;
  std::string namespace_name;
  std::string address;  // ip:port
  std::string path;
  std::string error;    // why the annotations give no target
};

// The target of a pod by the annotation convention of Prometheus' Kubernetes
// examples: the port defaults to the pod's first declared port.
std::optional<scrape_target> target_of(const pod_state& pod) {
  const auto& annotations = pod.object.meta.annotations;
  const auto scrape = annotations.find("prometheus.io/scrape");
  if (scrape == annotations.end() || scrape->second != "true" || pod.ip.empty()) return std::nullopt;

  scrape_target target{.pod = pod.object.meta.name, .namespace_name = pod.object.meta.namespace_name};
  const auto path = annotations.find("prometheus.io/path");
  target.path = path == annotations.end() || path->second.empty() ? "/metrics" : path->second;
  if (!target.path.starts_with('/')) target.path = "/" + target.path;

  std::string port;
  if (const auto annotated = annotations.find("prometheus.io/port"); annotated != annotations.end()) {
    port = annotated->second;
  } else {
    for (const auto& c : pod.object.spec.containers) {
      if (!c.ports.empty() && port.empty()) port = std::to_string(c.ports[0].container_port);
    }
  }
  int number = 0;
  const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (port.empty()) {
    target.error = "no prometheus.io/port annotation and no container port";
  } else if (error != std::errc() || end != port.data() + port.size() || number < 1 || number > 65535) {
    target.error = "prometheus.io/port \"" + port + "\" is invalid, expected a port number";
  }
  target.address = pod.ip + ":" + port;
  return target;
}

std::string json_string(std::string_view text) {
  std::string out;
  sidecar::append_json_string(out, text);
  return out;
}

}  // namespace

asio::awaitable<void> control_plane::run_scraper() {
  sidecar::http::client_options client_options;
  client_options.user_agent = "podsim-scraper";
  scrape_client_ = std::make_unique<sidecar::http::client>(executor_, client_options);
  scrape_timer_ = std::make_unique<asio::steady_timer>(executor_);

  while (!stopping_) {
    for (const auto& [name, pod] : pods_) {
      if (pod->terminating || scrapes_in_flight_.contains(name)) continue;
      const auto target = target_of(*pod);
      if (!target) continue;
      if (!target->error.empty()) {
        scrape_result& result = scrapes_[name];
        result.pod = name;
        ++result.scrapes;
        ++result.failures;
        result.up = false;
        result.error = target->error;
        result.time = system_clock::now();
        continue;
      }
      scrapes_in_flight_.insert(name);
      asio::co_spawn(executor_, scrape(name, "http://" + target->address + target->path), asio::detached);
    }
    scrape_timer_->expires_after(options_.scrape_interval);
    co_await scrape_timer_->async_wait(asio::as_tuple(asio::use_awaitable));
  }
}

asio::awaitable<void> control_plane::scrape(std::string pod, std::string url) {
  // Prometheus' own default: a scrape may take the interval, at most 10 s.
  const auto timeout = std::min<std::chrono::milliseconds>(options_.scrape_interval, std::chrono::seconds(10));
  const sidecar::http::client_request request{
      .url = url,
      .headers = {{"Accept", "text/plain;version=0.0.4;q=1,*/*;q=0.1"}},
      .timeout = timeout,
      .connect_timeout = timeout,
      .max_body = 16 * 1024 * 1024,
  };
  const auto started = steady_clock::now();
  auto response = co_await scrape_client_->fetch(request);
  scrapes_in_flight_.erase(pod);
  if (stopping_ || !pods_.contains(pod)) co_return;

  scrape_result& result = scrapes_[pod];
  result.pod = pod;
  result.url = url;
  ++result.scrapes;
  result.time = system_clock::now();
  result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(steady_clock::now() - started);

  std::string error;
  if (!response.ok()) {
    error = std::string(sidecar::http::to_string(response.error)) + ": " + response.message;
  } else if (response.response.status != 200) {
    error = "HTTP status " + std::to_string(response.response.status) + ", expected 200";
  } else {
    try {
      result.samples = parse_exposition(response.response.body).samples;
    } catch (const exposition_error& e) {
      error = std::string("invalid exposition: ") + e.what();
    }
  }
  result.up = error.empty();
  result.error = error;
  if (!error.empty()) {
    ++result.failures;
    result.samples.clear();
  }
}

void control_plane::update_file_sd() {
  if (options_.file_sd_path.empty() || stopped_) return;

  // One group per pod, so that each target carries its own labels.
  std::string content = "[";
  bool first = true;
  for (const auto& [name, pod] : pods_) {
    if (pod->terminating) continue;
    const auto target = target_of(*pod);
    if (!target || !target->error.empty()) continue;
    content += first ? "\n" : ",\n";
    first = false;
    content += "  {\"targets\": [" + json_string(target->address) + "], \"labels\": {\"__metrics_path__\": " +
               json_string(target->path) + ", \"namespace\": " + json_string(target->namespace_name) +
               ", \"pod\": " + json_string(target->pod) + "}}";
  }
  content += first ? "]\n" : "\n]\n";
  if (content == file_sd_content_) return;

  // Prometheus may read the file at any moment, so it is replaced by rename.
  const std::filesystem::path temporary = options_.file_sd_path.string() + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out.flush()) {
      log_.error("writing the file_sd file failed", {{"path", temporary.string()}});
      return;
    }
  }
  std::error_code error;
  std::filesystem::rename(temporary, options_.file_sd_path, error);
  if (error) {
    log_.error("replacing the file_sd file failed", {{"path", options_.file_sd_path.string()}, {"error", error.message()}});
    return;
  }
  file_sd_content_ = std::move(content);
}

}  // namespace podsim::detail
