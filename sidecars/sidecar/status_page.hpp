#pragma once

// The HTML page served at `/`: each duty with its kind and the last results
// of each of its checks or requests. The page is plain HTML without scripts,
// and every value from the config or from a response is escaped.

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sidecar/duties.hpp"

namespace sidecar::core {

struct status_page_info {
  std::string version;
  std::string config_file;
  std::string listen;
  std::chrono::system_clock::time_point loaded_at;  // when the running config was read
  std::string last_reload_error;                    // empty unless the last reload failed
  bool draining = false;
};

std::string render_status_page(const status_page_info& info,
                               const std::vector<std::shared_ptr<configured_duty>>& duties);

// Appends `text` with &, <, >, " and ' replaced by character references.
void append_html_escaped(std::string& out, std::string_view text);

}  // namespace sidecar::core
