// Pod sandboxes: the network namespace with its veth pair and addresses, the
// UTS and IPC namespaces, the pod's cgroup, its state directory and, with
// shareProcessNamespace, the PID namespace that every container of the pod joins.
//
// Links and addresses are set up by running iproute2's `ip`. It is on every
// machine that has network namespaces, and it prints what failed in words that
// go straight into our error messages. A pod needs only a handful of calls, so
// a few fork/exec pairs cost little next to writing a netlink client. The
// network namespace itself is made with unshare and a bind mount, as `ip netns
// add` does, so that claiming the pod's name is one atomic O_EXCL create whose
// failure we can report exactly.

#include "sandbox_impl.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <set>
#include <stdexcept>
#include <thread>

#include "launch.hpp"

namespace podsim {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const fs::path netns_dir = "/run/netns";
const fs::path state_root = "/run/podsim";

// Pods get one /30 each of 10.213.0.0/16: the host side is .1 and the pod .2
// of its block. Four decimal digits name the veth, so at most 10000 pods run at once.
constexpr int max_pods = 10000;
// The cgroup of the pod's PID namespace holders. They stay out of the
// containers' cgroups, where the OOM killer could choose them and so end a
// whole namespace. The underscore keeps the name apart from container names,
// which are DNS labels.
constexpr const char* holder_cgroup_name = "_init";

bool is_dns_subdomain(const std::string& name) {
  if (name.empty() || name.size() > 253) return false;
  for (char c : name) {
    bool allowed = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
    if (!allowed) return false;
  }
  auto is_alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  return is_alnum(name.front()) && is_alnum(name.back());
}

bool is_volume_name(const std::string& name) {
  return is_dns_subdomain(name) && name.find("..") == std::string::npos;
}

std::string address_of(int index, int host_part) {
  int base = index * 4;
  return "10.213." + std::to_string(base >> 8) + "." + std::to_string((base & 255) + host_part);
}

std::string veth_name_of(int index) {
  std::string digits = std::to_string(index);
  return "psim" + std::string(4 - std::min<std::size_t>(4, digits.size()), '0') + digits;
}

std::set<std::string> existing_links() {
  std::set<std::string> names;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator("/sys/class/net", error)) names.insert(entry.path().filename());
  return names;
}

bool is_empty_directory(const fs::path& path) {
  std::error_code error;
  return fs::is_directory(path, error) && fs::is_empty(path, error);
}

}  // namespace

// pid_namespace_holder

pid_namespace_holder::pid_namespace_holder(cgroup& cgroup_group, const fs::path& empty_root_dir,
                                           const std::string& label) {
  const std::string what = "PID namespace of " + label;
  const fs::path init = launch::init_binary();
  if (init.empty()) {
    throw std::runtime_error(what + ": podsim-init not found next to the running program or in the build " +
                             "directory: build the podsim-init target");
  }
  os::unique_fd init_fd = os::open_or_throw(init, O_RDONLY, what);
  os::unique_fd dev_null = os::open_or_throw("/dev/null", O_RDWR, what);
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) os::throw_errno(what + ": pipe failed", errno);
  os::unique_fd report_read(report[0]);
  os::unique_fd report_write(report[1]);

  launch::holder_plan plan;
  plan.cgroup_procs_files = cgroup_group.procs_files();
  plan.empty_root_dir = empty_root_dir.string();
  plan.init_fd = init_fd.get();
  plan.dev_null_fd = dev_null.get();
  plan.report_fd = report_write.get();
  plan.argv = launch::string_array({"podsim-init", "--name", label});

  pid_ = os::fork_child({.join_fd = -1, .create = true}, [&plan] { launch::run_holder_child(plan); });
  report_write.reset();

  auto outcome = launch::wait_for_exec(report_read.get(), 10s);
  if (outcome.failed || outcome.timed_out) {
    ::kill(pid_, SIGKILL);
    os::wait_child_blocking(pid_);
    pid_ = -1;
    if (outcome.timed_out) throw std::runtime_error(what + ": podsim-init did not start within 10s");
    throw std::runtime_error(what + ": " + launch::describe_failure(outcome.reported));
  }

  namespace_fd_ = os::open_or_throw("/proc/" + std::to_string(pid_) + "/ns/pid", O_RDONLY, what);
}

pid_namespace_holder::~pid_namespace_holder() {
  if (pid_ <= 0) return;
  // SIGKILL of a namespace's PID 1 kills every process in the namespace.
  ::kill(pid_, SIGKILL);
  os::wait_child_blocking(pid_);
}

// pod_sandbox::impl

pod_sandbox::impl::impl(sandbox_options sandbox) : options(std::move(sandbox)) {
  if (options.state_dir.empty()) options.state_dir = state_root / options.pod_name;
  netns_file = netns_dir / ("podsim-" + options.pod_name);
}

pod_sandbox::impl::~impl() { destroy(); }

void pod_sandbox::impl::create_network_namespace() {
  const std::string& pod = options.pod_name;
  os::make_directories(netns_dir, "pod " + pod);

  // The O_EXCL create is the claim on the pod's name: exactly one podsim wins it.
  int fd = ::open(netns_file.c_str(), O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
  if (fd < 0 && errno == EEXIST) {
    throw std::runtime_error("pod " + pod + " already exists on this machine (network namespace " +
                             netns_file.filename().string() + "): is another podsim running?");
  }
  if (fd < 0) os::throw_errno("pod " + pod + ": creating " + netns_file.string() + " failed", errno);
  ::close(fd);
  netns_claimed = true;

  // A short-lived child makes the namespace and bind-mounts it on the file,
  // which keeps it alive after the child exits.
  const std::string target = netns_file.string();
  pid_t child = ::fork();
  if (child < 0) os::throw_errno("pod " + pod + ": fork failed", errno);
  if (child == 0) {
    if (::unshare(CLONE_NEWNET) != 0) ::_exit(errno);
    if (::mount("/proc/self/ns/net", target.c_str(), nullptr, MS_BIND, nullptr) != 0) ::_exit(errno);
    ::_exit(0);
  }
  auto status = os::decode_wait_status(os::wait_child_blocking(child));
  if (status.exit_code != 0) {
    os::throw_errno("pod " + pod + ": creating the network namespace " + target + " failed", status.exit_code);
  }
  netns_mounted = true;
  netns_fd = os::open_or_throw(netns_file, O_RDONLY, "pod " + pod);
}

void pod_sandbox::impl::create_uts_and_ipc_namespaces() {
  const std::string& pod = options.pod_name;
  // The kubelet cuts a pod's host name to 63 characters, the limit of a DNS label.
  const std::string hostname = pod.substr(0, 63);

  // Namespaces belong to a thread, so a thread of its own makes them and
  // opens them; the descriptors outlive the thread.
  std::string failure;
  std::thread maker([&] {
    if (::unshare(CLONE_NEWUTS | CLONE_NEWIPC) != 0) {
      failure = "creating the UTS and IPC namespaces failed: " + os::error_text(errno);
    } else if (::sethostname(hostname.data(), hostname.size()) != 0) {
      failure = "setting the host name " + hostname + " failed: " + os::error_text(errno);
    } else {
      uts_fd.reset(::open("/proc/thread-self/ns/uts", O_RDONLY | O_CLOEXEC));
      ipc_fd.reset(::open("/proc/thread-self/ns/ipc", O_RDONLY | O_CLOEXEC));
      if (!uts_fd || !ipc_fd) failure = "opening the UTS and IPC namespaces failed: " + os::error_text(errno);
    }
  });
  maker.join();
  if (!failure.empty()) throw std::runtime_error("pod " + pod + ": " + failure);
}

void pod_sandbox::impl::create_veth() {
  const std::string& pod = options.pod_name;
  const std::string netns_name = netns_file.filename();
  const std::string what = "pod " + pod + ": creating the veth pair";

  // Another podsim may take an index between the listing and `ip link add`,
  // which then fails with the name taken: the next free index is tried.
  std::set<std::string> taken = existing_links();
  int index = 0;
  for (int attempt = 0;; ++attempt) {
    while (index < max_pods && taken.count(veth_name_of(index)) > 0) ++index;
    if (index >= max_pods) throw std::runtime_error(what + ": all " + std::to_string(max_pods) + " pod addresses are in use");

    std::string name = veth_name_of(index);
    auto result = os::run_ip({"link", "add", name, "type", "veth", "peer", "name", "eth0", "netns", netns_name});
    if (result.exit_code == 0) {
      veth_name = name;
      break;
    }
    if (attempt < 20 && existing_links().count(name) > 0) {
      taken.insert(name);
      continue;
    }
    throw std::runtime_error(what + ": ip link add " + name + ": " + result.output);
  }
  veth_created = true;
  host_ip = address_of(index, 1);
  pod_ip = address_of(index, 2);

  // The alias names the pod, so that a leftover link can be traced to it.
  os::run_ip_or_throw({"link", "set", veth_name, "alias", "podsim pod " + pod}, what);
  os::run_ip_or_throw({"addr", "add", host_ip + "/30", "dev", veth_name}, what);
  os::run_ip_or_throw({"link", "set", veth_name, "up"}, what);
  os::run_ip_or_throw({"-n", netns_name, "addr", "add", pod_ip + "/30", "dev", "eth0"}, what);
  os::run_ip_or_throw({"-n", netns_name, "link", "set", "eth0", "up"}, what);
  os::run_ip_or_throw({"-n", netns_name, "link", "set", "lo", "up"}, what);
}

void pod_sandbox::impl::destroy() noexcept {
  try {
    holder.reset();
    holder_cgroup.reset();
    pod_cgroup.reset();

    if (veth_created) os::run_ip({"link", "del", veth_name});
    veth_created = false;

    netns_fd.reset();
    uts_fd.reset();
    ipc_fd.reset();
    if (netns_mounted) ::umount2(netns_file.c_str(), MNT_DETACH);
    netns_mounted = false;
    if (netns_claimed) ::unlink(netns_file.c_str());
    netns_claimed = false;

    if (state_dir_created && state_dir_existed) {
      std::error_code error;
      for (const auto& entry : fs::directory_iterator(options.state_dir, error)) os::remove_tree(entry.path());
    } else if (state_dir_created) {
      os::remove_tree(options.state_dir);
      ::rmdir(state_root.c_str());
    }
    state_dir_created = false;
    cgroup::remove_top_if_empty();
  } catch (...) {
    // A destructor must not throw; what could not be removed shows in list_leftovers().
  }
}

std::string pod_sandbox::impl::next_run_name(const std::string& container_name) {
  std::lock_guard lock(mutex);
  return container_name + "." + std::to_string(++run_counter);
}

// pod_sandbox

pod_sandbox::pod_sandbox(sandbox_options options) {
  if (!is_dns_subdomain(options.pod_name)) {
    throw std::runtime_error("pod name \"" + options.pod_name +
                             "\": invalid, expected lower-case letters, digits, '-' and '.' (a DNS subdomain)");
  }
  impl_ = std::make_unique<impl>(std::move(options));
  impl& self = *impl_;
  const std::string& pod = self.options.pod_name;

  // Claiming the name comes first: when it fails, nothing has been made and
  // nothing of the running pod is touched.
  self.create_network_namespace();

  // State directory.
  const fs::path& state_dir = self.options.state_dir;
  std::error_code error;
  if (fs::exists(state_dir, error) && !is_empty_directory(state_dir)) {
    throw std::runtime_error("pod " + pod + ": state directory " + state_dir.string() +
                             " is not empty: remove it if no podsim uses it");
  }
  self.state_dir_existed = fs::exists(state_dir, error);
  os::make_directories(state_dir / "logs", "pod " + pod);
  os::make_directories(state_dir / "volumes", "pod " + pod);
  os::make_directories(state_dir / "containers", "pod " + pod);
  self.state_dir_created = true;

  // Cgroup. A leftover of a podsim that crashed is removed when nothing runs in it.
  if (!cgroup::remove_stale(pod)) {
    throw std::runtime_error("pod " + pod + ": cgroup /" + std::string(cgroup_top) + "/" + pod +
                             " still has processes: is another podsim running?");
  }
  self.pod_cgroup = std::make_unique<cgroup>(pod);

  self.create_uts_and_ipc_namespaces();
  self.create_veth();

  self.holder_cgroup = std::make_unique<cgroup>(pod + "/" + holder_cgroup_name);
  if (self.options.share_process_namespace) {
    self.holder = std::make_unique<pid_namespace_holder>(*self.holder_cgroup, state_dir, pod);
  }
}

pod_sandbox::~pod_sandbox() = default;

const std::string& pod_sandbox::name() const { return impl_->options.pod_name; }

const std::string& pod_sandbox::ip() const { return impl_->pod_ip; }

fs::path pod_sandbox::netns_path() const { return impl_->netns_file; }

bool pod_sandbox::shares_process_namespace() const { return impl_->options.share_process_namespace; }

fs::path pod_sandbox::volume_dir(const std::string& volume) {
  if (!is_volume_name(volume)) {
    throw std::runtime_error("pod " + name() + ": volume name \"" + volume +
                             "\": invalid, expected lower-case letters, digits, '-' and '.'");
  }
  std::lock_guard lock(impl_->mutex);
  fs::path dir = impl_->options.state_dir / "volumes" / volume;
  if (::mkdir(dir.c_str(), 0777) == 0) {
    // An emptyDir is writable by every user of the pod, as the kubelet makes it.
    ::chmod(dir.c_str(), 0777);
  } else if (errno != EEXIST) {
    os::throw_errno("pod " + name() + ": creating volume directory " + dir.string() + " failed", errno);
  }
  return dir;
}

const fs::path& pod_sandbox::state_dir() const { return impl_->options.state_dir; }

}  // namespace podsim
