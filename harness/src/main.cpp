// podsim: runs Kubernetes manifests as pods on this machine.
//
//   podsim apply -f FILE... [--time-scale X] [--ignore-unsupported] [--file-sd PATH]
//                [--status ADDR] [--scrape-interval DURATION]
//   podsim get pods [-o wide] | get events | get services   [--status ADDR]
//   podsim describe pod NAME [--status ADDR]
//
// `apply` runs in the foreground, prints events as `kubectl get events`
// does, and on SIGINT or SIGTERM stops every pod and removes what it made.
// The other commands read the status API of a running `apply`, whose address
// is in /run/podsim/status-address unless --status names it.

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_future.hpp>

#include "podsim/cluster.hpp"
#include "sidecar/duration.hpp"
#include "sidecar/http_client.hpp"
#include "sidecar/http_server.hpp"

namespace {

namespace asio = boost::asio;

constexpr const char* status_address_file = "/run/podsim/status-address";
// The kubelet's port, then the next ones, for the status API of `apply`.
constexpr int first_status_port = 10250;
constexpr int status_port_attempts = 50;

constexpr const char* usage = R"(usage:
  podsim apply -f FILE [-f FILE...] [options]
      Runs the manifests until SIGINT or SIGTERM, printing events.
      --time-scale X          multiply every duration of the manifests and the
                              kubelet by X (0.1 runs ten times faster); default 1
      --ignore-unsupported    warn about unsupported fields instead of failing
      --file-sd PATH          keep a Prometheus file_sd targets file of the
                              pods annotated prometheus.io/scrape: "true"
      --scrape-interval D     how often the built-in scraper scrapes them
                              (real time, such as 15s or 500ms); default 15s
      --status ADDR           host:port of the status API; default the first
                              free port from 127.0.0.1:10250
  podsim get pods [-o wide]   the table of `kubectl get pods`
  podsim get events           the table of `kubectl get events`
  podsim get services         each Service port, its proxy address and endpoints
  podsim describe pod NAME    what `kubectl describe pod` shows
      --status ADDR           the status API to read; default the address in
                              /run/podsim/status-address
)";

struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct apply_arguments {
  std::vector<std::filesystem::path> files;
  double time_scale = 1.0;
  bool ignore_unsupported = false;
  std::filesystem::path file_sd;
  std::string status;
  std::chrono::milliseconds scrape_interval{15000};
};

std::string take_value(const std::vector<std::string>& args, std::size_t& i) {
  if (i + 1 >= args.size()) throw usage_error(args[i] + " needs a value");
  return args[++i];
}

apply_arguments parse_apply(const std::vector<std::string>& args) {
  apply_arguments parsed;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-f" || arg == "--filename") {
      parsed.files.emplace_back(take_value(args, i));
    } else if (arg == "--time-scale") {
      const std::string value = take_value(args, i);
      char* end = nullptr;
      parsed.time_scale = std::strtod(value.c_str(), &end);
      if (end == value.c_str() || *end != '\0' || !(parsed.time_scale > 0)) {
        throw usage_error("--time-scale \"" + value + "\" is invalid, expected a positive number such as 0.1");
      }
    } else if (arg == "--ignore-unsupported") {
      parsed.ignore_unsupported = true;
    } else if (arg == "--file-sd") {
      parsed.file_sd = take_value(args, i);
    } else if (arg == "--status") {
      parsed.status = take_value(args, i);
    } else if (arg == "--scrape-interval") {
      const std::string value = take_value(args, i);
      const auto interval = sidecar::parse_duration(value);
      if (!interval || *interval <= std::chrono::milliseconds::zero()) {
        throw usage_error("--scrape-interval \"" + value + "\" is invalid, expected a duration such as 15s");
      }
      parsed.scrape_interval = *interval;
    } else {
      throw usage_error("unknown argument \"" + arg + "\" for apply");
    }
  }
  if (parsed.files.empty()) throw usage_error("apply needs at least one -f FILE");
  return parsed;
}

// The first port from 10250 on that 127.0.0.1 lets us bind.
std::string free_status_address() {
  asio::io_context io;
  for (int port = first_status_port; port < first_status_port + status_port_attempts; ++port) {
    asio::ip::tcp::acceptor acceptor(io);
    boost::system::error_code error;
    const asio::ip::tcp::endpoint endpoint(asio::ip::make_address_v4("127.0.0.1"), static_cast<std::uint16_t>(port));
    acceptor.open(endpoint.protocol(), error);
    if (!error) acceptor.set_option(asio::socket_base::reuse_address(true), error);
    if (!error) acceptor.bind(endpoint, error);
    if (!error) return "127.0.0.1:" + std::to_string(port);
  }
  throw std::runtime_error("status API: no free port in 127.0.0.1:" + std::to_string(first_status_port) + "-" +
                           std::to_string(first_status_port + status_port_attempts - 1) + ", pass --status ADDR");
}

void write_status_address(const std::string& address) {
  std::error_code error;
  std::filesystem::create_directories(std::filesystem::path(status_address_file).parent_path(), error);
  const std::string temporary = std::string(status_address_file) + ".tmp";
  std::ofstream(temporary, std::ios::trunc) << address << "\n";
  std::filesystem::rename(temporary, status_address_file, error);
  if (error) std::cerr << "podsim: warning: writing " << status_address_file << " failed: " << error.message() << "\n";
}

// Removes the address file unless another podsim has written its own since.
void remove_status_address(const std::string& address) {
  std::ifstream in(status_address_file);
  std::string written;
  std::getline(in, written);
  std::error_code ignored;
  if (written == address) std::filesystem::remove(status_address_file, ignored);
}

// Every object of every file, as one set. Throws with the file name when a
// file cannot be read, and manifest_error when one is invalid.
podsim::manifest_set read_manifests(const apply_arguments& parsed) {
  podsim::manifest_set all;
  for (const auto& file : parsed.files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw std::runtime_error("reading " + file.string() + " failed: " + std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();

    std::vector<std::string> warnings;
    auto set = podsim::parse_manifests(text.str(), file.string(), {.ignore_unsupported = parsed.ignore_unsupported},
                                       &warnings);
    for (const auto& warning : warnings) std::cerr << "podsim: warning: " << warning << "\n";
    all.pods.insert(all.pods.end(), set.pods.begin(), set.pods.end());
    all.deployments.insert(all.deployments.end(), set.deployments.begin(), set.deployments.end());
    all.services.insert(all.services.end(), set.services.begin(), set.services.end());
    all.config_maps.insert(all.config_maps.end(), set.config_maps.begin(), set.config_maps.end());
  }
  return all;
}

std::string format_scale(double scale) {
  std::ostringstream text;
  text << scale;
  return text.str();
}

int run_apply(const std::vector<std::string>& args) {
  const apply_arguments parsed = parse_apply(args);

  // SIGINT and SIGTERM are blocked in every thread and taken with sigwait
  // below. Children of the runtime unblock them before they exec.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  bool header_printed = false;
  podsim::cluster_options options{
      .time_scale = parsed.time_scale,
      .ignore_unsupported = parsed.ignore_unsupported,
      .status_listen = parsed.status.empty() ? free_status_address() : parsed.status,
      .file_sd_path = parsed.file_sd,
      .scrape_interval = parsed.scrape_interval,
      .on_event =
          [&header_printed](const podsim::event& e) {
            std::cout << podsim::format_event_row(e, !header_printed) << std::flush;
            header_printed = true;
          },
  };

  std::cout << "podsim: time scale " << format_scale(parsed.time_scale);
  if (parsed.time_scale != 1.0) {
    std::cout << ": every duration of the manifests and of the kubelet (probes, grace periods, back-off) is "
                 "multiplied by "
              << format_scale(parsed.time_scale);
  }
  std::cout << "\n" << std::flush;

  // The manifests are checked before anything starts.
  const podsim::manifest_set manifests = read_manifests(parsed);

  podsim::cluster cluster(options);
  try {
    cluster.apply(manifests);
  } catch (const std::exception& e) {
    std::cerr << "podsim: " << e.what() << "\n";
    return 1;
  }
  std::cout << "podsim: status API at http://" << cluster.status_address() << " (podsim get pods)\n" << std::flush;

  // Only a podsim whose pods run announces itself, so that a second one that
  // fails leaves the first one's address in place.
  write_status_address(cluster.status_address());

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  std::cout << "podsim: " << strsignal(signal_number) << ", stopping every pod\n" << std::flush;
  cluster.stop();
  remove_status_address(cluster.status_address());
  std::cout << "podsim: stopped, every pod removed\n" << std::flush;
  return 0;
}

// --- Commands that read the status API ---

std::string status_address(const std::string& given) {
  if (!given.empty()) return given;
  std::ifstream in(status_address_file);
  std::string address;
  if (!std::getline(in, address) || address.empty()) {
    throw std::runtime_error(std::string("no running podsim found: ") + status_address_file +
                             " is missing; start `podsim apply` or pass --status ADDR");
  }
  return address;
}

// GET of a status API page; the body on 200, else an error with the body.
std::string fetch_page(const std::string& address, const std::string& target) {
  asio::io_context io;
  sidecar::http::client client(io.get_executor());
  const sidecar::http::client_request request{.url = "http://" + address + target, .timeout = std::chrono::seconds(5)};
  auto future = asio::co_spawn(io, client.fetch(request), asio::use_future);
  io.run();
  const auto result = future.get();
  if (!result.ok()) {
    throw std::runtime_error("status API at " + address + ": " + std::string(sidecar::http::to_string(result.error)) +
                             ": " + result.message + " (is `podsim apply` running?)");
  }
  if (result.response.status != 200) throw std::runtime_error(result.response.body);
  return result.response.body;
}

int run_query(const std::vector<std::string>& args) {
  std::string status;
  std::vector<std::string> words;
  bool wide = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--status") {
      status = take_value(args, i);
    } else if (args[i] == "-o") {
      const std::string format = take_value(args, i);
      if (format != "wide") throw usage_error("-o \"" + format + "\" is not supported, expected wide");
      wide = true;
    } else if (args[i] == "-owide" || args[i] == "--output=wide") {
      wide = true;
    } else {
      words.push_back(args[i]);
    }
  }

  std::string target;
  if (words.size() == 2 && words[0] == "get" && (words[1] == "pods" || words[1] == "pod" || words[1] == "po")) {
    target = wide ? "/pods?wide=1" : "/pods";
  } else if (words.size() == 2 && words[0] == "get" && (words[1] == "events" || words[1] == "ev")) {
    target = "/events";
  } else if (words.size() == 2 && words[0] == "get" && (words[1] == "services" || words[1] == "svc")) {
    target = "/services";
  } else if (words.size() == 3 && words[0] == "describe" && (words[1] == "pod" || words[1] == "pods")) {
    target = "/describe?pod=" + words[2];
  } else {
    std::string command;
    for (const auto& word : words) command += (command.empty() ? "" : " ") + word;
    throw usage_error("unknown command \"" + command + "\"");
  }
  std::cout << fetch_page(status_address(status), target);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
      std::cout << usage;
      return args.empty() ? 2 : 0;
    }
    if (args[0] == "apply") return run_apply({args.begin() + 1, args.end()});
    if (args[0] == "get" || args[0] == "describe") return run_query(args);
    throw usage_error("unknown command \"" + args[0] + "\"");
  } catch (const usage_error& e) {
    std::cerr << "podsim: " << e.what() << "\n" << usage;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "podsim: " << e.what() << "\n";
    return 1;
  }
}
