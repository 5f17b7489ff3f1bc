#include "support/nginx.hpp"

#include <signal.h>

#include <sstream>
#include <stdexcept>

#include "support/http_get.hpp"

namespace support {
namespace {

using namespace std::chrono_literals;

constexpr const char* nginx_binary = "/usr/sbin/nginx";
// The target prefix of the requests that sync() sends. nginx returns 204 for
// them and logs them like any other request.
constexpr std::string_view sync_prefix = "/.support-sync-";

}  // namespace

nginx_server::nginx_server(nginx_options options)
    : dir_("sidecar-nginx"), port_(options.port != 0 ? options.port : free_port()) {
  // Lay out the prefix directory.
  for (const char* sub : {"logs", "html", "temp"}) std::filesystem::create_directories(dir_.path() / sub);
  dir_.write_file("nginx.conf", render_config(options));

  // Start nginx and wait until it accepts connections or exits.
  process_ = std::make_unique<support::process>(std::vector<std::string>{
      nginx_binary, "-p", dir_.path().string() + "/", "-c", (dir_.path() / "nginx.conf").string()});
  bool up = wait_until([this] { return !process_->running() || wait_for_port(port_, 0ms); }, options.start_timeout);
  if (!process_->running()) {
    throw std::runtime_error(startup_failure("exited with status " + std::to_string(*process_->exit_status())));
  }
  if (!up) {
    throw std::runtime_error(startup_failure("did not accept connections within " +
                                             std::to_string(options.start_timeout.count()) + "ms"));
  }
}

nginx_server::~nginx_server() {
  // SIGTERM is nginx's fast shutdown; SIGQUIT would wait for open connections.
  if (process_) process_->stop(SIGTERM, 5s);
}

std::string nginx_server::url(std::string_view target) const {
  return "http://127.0.0.1:" + std::to_string(port_) + std::string(target);
}

std::string nginx_server::config() const { return read_file(dir_.path() / "nginx.conf"); }

void nginx_server::write_file(const std::filesystem::path& relative, std::string_view content) const {
  write_file_atomically(root() / relative, content);
}

void nginx_server::sync() const {
  const std::string target = std::string(sync_prefix) + std::to_string(++syncs_);
  if (!http_get(port_, target, 5s).ok()) return;  // nginx is gone: the log is final
  wait_until([&] { return read_file(access_log()).find(" " + target + " ") != std::string::npos; }, 5s, 1ms);
}

std::string nginx_server::access_log_content() const {
  sync();
  std::istringstream lines(read_file(access_log()));
  std::string content;
  for (std::string line; std::getline(lines, line);) {
    if (line.find(sync_prefix) == std::string::npos) content += line + "\n";
  }
  return content;
}

std::size_t nginx_server::count_requests(std::string_view text) const {
  std::istringstream lines(access_log_content());
  std::size_t count = 0;
  for (std::string line; std::getline(lines, line);) {
    // In the combined format the request line is the first quoted field.
    std::size_t open = line.find('"');
    std::size_t close = open == std::string::npos ? open : line.find('"', open + 1);
    if (close == std::string::npos) continue;
    if (std::string_view(line).substr(open + 1, close - open - 1).find(text) != std::string_view::npos) ++count;
  }
  return count;
}

bool nginx_server::wait_for_requests(std::string_view text, std::size_t count,
                                     std::chrono::milliseconds timeout) const {
  return wait_until([&] { return count_requests(text) >= count; }, timeout);
}

std::string nginx_server::render_config(const nginx_options& options) const {
  const std::string prefix = dir_.path().string();
  std::ostringstream conf;
  conf << "daemon off;\n"
       << "master_process " << (options.master_process ? "on" : "off") << ";\n";
  // Workers switch to `nobody` by default, who cannot read a mkdtemp
  // directory (mode 0700); a single process never switches.
  if (options.master_process) conf << "user root;\n";
  conf << "worker_processes 1;\n"
       << "pid " << prefix << "/nginx.pid;\n"
       << "error_log " << prefix << "/logs/error.log warn;\n"
       << "events { worker_connections 1024; }\n"
       << "http {\n"
       << "  types {\n"
       << "    application/json json;\n"
       << "    text/html html;\n"
       << "    text/plain txt;\n"
       << "  }\n"
       << "  default_type application/octet-stream;\n"
       << "  access_log " << prefix << "/logs/access.log;\n"
       << "  client_body_temp_path " << prefix << "/temp/client_body;\n"
       << "  proxy_temp_path " << prefix << "/temp/proxy;\n"
       << "  fastcgi_temp_path " << prefix << "/temp/fastcgi;\n"
       << "  uwsgi_temp_path " << prefix << "/temp/uwsgi;\n"
       << "  scgi_temp_path " << prefix << "/temp/scgi;\n"
       << options.http << "\n"
       << "  server {\n"
       << "    listen 127.0.0.1:" << port_ << ";\n"
       << "    server_name localhost;\n"
       << "    root " << prefix << "/html;\n"
       << "    location ^~ " << sync_prefix << " { return 204; }\n"
       << options.locations << "\n"
       << "  }\n"
       << "}\n";
  return conf.str();
}

std::string nginx_server::startup_failure(std::string_view failure) const {
  return "nginx on 127.0.0.1:" + std::to_string(port_) + " " + std::string(failure) + "\nstderr:\n" +
         last_lines(process_->stderr_content(), 20) + "\nerror log:\n" + last_lines(read_file(error_log()), 20) +
         "\nconfig:\n" + config();
}

}  // namespace support
