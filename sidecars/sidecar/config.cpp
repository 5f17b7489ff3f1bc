#include "sidecar/config.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <utility>

namespace sidecar::core {
namespace {

std::string format_config_error(const std::string& file, const source_position& position,
                                const std::string& problem) {
  std::string text = file;
  if (position.line > 0) {
    text += ':' + std::to_string(position.line) + ':' + std::to_string(position.column);
  }
  text += ": ";
  if (!position.key_path.empty()) {
    text += position.key_path + ": ";
  }
  text += problem;
  return text;
}

// The key path of the duty at `index`, for naming the first of two duties.
std::string duty_reference(std::size_t index) { return "duties[" + std::to_string(index) + "]"; }

void check_unique_names(const sidecar_config& config, const std::string& file_name) {
  std::map<std::string_view, std::size_t> first_use;
  for (std::size_t i = 0; i < config.duties.size(); ++i) {
    const duty_config& duty = config.duties[i];
    auto [it, inserted] = first_use.emplace(duty.name, i);
    if (!inserted) {
      throw config_error(file_name, duty.name_position,
                         '"' + duty.name + "\" is already the name of " + duty_reference(it->second) +
                             ", expected a unique duty name");
    }
  }
}

void check_probe_paths(const sidecar_config& config, const std::string& file_name) {
  std::map<std::string_view, std::size_t> first_use;
  for (std::size_t i = 0; i < config.duties.size(); ++i) {
    const auto* probe = std::get_if<probe_duty_config>(&config.duties[i].kind);
    if (probe == nullptr) {
      continue;
    }

    bool reserved = std::find(std::begin(reserved_paths), std::end(reserved_paths), probe->path) !=
                    std::end(reserved_paths);
    if (reserved) {
      throw config_error(file_name, probe->path_position,
                         '"' + probe->path +
                             "\" is served by the sidecar itself, expected a path other than "
                             "/, /live, /metrics and /-/reload");
    }

    auto [it, inserted] = first_use.emplace(probe->path, i);
    if (!inserted) {
      throw config_error(file_name, probe->path_position,
                         '"' + probe->path + "\" is already the path of " +
                             duty_reference(it->second) + ", expected a unique probe path");
    }
  }
}

}  // namespace

config_error::config_error(std::string file, source_position position, std::string problem)
    : std::runtime_error(format_config_error(file, position, problem)),
      file_(std::move(file)),
      position_(std::move(position)),
      problem_(std::move(problem)) {}

sidecar_config load_config(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    int error = errno;
    throw config_error(file.string(), {}, std::string("cannot open file: ") + std::strerror(error));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    throw config_error(file.string(), {}, "cannot read file");
  }
  return parse_config(text.str(), file.string());
}

void validate(const sidecar_config& config, const std::string& file_name) {
  check_unique_names(config, file_name);
  check_probe_paths(config, file_name);
}

app_options to_app_options(const sidecar_config& config) {
  app_options options;
  options.name = "sidecar";
  options.app_url = config.app_url;
  options.server = config.server;
  options.server.listen = config.listen;
  options.grace = config.grace;
  options.drain = config.drain;
  options.level = config.level;
  return options;
}

std::string_view kind_name(const duty_config& duty) {
  struct visitor {
    std::string_view operator()(const probe_duty_config&) const { return "probe"; }
    std::string_view operator()(const latency_duty_config&) const { return "latency"; }
    std::string_view operator()(const schedule_duty_config&) const { return "schedule"; }
  };
  return std::visit(visitor{}, duty.kind);
}

bool is_valid_name(std::string_view name) {
  if (name.empty()) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

std::optional<std::size_t> parse_size(std::string_view text) {
  std::size_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end == text.data()) {
    return std::nullopt;
  }

  std::string_view unit(end, text.data() + text.size() - end);
  std::size_t multiplier = 1;
  if (unit == "KiB") {
    multiplier = std::size_t{1} << 10;
  } else if (unit == "MiB") {
    multiplier = std::size_t{1} << 20;
  } else if (unit == "GiB") {
    multiplier = std::size_t{1} << 30;
  } else if (!unit.empty()) {
    return std::nullopt;
  }

  if (value > std::numeric_limits<std::size_t>::max() / multiplier) {
    return std::nullopt;
  }
  return value * multiplier;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // Optimal string alignment distance over a full table, which is cheap
  // because keys are short.
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) {
    d[i][0] = i;
  }
  for (std::size_t j = 0; j <= b.size(); ++j) {
    d[0][j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t substitution = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + substitution});
      bool swapped = i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1];
      if (swapped) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::optional<std::string_view> nearest_key(std::string_view key,
                                            std::span<const std::string_view> candidates) {
  std::optional<std::string_view> best;
  std::size_t best_distance = std::numeric_limits<std::size_t>::max();
  for (std::string_view candidate : candidates) {
    std::size_t distance = edit_distance(key, candidate);
    std::size_t allowed = std::max<std::size_t>(1, candidate.size() / 3);
    if (distance > 0 && distance <= allowed && distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

}  // namespace sidecar::core
