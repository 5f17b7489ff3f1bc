#include "sidecar/metrics.hpp"

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace sidecar {

metrics::metrics() : registry_(std::make_shared<prometheus::Registry>()) {}

metrics::metrics(std::shared_ptr<prometheus::Registry> registry) : registry_(std::move(registry)) {}

std::string metrics::render() const {
  const prometheus::TextSerializer serializer;
  return serializer.Serialize(registry_->Collect());
}

}  // namespace sidecar
