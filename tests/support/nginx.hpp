#pragma once

// A real nginx (/usr/sbin/nginx) on 127.0.0.1, serving a document root in
// its own temporary directory.
//
//   support::nginx_server app({.locations = "location = /flush { return 204; }"});
//   app.write_file("status.json", R"({"value": 5})");
//   auto r = support::http_get(app.port(), "/status.json");
//
// The prefix directory contains nginx.conf, the pid file, logs/error.log,
// logs/access.log, the temp paths and the document root html/. nginx runs
// in the foreground (`daemon off`), by default as one process
// (`master_process off`), so it needs no user switch and the PID it reports
// is the one that serves. Files are served as they are on disk at each
// request (no open file cache), so write_file() takes effect at once.
//
// The constructor waits until the port accepts connections and throws
// std::runtime_error with nginx's stderr and error log when it does not.
// The destructor stops nginx by PID with SIGTERM, then SIGKILL.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "support/process.hpp"

namespace support {

struct nginx_options {
  // Directives added inside `server { }`, such as extra `location` blocks.
  std::string locations{};
  // Directives added inside `http { }`, after the defaults.
  std::string http{};
  // Runs a master and one worker process when true.
  bool master_process = false;
  // 0 picks a free port.
  std::uint16_t port = 0;
  std::chrono::milliseconds start_timeout{10000};
};

class nginx_server {
 public:
  explicit nginx_server(nginx_options options = {});
  ~nginx_server();
  nginx_server(const nginx_server&) = delete;
  nginx_server& operator=(const nginx_server&) = delete;

  std::uint16_t port() const { return port_; }
  // "http://127.0.0.1:PORT" followed by `target`.
  std::string url(std::string_view target = "/") const;
  pid_t pid() const { return process_->pid(); }
  support::process& process() { return *process_; }

  const std::filesystem::path& prefix() const { return dir_.path(); }
  // The document root that `location /` serves.
  std::filesystem::path root() const { return dir_.path() / "html"; }
  std::filesystem::path access_log() const { return dir_.path() / "logs" / "access.log"; }
  std::filesystem::path error_log() const { return dir_.path() / "logs" / "error.log"; }
  // The generated configuration, for failure messages.
  std::string config() const;

  // Writes a file below root() atomically, so that a request gets the old
  // or the new content, never a mix.
  void write_file(const std::filesystem::path& relative, std::string_view content) const;
  // The access log in the default `combined` format, one line per request,
  // after sync() and without its requests.
  std::string access_log_content() const;
  // Requests in the access log whose request line contains `text`, after
  // sync(). Every request whose response a client has read is counted.
  std::size_t count_requests(std::string_view text) const;
  // Waits until the access log has the line of every request whose response
  // was sent. nginx writes that line only after sending the response, so a
  // client can read a response before its line exists. One process serves
  // requests in turn, so once the line of a request sent now appears, the
  // earlier lines are there too. The sync requests (GET /.support-sync-N)
  // are left out of access_log_content() and count_requests().
  void sync() const;
  // Polls the access log until count_requests(text) is at least `count`,
  // for requests that the code under test makes in the background. Returns
  // false when it is still lower after `timeout`.
  bool wait_for_requests(std::string_view text, std::size_t count,
                         std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;

 private:
  std::string render_config(const nginx_options& options) const;
  std::string startup_failure(std::string_view failure) const;

  temp_dir dir_;
  std::uint16_t port_;
  std::unique_ptr<support::process> process_;
  mutable unsigned syncs_ = 0;
};

}  // namespace support
