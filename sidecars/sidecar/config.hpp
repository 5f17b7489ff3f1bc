#pragma once

// The configuration of the ready-made sidecar, read from one YAML file.
//
//   sidecar::core::sidecar_config config = sidecar::core::load_config("sidecar.yaml");
//   sidecar::app app(sidecar::core::to_app_options(config));
//
// Parsing checks every value where it is written, so a config_error names the
// file, line, column and key path of the first problem. validate() adds the
// checks that span several duties: unique duty names, unique probe paths and
// paths that do not collide with the sidecar's own endpoints.

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "sidecar/app.hpp"
#include "sidecar/check.hpp"
#include "sidecar/http_server.hpp"
#include "sidecar/log.hpp"
#include "sidecar/probe.hpp"

namespace sidecar::core {

// The place of a value in the config file, for error messages.
struct source_position {
  int line = 0;  // one-based; 0 when the problem concerns the file as a whole
  int column = 0;
  std::string key_path;  // "duties[0].probe.path"; empty for YAML syntax errors
};

// A problem in a config file. what() is the one-line message for people:
//
//   sidecar.yaml:7:9: duties[0].probe.cheks: unknown key, did you mean "checks"?
class config_error : public std::runtime_error {
 public:
  config_error(std::string file, source_position position, std::string problem);

  const std::string& file() const { return file_; }
  const source_position& position() const { return position_; }
  // The message without file, position and key path.
  const std::string& problem() const { return problem_; }

 private:
  std::string file_;
  source_position position_;
  std::string problem_;
};

// One check of a probe duty. The variant contains the framework's spec, with
// relative URLs already resolved against the `app` base URL.
struct check_config {
  std::string name;
  std::variant<http_check_spec, tcp_check_spec, file_check_spec> spec;
  source_position position;
};

struct probe_duty_config {
  std::string path;
  source_position path_position;
  probe_options options;
  std::vector<check_config> checks;
};

// Histogram buckets in seconds, for request durations of a local main container.
inline const std::vector<double> default_latency_buckets{0.005, 0.01, 0.025, 0.05, 0.1,
                                                         0.25,  0.5,  1,     2.5,  5};

struct latency_duty_config {
  // Without an `expect` block any status from 200 to 399 counts as a success,
  // so a page that redirects can still be timed.
  http_check_spec request = [] {
    http_check_spec spec;
    spec.status = {{200, 399}};
    return spec;
  }();
  std::chrono::milliseconds every{5000};
  std::vector<double> buckets = default_latency_buckets;
};

struct schedule_duty_config {
  http_check_spec request;  // `expect` defaults to status 200-299
  std::chrono::milliseconds every{0};  // required: no default is right for every job
};

struct duty_config {
  std::string name;
  source_position name_position;
  std::variant<probe_duty_config, latency_duty_config, schedule_duty_config> kind;
};

struct sidecar_config {
  std::string listen = "127.0.0.1:9090";
  std::string app_url = "http://127.0.0.1:8080";
  log_level level = log_level::info;
  std::chrono::milliseconds grace{5000};
  std::chrono::milliseconds drain{0};
  // Limits of the sidecar's own server; `server.listen` equals `listen`.
  http::server_options server;
  std::vector<duty_config> duties;
};

// Paths that the sidecar serves itself, so no probe may use them.
inline constexpr std::string_view reserved_paths[] = {"/", "/live", "/metrics", "/-/reload"};

// Reads, parses and validates `file`. Throws config_error, also for a missing
// or unreadable file.
sidecar_config load_config(const std::filesystem::path& file);

// Parses and validates YAML text; `file_name` is used in error messages only.
sidecar_config parse_config(std::string_view text, const std::string& file_name);

// Checks what spans several duties: duty names and probe paths must be
// unique, and no probe path may be one of reserved_paths. Throws config_error.
void validate(const sidecar_config& config, const std::string& file_name);

// The app options that run this config.
app_options to_app_options(const sidecar_config& config);

// The duty kind as written in the file: "probe", "latency" or "schedule".
std::string_view kind_name(const duty_config& duty);

// True for a duty or check name made of [a-z0-9_-], at least one character.
bool is_valid_name(std::string_view name);

// Parses a size in bytes: "512", "64KiB", "1MiB" or "2GiB". Returns nothing
// for anything else, including decimal units such as "1MB" and overflow.
std::optional<std::size_t> parse_size(std::string_view text);

// The number of single-character insertions, deletions, substitutions and
// swaps of adjacent characters that turn `a` into `b`.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to a misspelt `key`, when one is close enough to be a
// likely typo: at most a third of its length away, and at least one edit.
std::optional<std::string_view> nearest_key(std::string_view key,
                                            std::span<const std::string_view> candidates);

}  // namespace sidecar::core
