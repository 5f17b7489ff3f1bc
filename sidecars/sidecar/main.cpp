// The ready-made sidecar: runs the duties named in a YAML config file.

#include <malloc.h>

#include <cstdio>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sidecar/app.hpp"
#include "sidecar/config.hpp"
#include "sidecar/log.hpp"
#include "sidecar/runtime.hpp"

namespace {

constexpr std::string_view usage_text =
    "usage: sidecar --config FILE        run the duties of FILE\n"
    "       sidecar --check-config FILE  check FILE, print \"FILE: ok\" or the error, exit 0 or 1\n"
    "       sidecar --version            print the version\n"
    "       sidecar --help               print this help\n";

enum class command { run, check_config, version, help };

struct command_line {
  command action = command::help;
  std::string file;
};

[[noreturn]] void usage_error(std::string_view problem) {
  std::fprintf(stderr, "sidecar: %.*s\n%.*s", static_cast<int>(problem.size()), problem.data(),
               static_cast<int>(usage_text.size()), usage_text.data());
  std::exit(2);
}

// Reads the one option the command line may hold, as "--config FILE" or
// "--config=FILE".
command_line parse_command_line(int argc, char** argv) {
  if (argc < 2) {
    usage_error("missing option, expected one of --config, --check-config, --version or --help");
  }

  std::string_view option = argv[1];
  std::optional<std::string> value;
  int used = 2;
  if (auto equals = option.find('='); equals != std::string_view::npos) {
    value = std::string(option.substr(equals + 1));
    option = option.substr(0, equals);
  }

  command_line line;
  if (option == "--config" || option == "--check-config") {
    if (!value && argc > 2) {
      value = argv[2];
      used = 3;
    }
    if (!value || value->empty()) {
      usage_error("option " + std::string(option) + " needs a file");
    }
    line.action = option == "--config" ? command::run : command::check_config;
    line.file = *value;
  } else if (option == "--version" && !value) {
    line.action = command::version;
  } else if ((option == "--help" || option == "-h") && !value) {
    line.action = command::help;
  } else {
    usage_error("unknown option \"" + std::string(argv[1]) + "\"");
  }

  if (argc > used) {
    usage_error("unexpected argument \"" + std::string(argv[used]) + "\"");
  }
  return line;
}

int check_config(const std::string& file) {
  try {
    sidecar::core::load_config(file);
  } catch (const sidecar::core::config_error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  std::printf("%s: ok\n", file.c_str());
  return 0;
}

int run(const std::string& file) {
  // Until the config names the log level, problems go to a sink of our own,
  // in the same JSON lines as everything else on stderr.
  auto startup_logs = std::make_shared<sidecar::log_sink>();
  sidecar::logger log = startup_logs->make_logger("main");

  sidecar::core::sidecar_config config;
  try {
    config = sidecar::core::load_config(file);
  } catch (const sidecar::core::config_error& e) {
    log.error("config invalid", {{"file", file}, {"error", e.what()}});
    return 1;
  }

  try {
    sidecar::app app(sidecar::core::to_app_options(config));
    sidecar::core::runtime runtime(app, file, std::move(config));
    runtime.start();
    // Parsing the YAML file allocated and freed far more than the duties keep
    // (about 6 KiB per probe duty), and malloc keeps those free pages.
    // Handing them back to the kernel cuts the resident size of large configs.
    malloc_trim(0);
    return app.run();
  } catch (const std::exception& e) {
    log.error("sidecar failed", {{"error", e.what()}});
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  command_line line = parse_command_line(argc, argv);
  switch (line.action) {
    case command::run:
      return run(line.file);
    case command::check_config:
      return check_config(line.file);
    case command::version:
      std::printf("sidecar %s\n", SIDECAR_VERSION);
      return 0;
    case command::help:
      std::fputs(usage_text.data(), stdout);
      return 0;
  }
  return 2;
}
