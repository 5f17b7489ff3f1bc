#pragma once

// The process's Prometheus registry and its text exposition.
//
// Families are created with prometheus-cpp's builders on registry():
//
//   auto& restarts = prometheus::BuildCounter()
//                        .Name("sidecar_duty_restarts_total")
//                        .Help("Restarts of a duty after it failed.")
//                        .Register(metrics.registry());
//
// render() returns text format 0.0.4, which `promtool check metrics` accepts.

#include <memory>
#include <string>

namespace prometheus {
class Registry;
}

namespace sidecar {

inline constexpr const char* exposition_content_type = "text/plain; version=0.0.4; charset=utf-8";

class metrics {
 public:
  metrics();
  explicit metrics(std::shared_ptr<prometheus::Registry> registry);

  prometheus::Registry& registry() { return *registry_; }
  std::shared_ptr<prometheus::Registry> shared_registry() const { return registry_; }

  // Serializes every family of the registry in text format 0.0.4.
  std::string render() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
};

}  // namespace sidecar
