// Containers: one run of a process tree with its own root file system, mount
// namespace and cgroup, in the pod's network, UTS and IPC namespaces and in
// the pod's or its own PID namespace.
//
// The main process is always a direct child of podsim, so that its exit
// status is exact. It joins a PID namespace whose PID 1 is a podsim-init: the
// pod's with shareProcessNamespace, else one made for this container. Its own
// mount namespace is private from the start, so no mount of a container ever
// shows on the host, and the kernel unmounts everything when the last process
// of the container ends.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>

#include "cgroup.hpp"
#include "launch.hpp"
#include "os.hpp"
#include "sandbox_impl.hpp"

namespace podsim {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr std::size_t max_exec_output = 10 * 1024;
constexpr auto start_timeout = 30s;
constexpr const char* default_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Directories that get a tmpfs when the root is read-only for want of overlayfs.
const std::vector<std::string> read_only_writable_dirs = {"/var/log", "/var/tmp", "/run"};

// File systems of the host that `image: host` does not show: kernel
// interfaces the container gets fresh, and memory-backed ones that hold state
// of running programs rather than files to run.
const std::set<std::string> skipped_file_systems = {
    "autofs",  "binfmt_misc", "bpf",       "cgroup",   "cgroup2", "configfs",   "debugfs",   "devpts",
    "devtmpfs", "efivarfs",   "fusectl",   "hugetlbfs", "mqueue", "nsfs",       "proc",      "pstore",
    "ramfs",   "rpc_pipefs",  "securityfs", "selinuxfs", "sysfs", "tmpfs",      "tracefs",
};
// Trees that the container gets its own version of.
const std::vector<std::string> skipped_mount_trees = {"/proc", "/sys", "/dev", "/run", "/tmp", "/var/run"};

bool is_dns_label(const std::string& name) {
  if (name.empty() || name.size() > 63) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return name.front() != '-' && name.back() != '-';
}

bool is_under(const std::string& path, const std::string& tree) {
  return path == tree || (path.size() > tree.size() && path.compare(0, tree.size(), tree) == 0 &&
                          (tree == "/" || path[tree.size()] == '/'));
}

// Undoes the octal escapes (\040 for a space) of /proc/self/mountinfo.
std::string unescape_mount_path(const std::string& text) {
  auto is_octal = [](char c) { return c >= '0' && c <= '7'; };
  std::string result;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 3 < text.size() && is_octal(text[i + 1]) && is_octal(text[i + 2]) &&
        is_octal(text[i + 3])) {
      result += static_cast<char>((text[i + 1] - '0') * 64 + (text[i + 2] - '0') * 8 + (text[i + 3] - '0'));
      i += 3;
      continue;
    }
    result += text[i];
  }
  return result;
}

// The host's mounts below "/" that `image: host` shows read-only in the
// container, in mount order so that a parent comes before its children.
std::vector<std::string> host_mounts_to_show(const fs::path& state_dir) {
  std::vector<std::string> mounts;
  std::istringstream lines(os::read_file("/proc/self/mountinfo").value_or(""));
  std::string line;
  while (std::getline(lines, line)) {
    // "36 35 98:0 /root /mnt rw,noatime master:1 - ext3 /dev/root rw": field 5
    // is the mount point, and the file system type follows the " - " separator.
    std::istringstream fields(line);
    std::string id, parent, device, root, mount_point;
    fields >> id >> parent >> device >> root >> mount_point;
    std::size_t separator = line.find(" - ");
    if (separator == std::string::npos) continue;
    std::istringstream tail(line.substr(separator + 3));
    std::string type;
    tail >> type;

    mount_point = unescape_mount_path(mount_point);
    if (mount_point == "/" || skipped_file_systems.count(type) > 0) continue;
    bool skipped = is_under(mount_point, state_dir.string());
    for (const auto& tree : skipped_mount_trees) skipped = skipped || is_under(mount_point, tree);
    if (!skipped) mounts.push_back(mount_point);
  }
  return mounts;
}

void check_mount_target(const std::string& target, const std::string& what) {
  bool valid = !target.empty() && target.front() == '/';
  for (const auto& part : fs::path(target)) valid = valid && part != "..";
  if (!valid) throw std::runtime_error(what + ": mount path \"" + target + "\": invalid, expected an absolute path without \"..\"");
}

// Overlayfs splits its options at commas and its lower layers at colons.
void check_overlay_path(const fs::path& path, const std::string& what) {
  if (path.string().find_first_of(",:") != std::string::npos) {
    throw std::runtime_error(what + ": path " + path.string() +
                             " contains ',' or ':', which overlayfs cannot take in a layer path");
  }
}

std::string overlay_options(const fs::path& lower, const fs::path& upper, const fs::path& work) {
  return "lowerdir=" + lower.string() + ",upperdir=" + upper.string() + ",workdir=" + work.string();
}

// PODSIM_ROOTFS picks the first way to make a root file system that is tried:
// "overlay" (the default), "memory-overlay" or "read-only". The later ones are
// fallbacks for machines without a usable overlayfs; the variable lets tests
// and users check that a pod works with them.
launch::root_layer chosen_root_layer() {
  const char* value = std::getenv("PODSIM_ROOTFS");
  std::string choice = value != nullptr ? value : "";
  if (choice.empty() || choice == "overlay") return launch::root_layer::disk_overlay;
  if (choice == "memory-overlay") return launch::root_layer::memory_overlay;
  if (choice == "read-only") return launch::root_layer::read_only;
  throw std::runtime_error("PODSIM_ROOTFS=\"" + choice + "\": invalid, expected overlay, memory-overlay or read-only");
}

const std::string* find_variable(const std::vector<std::pair<std::string, std::string>>& env, const std::string& name) {
  for (const auto& [key, value] : env) {
    if (key == name) return &value;
  }
  return nullptr;
}

}  // namespace

struct container::impl {
  impl(pod_sandbox& pod, container_options container);

  std::string what() const { return "container " + options.name + " in pod " + sandbox.name(); }
  std::vector<std::pair<std::string, std::string>> environment() const;
  int pid_namespace_fd() const;
  void prepare_root(launch::container_plan& plan);
  void start();
  // Records the exit of the main process and ends what is left of the container.
  void finish(int wait_status);
  void cleanup() noexcept;

  pod_sandbox& sandbox;
  container_options options;
  fs::path log_path;
  fs::path run_dir;

  std::mutex mutex;  // guards everything below
  bool started = false;
  std::unique_ptr<cgroup> group;
  std::unique_ptr<pid_namespace_holder> own_holder;
  pid_t main_pid = -1;
  bool reaped = false;
  std::optional<exit_info> exit;
};

container::impl::impl(pod_sandbox& pod, container_options container) : sandbox(pod), options(std::move(container)) {
  if (!is_dns_label(options.name)) {
    throw std::runtime_error("container name \"" + options.name + "\" in pod " + sandbox.name() +
                             ": invalid, expected lower-case letters, digits and '-' (a DNS label)");
  }
  if (options.argv.empty()) throw std::runtime_error(what() + ": argv is empty, expected a command");
  log_path = sandbox.state_dir() / "logs" / (options.name + ".log");
}

std::vector<std::pair<std::string, std::string>> container::impl::environment() const {
  auto env = options.env;
  // The variables a container runtime sets when the image and the pod do not.
  if (find_variable(env, "PATH") == nullptr) env.emplace_back("PATH", default_path);
  if (find_variable(env, "HOSTNAME") == nullptr) env.emplace_back("HOSTNAME", sandbox.name());
  if (find_variable(env, "HOME") == nullptr) env.emplace_back("HOME", "/root");
  return env;
}

int container::impl::pid_namespace_fd() const {
  if (own_holder) return own_holder->namespace_fd();
  return sandbox.internals().holder->namespace_fd();
}

void container::impl::prepare_root(launch::container_plan& plan) {
  const bool host_image = options.image.empty() || options.image == "host";
  fs::path lower = host_image ? fs::path("/") : fs::path(options.image);
  std::error_code error;
  if (!host_image && (!lower.is_absolute() || !fs::is_directory(lower, error))) {
    throw std::runtime_error(what() + ": image \"" + options.image +
                             "\": not a directory, expected \"host\" or the absolute path of a root file system");
  }

  const fs::path upper = run_dir / "upper";
  const fs::path work = run_dir / "work";
  const fs::path rootfs = run_dir / "rootfs";
  for (const auto& dir : {upper, work, rootfs}) os::make_directories(dir, what());
  for (const auto& path : {lower, upper, work}) check_overlay_path(path, what());

  const fs::path memory_layer = run_dir / "memory-layer";
  os::make_directories(memory_layer, what());
  plan.rootfs_dir = rootfs.string();
  plan.lower_dir = lower.string();
  plan.first_layer = chosen_root_layer();
  plan.disk_overlay_options = overlay_options(lower, upper, work);
  plan.memory_layer_dir = memory_layer.string();
  plan.memory_upper_dir = (memory_layer / "upper").string();
  plan.memory_work_dir = (memory_layer / "work").string();
  plan.memory_overlay_options = overlay_options(lower, memory_layer / "upper", memory_layer / "work");
  plan.read_only_writable_dirs = read_only_writable_dirs;
  plan.memory_layer_note = "podsim: overlayfs refused a writable layer on disk, so this container's writable "
                           "layer is in memory";
  plan.read_only_note = "podsim: the root file system is read-only for want of overlayfs; /var/log, /var/tmp, "
                        "/run and /tmp are empty and writable";

  // With the host as the lower layer, the container would see podsim's state,
  // and with it the writable layers of the other containers, so it is hidden.
  if (lower == "/") {
    plan.hidden = {"/run/podsim", sandbox.state_dir().string()};
    for (const auto& mount_point : host_mounts_to_show(sandbox.state_dir())) {
      plan.binds.push_back({.source = mount_point,
                            .target = mount_point,
                            .read_only = true,
                            .recursive = false,
                            .is_file = !fs::is_directory(mount_point, error)});
    }
  }
}

void container::impl::start() {
  const std::string context = what();
  launch::container_plan plan;

  // Files: the run directory, the root layers and the log.
  run_dir = sandbox.state_dir() / "containers" / sandbox.internals().next_run_name(options.name);
  prepare_root(plan);
  for (const auto& mount : options.mounts) {
    check_mount_target(mount.target, context);
    std::error_code error;
    auto status = fs::status(mount.source, error);
    if (error || !fs::exists(status)) {
      throw std::runtime_error(context + ": mount source " + mount.source.string() + ": not found");
    }
    plan.binds.push_back({.source = mount.source.string(),
                          .target = mount.target,
                          .read_only = mount.read_only,
                          .recursive = true,
                          .is_file = !fs::is_directory(status)});
  }
  os::unique_fd log_fd = os::open_or_throw(log_path, O_WRONLY | O_CREAT | O_APPEND, context);
  os::unique_fd dev_null = os::open_or_throw("/dev/null", O_RDWR, context);

  // Cgroup and PID namespace.
  try {
    group = std::make_unique<cgroup>(sandbox.name() + "/" + options.name);
    if (options.memory_limit) group->set_memory_limit(*options.memory_limit);
    if (options.cpu_limit) group->set_cpu_limit(*options.cpu_limit);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(context + ": " + e.what());
  }
  if (!sandbox.shares_process_namespace()) {
    own_holder = std::make_unique<pid_namespace_holder>(*sandbox.internals().holder_cgroup, run_dir,
                                                        sandbox.name() + "/" + options.name);
  }

  // The main process.
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) os::throw_errno(context + ": pipe failed", errno);
  os::unique_fd report_read(report[0]);
  os::unique_fd report_write(report[1]);

  auto env = environment();
  std::vector<std::string> env_strings;
  for (const auto& [name, value] : env) env_strings.push_back(name + "=" + value);
  plan.cgroup_procs_files = group->procs_files();
  plan.network_namespace_fd = sandbox.internals().netns_fd.get();
  plan.uts_namespace_fd = sandbox.internals().uts_fd.get();
  plan.ipc_namespace_fd = sandbox.internals().ipc_fd.get();
  plan.log_fd = log_fd.get();
  plan.dev_null_fd = dev_null.get();
  plan.report_fd = report_write.get();
  plan.exec_candidates = launch::exec_candidates(options.argv.front(), *find_variable(env, "PATH"));
  plan.argv = launch::string_array(options.argv);
  plan.envp = launch::string_array(std::move(env_strings));

  pid_t pid = os::fork_child({.join_fd = pid_namespace_fd(), .create = false},
                             [&plan] { launch::run_container_child(plan); });
  report_write.reset();
  main_pid = pid;

  auto outcome = launch::wait_for_exec(report_read.get(), start_timeout);
  if (outcome.failed || outcome.timed_out) {
    ::kill(pid, SIGKILL);
    os::wait_child_blocking(pid);
    reaped = true;
    main_pid = -1;
    if (outcome.timed_out) throw std::runtime_error(context + ": the process did not reach exec within 30s");
    throw std::runtime_error(context + ": " + launch::describe_failure(outcome.reported, &plan));
  }
}

void container::impl::finish(int wait_status) {
  reaped = true;
  auto decoded = os::decode_wait_status(wait_status);
  // As containerd does, any OOM kill in the container's cgroup makes the
  // container OOMKilled, also when the killed process was a child of the main one.
  exit = exit_info{.exit_code = decoded.exit_code,
                   .signal = decoded.signal,
                   .oom_killed = group && group->oom_kill_count() > 0};
  // A container ends with its main process, as when the PID 1 of its
  // namespace exits under Kubernetes.
  if (group) group->kill_all();
  own_holder.reset();
}

void container::impl::cleanup() noexcept {
  try {
    if (main_pid > 0 && !reaped) {
      if (group) group->kill_all();
      ::kill(main_pid, SIGKILL);
      finish(os::wait_child_blocking(main_pid));
    }
    own_holder.reset();
    group.reset();
    if (!run_dir.empty()) os::remove_tree(run_dir);
  } catch (...) {
    // A destructor must not throw; what could not be removed shows in list_leftovers().
  }
}

// container

container::container(pod_sandbox& sandbox, container_options options)
    : impl_(std::make_unique<impl>(sandbox, std::move(options))) {}

container::~container() {
  std::lock_guard lock(impl_->mutex);
  impl_->cleanup();
}

void container::start() {
  std::lock_guard lock(impl_->mutex);
  if (impl_->started) throw std::logic_error(impl_->what() + ": start() called twice, expected a new container object");
  impl_->started = true;
  try {
    impl_->start();
  } catch (...) {
    impl_->cleanup();
    throw;
  }
}

pid_t container::pid() const { return impl_->main_pid; }

std::optional<exit_info> container::poll_exit() {
  std::lock_guard lock(impl_->mutex);
  if (impl_->exit) return impl_->exit;
  if (impl_->main_pid <= 0 || impl_->reaped) return std::nullopt;
  auto status = os::wait_child(impl_->main_pid, 0ms);
  if (!status) return std::nullopt;
  impl_->finish(*status);
  return impl_->exit;
}

void container::signal(int signo) {
  std::lock_guard lock(impl_->mutex);
  // Once reaped, the PID may belong to another process.
  if (impl_->main_pid > 0 && !impl_->reaped) ::kill(impl_->main_pid, signo);
}

exit_info container::stop(std::chrono::milliseconds grace) {
  std::lock_guard lock(impl_->mutex);
  if (impl_->exit) return *impl_->exit;
  if (impl_->main_pid <= 0 || impl_->reaped) return exit_info{};

  ::kill(impl_->main_pid, SIGTERM);
  auto status = os::wait_child(impl_->main_pid, grace);
  if (!status) {
    impl_->group->kill_all();
    status = os::wait_child_blocking(impl_->main_pid);
  }
  impl_->finish(*status);
  return *impl_->exit;
}

exec_result container::exec(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  const std::string context = impl_->what();
  if (argv.empty()) return {.exit_code = -1, .timed_out = false, .output = context + ": exec: argv is empty"};

  // The namespaces are opened while the main process is known to be unreaped,
  // so its PID cannot belong to another process yet.
  os::unique_fd mount_namespace;
  os::unique_fd pid_namespace;
  launch::exec_plan plan;
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->main_pid <= 0 || impl_->reaped) {
      return {.exit_code = -1, .timed_out = false, .output = context + ": not running"};
    }
    const std::string namespaces = "/proc/" + std::to_string(impl_->main_pid) + "/ns/";
    mount_namespace.reset(::open((namespaces + "mnt").c_str(), O_RDONLY | O_CLOEXEC));
    pid_namespace.reset(::dup(impl_->pid_namespace_fd()));
    plan.cgroup_procs_files = impl_->group->procs_files();
  }
  if (!mount_namespace || !pid_namespace) {
    return {.exit_code = -1, .timed_out = false, .output = context + ": not running"};
  }

  int output[2];
  int report[2];
  if (::pipe2(output, O_CLOEXEC) != 0) os::throw_errno(context + ": pipe failed", errno);
  os::unique_fd output_read(output[0]);
  os::unique_fd output_write(output[1]);
  if (::pipe2(report, O_CLOEXEC) != 0) os::throw_errno(context + ": pipe failed", errno);
  os::unique_fd report_read(report[0]);
  os::unique_fd report_write(report[1]);
  os::unique_fd dev_null = os::open_or_throw("/dev/null", O_RDWR, context);

  auto env = impl_->environment();
  std::vector<std::string> env_strings;
  for (const auto& [name, value] : env) env_strings.push_back(name + "=" + value);
  plan.network_namespace_fd = impl_->sandbox.internals().netns_fd.get();
  plan.mount_namespace_fd = mount_namespace.get();
  plan.uts_namespace_fd = impl_->sandbox.internals().uts_fd.get();
  plan.ipc_namespace_fd = impl_->sandbox.internals().ipc_fd.get();
  plan.output_fd = output_write.get();
  plan.dev_null_fd = dev_null.get();
  plan.report_fd = report_write.get();
  plan.exec_candidates = launch::exec_candidates(argv.front(), *find_variable(env, "PATH"));
  plan.argv = launch::string_array(argv);
  plan.envp = launch::string_array(std::move(env_strings));

  const auto deadline = std::chrono::steady_clock::now() + timeout;
  pid_t pid = os::fork_child({.join_fd = pid_namespace.get(), .create = false},
                             [&plan] { launch::run_exec_child(plan); });
  output_write.reset();
  report_write.reset();

  exec_result result;
  auto outcome = launch::wait_for_exec(report_read.get(), timeout);
  if (outcome.failed) {
    os::wait_child_blocking(pid);
    bool denied = outcome.reported.failed_step == launch::step::exec && outcome.reported.error == EACCES;
    result.exit_code = denied ? 126 : 127;
    launch::container_plan names;
    names.argv = launch::string_array(argv);
    result.output = launch::describe_failure(outcome.reported, &names);
    return result;
  }

  // Output until the process exits or the deadline passes. A process that it
  // started may keep the pipe open, so the exit, not EOF, ends the reading.
  os::unique_fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  ::fcntl(output_read.get(), F_SETFL, O_NONBLOCK);
  std::array<char, 4096> buffer;
  auto read_available = [&] {
    for (;;) {
      ssize_t count = ::read(output_read.get(), buffer.data(), buffer.size());
      if (count <= 0) return count == 0;
      std::size_t room = max_exec_output - std::min(max_exec_output, result.output.size());
      result.output.append(buffer.data(), std::min(room, static_cast<std::size_t>(count)));
    }
  };
  bool output_closed = false;
  std::optional<int> status;
  while (!status) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left < 0ms) break;
    std::array<pollfd, 2> entries{pollfd{.fd = output_closed ? -1 : output_read.get(), .events = POLLIN, .revents = 0},
                                  pollfd{.fd = pidfd.get(), .events = POLLIN, .revents = 0}};
    // Without a pidfd (Linux before 5.3) the exit is checked every 10 ms.
    int wait_ms = pidfd ? static_cast<int>(left.count()) + 1 : static_cast<int>(std::min<long>(left.count() + 1, 10));
    ::poll(entries.data(), entries.size(), wait_ms);
    if (!output_closed && entries[0].revents != 0) output_closed = read_available();
    status = os::wait_child(pid, 0ms);
  }

  if (!status) {
    result.timed_out = true;
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    os::wait_child_blocking(pid);
    return result;
  }
  if (!output_closed) read_available();
  result.exit_code = os::decode_wait_status(*status).exit_code;
  return result;
}

const fs::path& container::log_path() const { return impl_->log_path; }

}  // namespace podsim
