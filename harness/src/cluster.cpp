#include "podsim/cluster.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <future>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>

#include "control_plane.hpp"

namespace podsim {
namespace {

namespace asio = boost::asio;

// Enough threads for the blocking runtime calls of a few dozen containers:
// starts, exec probes (each up to its timeout) and SIGKILLs.
constexpr std::size_t pool_threads = 16;

// How long stop() waits for the io thread to finish its last handlers once
// every pod is gone, before it stops the io_context outright.
constexpr std::chrono::seconds drain_limit{10};

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("reading " + path.string() + " failed: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// "app=web,tier=1" as a map.
std::map<std::string, std::string> parse_selector(const std::string& selector) {
  std::map<std::string, std::string> labels;
  std::size_t start = 0;
  while (start < selector.size()) {
    std::size_t end = selector.find(',', start);
    if (end == std::string::npos) end = selector.size();
    const std::string term = selector.substr(start, end - start);
    const std::size_t equals = term.find('=');
    if (equals == std::string::npos) {
      throw std::invalid_argument("selector \"" + selector + "\": term \"" + term + "\" has no '=', expected key=value");
    }
    labels[term.substr(0, equals)] = term.substr(equals + 1);
    start = end + 1;
  }
  return labels;
}

}  // namespace

struct cluster::impl {
  explicit impl(cluster_options o) : options(std::move(o)), work(io.get_executor()), pool(pool_threads) {}

  // Runs `f` on the io thread and returns its result, or runs it here when
  // that thread is this one or has ended.
  template <typename F>
  auto call(F f) const -> decltype(f()) {
    if (!thread.joinable() || io.get_executor().running_in_this_thread()) return f();
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    asio::post(io, [&task] { task(); });
    return result.get();
  }

  cluster_options options;
  mutable asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  asio::thread_pool pool;
  std::unique_ptr<detail::control_plane> plane;
  std::thread thread;
  std::mutex stop_mutex;
  bool stop_done = false;
};

cluster::cluster(cluster_options options) : impl_(std::make_unique<impl>(std::move(options))) {
  if (!(impl_->options.time_scale > 0)) {
    throw std::invalid_argument("cluster: time_scale " + std::to_string(impl_->options.time_scale) +
                                ", expected a positive factor");
  }
  if (impl_->options.scrape_interval <= std::chrono::milliseconds::zero()) {
    throw std::invalid_argument("cluster: scrape_interval must be positive");
  }
  impl_->plane = std::make_unique<detail::control_plane>(impl_->io, impl_->pool, impl_->options);
  // Binds before the thread starts, so that a busy address fails here.
  impl_->plane->start_status_api();
  asio::co_spawn(impl_->io, impl_->plane->run_scraper(), asio::detached);
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

cluster::~cluster() { stop(); }

void cluster::apply(const manifest_set& set) {
  auto& plane = *impl_->plane;
  if (!impl_->thread.joinable()) throw std::runtime_error("cluster: stopped, no new objects are accepted");
  auto prepared = impl_->call([&] { return plane.prepare(set); });

  // Sandboxes are made here, off the io thread, so that a failure (a pod of
  // the same name in another podsim) reaches the caller before anything runs.
  std::vector<std::shared_ptr<pod_sandbox>> sandboxes;
  for (const auto& pod : prepared.pods) {
    try {
      sandboxes.push_back(std::make_shared<pod_sandbox>(sandbox_options{
          .pod_name = pod.meta.name,
          .share_process_namespace = pod.spec.share_process_namespace,
          .state_dir = impl_->options.state_root.empty() ? std::filesystem::path() : impl_->options.state_root / pod.meta.name,
      }));
    } catch (const std::exception& e) {
      sandboxes.clear();
      impl_->call([&] { plane.abandon(prepared); });
      // The runtime's messages mostly name the pod already.
      const std::string subject = "pod " + pod.meta.name;
      const std::string message = e.what();
      throw std::runtime_error(message.starts_with(subject) ? message : subject + ": " + message);
    }
  }
  impl_->call([&] { plane.commit(std::move(prepared), std::move(sandboxes)); });
}

std::vector<std::string> cluster::apply_files(const std::vector<std::filesystem::path>& files) {
  manifest_set all;
  std::vector<std::string> warnings;
  for (const auto& file : files) {
    auto set = parse_manifests(read_text(file), file.string(), {.ignore_unsupported = impl_->options.ignore_unsupported},
                               &warnings);
    const auto append = [](auto& to, auto& from) { to.insert(to.end(), from.begin(), from.end()); };
    append(all.pods, set.pods);
    append(all.deployments, set.deployments);
    append(all.services, set.services);
    append(all.config_maps, set.config_maps);
  }
  apply(all);
  return warnings;
}

std::vector<pod_status> cluster::pods() const {
  return impl_->call([&] { return impl_->plane->pod_views(); });
}

std::optional<pod_status> cluster::pod(const std::string& name) const {
  return impl_->call([&]() -> std::optional<pod_status> {
    const auto& pods = impl_->plane->pods();
    const auto found = pods.find(name);
    if (found == pods.end()) return std::nullopt;
    return impl_->plane->view(*found->second);
  });
}

std::vector<pod_status> cluster::pods_matching(const std::string& selector) const {
  const auto labels = parse_selector(selector);
  std::vector<pod_status> matching;
  for (auto& pod : pods()) {
    const bool match = std::all_of(labels.begin(), labels.end(), [&](const auto& entry) {
      const auto label = pod.labels.find(entry.first);
      return label != pod.labels.end() && label->second == entry.second;
    });
    if (match) matching.push_back(std::move(pod));
  }
  return matching;
}

int cluster::ready_pods(const std::string& selector) const {
  const auto pods = pods_matching(selector);
  return static_cast<int>(std::count_if(pods.begin(), pods.end(), [](const pod_status& p) { return p.ready; }));
}

std::vector<event> cluster::events() const {
  return impl_->call([&] {
    const auto& events = impl_->plane->events();
    return std::vector<event>(events.begin(), events.end());
  });
}

std::vector<event> cluster::events_for(const std::string& object) const {
  std::vector<event> matching;
  for (auto& e : events()) {
    if (e.object == object) matching.push_back(std::move(e));
  }
  return matching;
}

std::vector<service_status> cluster::services() const {
  return impl_->call([&] { return impl_->plane->service_views(); });
}

std::optional<std::uint16_t> cluster::service_host_port(const std::string& service, int port) const {
  for (const auto& s : services()) {
    if (s.name != service) continue;
    for (const auto& p : s.ports) {
      if (p.port == port) return p.host_port;
    }
  }
  return std::nullopt;
}

std::vector<scrape_result> cluster::scrapes() const {
  return impl_->call([&] { return impl_->plane->scrape_views(); });
}

bool cluster::wait_for(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                       std::chrono::milliseconds poll) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(poll);
  }
}

bool cluster::delete_pod(const std::string& name) {
  return impl_->call([&] { return impl_->plane->delete_pod(name); });
}

exec_result cluster::exec(const std::string& pod, const std::string& container, const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout) {
  if (!impl_->thread.joinable()) throw std::runtime_error("cluster: stopped, nothing runs");
  auto result = asio::co_spawn(impl_->io, impl_->plane->exec(pod, container, argv, timeout), asio::use_future);
  return result.get();
}

std::string cluster::status_address() const { return impl_->plane->status_address(); }

const cluster_options& cluster::options() const { return impl_->options; }

void cluster::stop() {
  std::lock_guard lock(impl_->stop_mutex);
  if (impl_->stop_done) return;
  impl_->stop_done = true;
  auto& plane = *impl_->plane;

  impl_->call([&] { plane.begin_stop(); });
  while (!impl_->call([&] { return plane.stopped(); })) std::this_thread::sleep_for(std::chrono::milliseconds(20));

  // Every pod is gone; what remains are handlers finishing (closed proxies,
  // the scraper's last wait), so the io_context runs out of work soon.
  impl_->work.reset();
  const auto deadline = std::chrono::steady_clock::now() + drain_limit;
  while (!impl_->io.stopped() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  impl_->io.stop();
  impl_->thread.join();
  impl_->pool.join();
}

}  // namespace podsim
