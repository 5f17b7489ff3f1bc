#pragma once

// The sidecar binary run as a child process with a config written by the
// test, listening on a free port of 127.0.0.1.

#include <catch2/catch.hpp>

#include <csignal>
#include <memory>
#include <string>

#include "support/http_get.hpp"
#include "support/process.hpp"

namespace support {

class sidecar_process {
 public:
  // `config` is the YAML after the `listen` line, which the fixture writes.
  explicit sidecar_process(const std::string& config) : port_(free_port()) {
    write_config(config);
    process_ = std::make_unique<process>(
        std::vector<std::string>{std::string(SIDECAR_BIN_DIR) + "/sidecar", "--config", config_path()});
    if (!wait_for_port(port_, std::chrono::seconds(10))) {
      FAIL("sidecar did not listen on port " << port_ << "; stderr:\n" << last_lines(logs(), 20));
    }
  }

  ~sidecar_process() {
    if (process_->running()) process_->stop(SIGKILL, std::chrono::seconds(5));
  }

  void write_config(const std::string& config) const {
    dir_.write_file("sidecar.yaml", "listen: 127.0.0.1:" + std::to_string(port_) + "\n" + config);
  }
  std::string config_path() const { return (dir_.path() / "sidecar.yaml").string(); }

  http_result get(std::string_view target, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const {
    return http_get(port_, target, timeout);
  }
  http_result post(std::string_view target) const { return http_request(port_, "POST", target); }

  std::uint16_t port() const { return port_; }
  support::process& proc() { return *process_; }
  std::string logs() const { return process_->stderr_content(); }
  const temp_dir& dir() const { return dir_; }

 private:
  temp_dir dir_;
  std::uint16_t port_;
  std::unique_ptr<process> process_;
};

}  // namespace support
