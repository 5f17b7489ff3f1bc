#include "launch.hpp"

#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

namespace podsim::launch {
namespace {

// The capabilities that containerd and Docker give a container that is not
// privileged. Without CAP_SYS_ADMIN and the rest, a container cannot undo its
// mounts, leave its namespaces or change the host.
constexpr int kept_capabilities[] = {
    CAP_CHOWN,  CAP_DAC_OVERRIDE, CAP_FOWNER,     CAP_FSETID,     CAP_KILL,  CAP_SETGID,      CAP_SETUID,
    CAP_SETPCAP, CAP_NET_BIND_SERVICE, CAP_NET_RAW, CAP_SYS_CHROOT, CAP_MKNOD, CAP_AUDIT_WRITE, CAP_SETFCAP,
};

// Device nodes of a minimal /dev, as container runtimes create them.
struct device_node {
  const char* path;
  unsigned major_number;
  unsigned minor_number;
};
constexpr device_node devices[] = {
    {"/dev/null", 1, 3},    {"/dev/zero", 1, 5}, {"/dev/full", 1, 7},
    {"/dev/random", 1, 8},  {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0},
};
struct device_link {
  const char* target;
  const char* path;
};
constexpr device_link device_links[] = {
    {"/proc/self/fd", "/dev/fd"},     {"/proc/self/fd/0", "/dev/stdin"}, {"/proc/self/fd/1", "/dev/stdout"},
    {"/proc/self/fd/2", "/dev/stderr"}, {"pts/ptmx", "/dev/ptmx"},
};

// The child's side. Everything below runs between fork and exec and uses
// only system calls on memory prepared by the parent.

[[noreturn]] void fail(int report_fd, step failed_step, int error, int index = -1) {
  failure report{.failed_step = failed_step, .error = error, .index = index};
  (void)!::write(report_fd, &report, sizeof report);
  ::_exit(127);
}

// Dispositions set to SIG_IGN and the blocked mask survive exec, so a child
// resets both whatever the program that started podsim changed.
void reset_signals() {
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int signo = 1; signo < NSIG; ++signo) ::signal(signo, SIG_DFL);
}

// Descriptors of the parent opened without close-on-exec (an Asio socket,
// for one) must not leak into a container.
void mark_descriptors_close_on_exec() {
  if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
  for (int fd = 3; fd < 4096; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
}

void join_cgroups(const std::vector<std::string>& procs_files, int report_fd) {
  for (const auto& file : procs_files) {
    int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, "0", 1) != 1) fail(report_fd, step::join_cgroup, errno);
    ::close(fd);
  }
}

// mkdir -p on a path of at most PATH_MAX bytes.
int make_directories(const char* path) {
  char buffer[PATH_MAX];
  std::size_t length = std::strlen(path);
  if (length >= sizeof buffer) return ENAMETOOLONG;
  std::memcpy(buffer, path, length + 1);
  for (std::size_t i = 1; i <= length; ++i) {
    if (buffer[i] != '/' && buffer[i] != '\0') continue;
    char saved = buffer[i];
    buffer[i] = '\0';
    if (::mkdir(buffer, 0755) != 0 && errno != EEXIST) return errno;
    buffer[i] = saved;
  }
  return 0;
}

// Creates an empty file for a bind mount of a file, with its parents.
int make_file(const char* path) {
  char parent[PATH_MAX];
  std::size_t length = std::strlen(path);
  if (length >= sizeof parent) return ENAMETOOLONG;
  std::memcpy(parent, path, length + 1);
  char* slash = std::strrchr(parent, '/');
  if (slash != nullptr && slash != parent) {
    *slash = '\0';
    if (int error = make_directories(parent); error != 0) return error;
  }
  int fd = ::open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return errno == EISDIR ? 0 : errno;
  ::close(fd);
  return 0;
}

void format_fd_path(int fd, char (&buffer)[32]) {
  // "/proc/self/fd/" followed by the decimal digits of fd.
  const char prefix[] = "/proc/self/fd/";
  std::memcpy(buffer, prefix, sizeof prefix - 1);
  char digits[12];
  int count = 0;
  do {
    digits[count++] = static_cast<char>('0' + fd % 10);
    fd /= 10;
  } while (fd > 0);
  std::size_t at = sizeof prefix - 1;
  while (count > 0) buffer[at++] = digits[--count];
  buffer[at] = '\0';
}

void drop_capabilities(int report_fd) {
  std::uint64_t keep = 0;
  for (int capability : kept_capabilities) keep |= std::uint64_t{1} << capability;

  for (int capability = 0; capability <= 63; ++capability) {
    if ((keep & (std::uint64_t{1} << capability)) != 0) continue;
    if (::prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0 && errno != EINVAL) {
      fail(report_fd, step::capabilities, errno);
    }
  }
  ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);

  __user_cap_header_struct header{.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  __user_cap_data_struct data[2] = {};
  data[0].effective = data[0].permitted = static_cast<std::uint32_t>(keep);
  data[1].effective = data[1].permitted = static_cast<std::uint32_t>(keep >> 32);
  if (::syscall(SYS_capset, &header, data) != 0) fail(report_fd, step::capabilities, errno);
}

void redirect_stdio(int in, int out, int report_fd) {
  if (::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(out, 2) < 0) fail(report_fd, step::stdio, errno);
}

// Tries each candidate as execvp does: a missing file moves on to the next,
// and a permission error is reported when nothing else works.
[[noreturn]] void exec_first(const std::vector<std::string>& candidates, const string_array& argv,
                             const string_array& envp, int report_fd) {
  int error = ENOENT;
  for (const auto& candidate : candidates) {
    ::execve(candidate.c_str(), argv.get(), envp.get());
    if (errno == EACCES) {
      error = EACCES;
    } else if (errno != ENOENT && errno != ENOTDIR) {
      error = errno;
      break;
    }
  }
  fail(report_fd, step::exec, error);
}

void write_text(int fd, const char* text) { (void)!::write(fd, text, std::strlen(text)); }

void write_note(int log_fd, const std::string& note, int error) {
  const char* reason = ::strerrordesc_np(error);
  write_text(log_fd, note.c_str());
  write_text(log_fd, " (overlayfs: ");
  write_text(log_fd, reason != nullptr ? reason : "unknown error");
  write_text(log_fd, ")\n");
}

// Mounts the root file system on plan.rootfs_dir. Returns true when it is
// read-only because overlayfs could not be used.
bool mount_root(container_plan& plan) {
  const char* rootfs = plan.rootfs_dir.c_str();
  int error = 0;

  if (plan.first_layer == root_layer::disk_overlay) {
    if (::mount("podsim-overlay", rootfs, "overlay", 0, plan.disk_overlay_options.c_str()) == 0) return false;
    error = errno;
  }

  if (plan.first_layer != root_layer::read_only) {
    const char* layer = plan.memory_layer_dir.c_str();
    if (::mount("podsim-layer", layer, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755") != 0) {
      fail(plan.report_fd, step::mount_root, errno);
    }
    if (::mkdir(plan.memory_upper_dir.c_str(), 0755) != 0 || ::mkdir(plan.memory_work_dir.c_str(), 0755) != 0) {
      fail(plan.report_fd, step::mount_root, errno);
    }
    if (::mount("podsim-overlay", rootfs, "overlay", 0, plan.memory_overlay_options.c_str()) == 0) {
      if (error != 0) write_note(plan.log_fd, plan.memory_layer_note, error);
      return false;
    }
    error = errno;
    ::umount2(layer, MNT_DETACH);
  }

  // NOTE: without overlayfs the root is the lower directory read-only, with a
  // tmpfs on each of read_only_writable_dirs, so writes elsewhere fail with EROFS.
  if (::mount(plan.lower_dir.c_str(), rootfs, nullptr, MS_BIND, nullptr) != 0) {
    fail(plan.report_fd, step::mount_root, errno);
  }
  if (::mount(nullptr, rootfs, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) != 0) {
    fail(plan.report_fd, step::mount_root, errno);
  }
  if (error != 0) {
    write_note(plan.log_fd, plan.read_only_note, error);
  } else {
    write_text(plan.log_fd, plan.read_only_note.c_str());
    write_text(plan.log_fd, "\n");
  }
  return true;
}

void mount_devices(int report_fd) {
  const unsigned long flags = MS_NOSUID | MS_STRICTATIME;
  if (make_directories("/dev") != 0 || ::mount("podsim-dev", "/dev", "tmpfs", flags, "mode=755,size=65536k") != 0) {
    fail(report_fd, step::mount_dev, errno);
  }
  for (const auto& device : devices) {
    if (::mknod(device.path, S_IFCHR | 0666, makedev(device.major_number, device.minor_number)) != 0) {
      fail(report_fd, step::mount_dev, errno);
    }
  }
  for (const auto& link : device_links) ::symlink(link.target, link.path);

  ::mkdir("/dev/pts", 0755);
  if (::mount("podsim-devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620") !=
      0) {
    fail(report_fd, step::mount_dev, errno);
  }
  ::mkdir("/dev/shm", 01777);
  if (::mount("podsim-shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k") != 0) {
    fail(report_fd, step::mount_dev, errno);
  }
}

// Files of /proc and /sys through which root could change the host even
// without capabilities (/proc/sysrq-trigger reboots it) are made read-only,
// and those that show kernel memory or other users' keys are masked, as
// container runtimes do.
constexpr const char* read_only_kernel_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};
constexpr const char* masked_kernel_paths[] = {
    "/proc/acpi",        "/proc/kcore",     "/proc/keys",        "/proc/latency_stats", "/proc/sched_debug",
    "/proc/scsi",        "/proc/timer_list", "/proc/timer_stats", "/sys/firmware",
};

void protect_kernel_files(int report_fd) {
  for (const char* path : read_only_kernel_paths) {
    if (::access(path, F_OK) != 0) continue;
    if (::mount(path, path, nullptr, MS_BIND | MS_REC, nullptr) != 0 ||
        ::mount(nullptr, path, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) !=
            0) {
      fail(report_fd, step::protect_kernel_files, errno);
    }
  }
  for (const char* path : masked_kernel_paths) {
    struct stat info {};
    if (::stat(path, &info) != 0) continue;
    int result = S_ISDIR(info.st_mode)
                     ? ::mount("podsim-masked", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0")
                     : ::mount("/dev/null", path, nullptr, MS_BIND, nullptr);
    if (result != 0) fail(report_fd, step::protect_kernel_files, errno);
  }
}

void mount_binds(container_plan& plan) {
  for (std::size_t i = 0; i < plan.binds.size(); ++i) {
    auto& bind = plan.binds[i];
    const int index = static_cast<int>(i);
    int error = bind.is_file ? make_file(bind.target.c_str()) : make_directories(bind.target.c_str());
    if (error != 0) fail(plan.report_fd, step::mount_bind, error, index);

    char source[32];
    format_fd_path(bind.source_fd, source);
    unsigned long flags = MS_BIND | (bind.recursive ? MS_REC : 0);
    if (::mount(source, bind.target.c_str(), nullptr, flags, nullptr) != 0) {
      fail(plan.report_fd, step::mount_bind, errno, index);
    }
    if (bind.read_only &&
        ::mount(nullptr, bind.target.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) != 0) {
      fail(plan.report_fd, step::mount_bind, errno, index);
    }
  }
}

// Mounts that make up the container's view once its root is in place. The old
// root stays stacked on "/" until detach, so the bind sources opened before
// the pivot still belong to this mount namespace, as MS_BIND requires.
void mount_container_tree(container_plan& plan, bool read_only_root) {
  const int report_fd = plan.report_fd;

  if (make_directories("/proc") != 0 ||
      ::mount("podsim-proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    fail(report_fd, step::mount_proc, errno);
  }

  mount_binds(plan);

  if (make_directories("/sys") != 0 ||
      ::mount("podsim-sysfs", "/sys", "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
    fail(report_fd, step::mount_sys, errno);
  }

  mount_devices(report_fd);
  protect_kernel_files(report_fd);

  if (make_directories("/tmp") != 0 ||
      ::mount("podsim-tmp", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0) {
    fail(report_fd, step::mount_tmp, errno);
  }

  if (read_only_root) {
    for (const auto& dir : plan.read_only_writable_dirs) {
      struct stat info {};
      if (::stat(dir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) continue;
      if (::mount("podsim-writable", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=755") != 0) {
        fail(report_fd, step::mount_tmp, errno);
      }
    }
  }

  for (const auto& path : plan.hidden) {
    struct stat info {};
    if (::stat(path.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) continue;
    if (::mount("podsim-hidden", path.c_str(), "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755") !=
        0) {
      fail(report_fd, step::hide_path, errno);
    }
  }
}

}  // namespace

string_array::string_array(std::vector<std::string> strings) : strings_(std::move(strings)) {
  pointers_.clear();
  for (auto& text : strings_) pointers_.push_back(text.data());
  pointers_.push_back(nullptr);
}

void run_container_child(container_plan& plan) {
  const int report_fd = plan.report_fd;
  reset_signals();
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // The parent is outside this PID namespace, so getppid() is 0 while it lives.
  if (::getppid() != 0) ::_exit(127);
  ::setsid();
  ::umask(0);
  mark_descriptors_close_on_exec();

  // Steps on the host side: cgroups and namespaces.
  join_cgroups(plan.cgroup_procs_files, report_fd);
  if (::setns(plan.network_namespace_fd, CLONE_NEWNET) != 0) fail(report_fd, step::join_network, errno);
  if (::setns(plan.uts_namespace_fd, CLONE_NEWUTS) != 0) fail(report_fd, step::join_uts, errno);
  if (::setns(plan.ipc_namespace_fd, CLONE_NEWIPC) != 0) fail(report_fd, step::join_ipc, errno);
  if (::unshare(CLONE_NEWNS) != 0) fail(report_fd, step::unshare, errno);
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) fail(report_fd, step::private_mounts, errno);

  for (std::size_t i = 0; i < plan.binds.size(); ++i) {
    plan.binds[i].source_fd = ::open(plan.binds[i].source.c_str(), O_PATH | O_CLOEXEC);
    if (plan.binds[i].source_fd < 0) fail(report_fd, step::open_bind_source, errno, static_cast<int>(i));
  }

  // The root file system, then the pivot into it.
  const bool read_only_root = mount_root(plan);
  if (::chdir(plan.rootfs_dir.c_str()) != 0) fail(report_fd, step::pivot_root, errno);
  if (::syscall(SYS_pivot_root, ".", ".") != 0) fail(report_fd, step::pivot_root, errno);

  mount_container_tree(plan, read_only_root);

  if (::umount2(".", MNT_DETACH) != 0) fail(report_fd, step::detach_old_root, errno);
  if (::chdir("/") != 0) fail(report_fd, step::detach_old_root, errno);

  // The process itself: capabilities, stdio, exec.
  drop_capabilities(report_fd);
  ::umask(022);
  redirect_stdio(plan.dev_null_fd, plan.log_fd, report_fd);
  exec_first(plan.exec_candidates, plan.argv, plan.envp, report_fd);
}

void run_exec_child(exec_plan& plan) {
  const int report_fd = plan.report_fd;
  reset_signals();
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != 0) ::_exit(127);
  // Its own process group, so that a timeout kills what it started as well.
  ::setpgid(0, 0);
  mark_descriptors_close_on_exec();

  join_cgroups(plan.cgroup_procs_files, report_fd);
  if (::setns(plan.network_namespace_fd, CLONE_NEWNET) != 0) fail(report_fd, step::join_network, errno);
  if (::setns(plan.uts_namespace_fd, CLONE_NEWUTS) != 0) fail(report_fd, step::join_uts, errno);
  if (::setns(plan.ipc_namespace_fd, CLONE_NEWIPC) != 0) fail(report_fd, step::join_ipc, errno);
  // Joining a mount namespace also moves the root and the working directory to its root.
  if (::setns(plan.mount_namespace_fd, CLONE_NEWNS) != 0) fail(report_fd, step::join_mounts, errno);
  if (::chdir("/") != 0) fail(report_fd, step::join_mounts, errno);

  drop_capabilities(report_fd);
  redirect_stdio(plan.dev_null_fd, plan.output_fd, report_fd);
  exec_first(plan.exec_candidates, plan.argv, plan.envp, report_fd);
}

void run_holder_child(holder_plan& plan) {
  const int report_fd = plan.report_fd;
  reset_signals();
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  ::setsid();
  mark_descriptors_close_on_exec();

  join_cgroups(plan.cgroup_procs_files, report_fd);
  if (::unshare(CLONE_NEWNS) != 0) fail(report_fd, step::unshare, errno);
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) fail(report_fd, step::private_mounts, errno);

  const char* root = plan.empty_root_dir.c_str();
  if (::mount("podsim-init-root", root, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=555") !=
      0) {
    fail(report_fd, step::mount_root, errno);
  }
  if (::chdir(root) != 0) fail(report_fd, step::pivot_root, errno);
  if (::syscall(SYS_pivot_root, ".", ".") != 0) fail(report_fd, step::pivot_root, errno);
  if (::umount2(".", MNT_DETACH) != 0) fail(report_fd, step::detach_old_root, errno);
  if (::chdir("/") != 0) fail(report_fd, step::detach_old_root, errno);

  redirect_stdio(plan.dev_null_fd, plan.dev_null_fd, report_fd);
  char* const empty_environment[] = {nullptr};
  ::syscall(SYS_execveat, plan.init_fd, "", plan.argv.get(), empty_environment, AT_EMPTY_PATH);
  fail(report_fd, step::exec, errno);
}

std::string describe_failure(const failure& failed, const container_plan* plan) {
  const std::string reason = os::error_text(failed.error);
  auto bind_name = [&]() -> std::string {
    if (plan == nullptr || failed.index < 0 || static_cast<std::size_t>(failed.index) >= plan->binds.size()) return "";
    const auto& bind = plan->binds[static_cast<std::size_t>(failed.index)];
    return " " + bind.source + " on " + bind.target;
  };
  const std::string root = plan != nullptr ? " on " + plan->rootfs_dir : "";

  switch (failed.failed_step) {
    case step::join_cgroup: return "joining the cgroup failed: " + reason;
    case step::join_network: return "joining the pod's network namespace failed: " + reason;
    case step::join_mounts: return "joining the container's mount namespace failed: " + reason;
    case step::join_uts: return "joining the pod's UTS namespace failed: " + reason;
    case step::join_ipc: return "joining the pod's IPC namespace failed: " + reason;
    case step::unshare: return "creating the mount namespace failed: " + reason;
    case step::private_mounts: return "making the mounts private failed: " + reason;
    case step::open_bind_source: return "opening the bind mount source" + bind_name() + " failed: " + reason;
    case step::mount_root: return "mounting the root file system" + root + " failed: " + reason;
    case step::pivot_root: return "pivot_root into the root file system" + root + " failed: " + reason;
    case step::mount_proc: return "mounting /proc failed: " + reason;
    case step::mount_bind: return "bind mounting" + bind_name() + " failed: " + reason;
    case step::mount_sys: return "mounting /sys failed: " + reason;
    case step::mount_dev: return "setting up /dev failed: " + reason;
    case step::mount_tmp: return "mounting a tmpfs failed: " + reason;
    case step::hide_path: return "hiding podsim's state directory failed: " + reason;
    case step::protect_kernel_files: return "making /proc and /sys files read-only failed: " + reason;
    case step::detach_old_root: return "detaching the host's root failed: " + reason;
    case step::capabilities: return "dropping capabilities failed: " + reason;
    case step::stdio: return "redirecting stdin, stdout and stderr failed: " + reason;
    case step::exec: {
      std::string program = plan != nullptr && !plan->argv.strings().empty() ? plan->argv.strings().front() : "";
      return "exec \"" + program + "\" failed: " + reason;
    }
  }
  return "step " + std::to_string(static_cast<int>(failed.failed_step)) + " failed: " + reason;
}

wait_outcome wait_for_exec(int report_read_fd, std::chrono::milliseconds timeout) {
  wait_outcome outcome;
  pollfd entry{.fd = report_read_fd, .events = POLLIN, .revents = 0};
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left < std::chrono::milliseconds::zero()) {
      outcome.timed_out = true;
      return outcome;
    }
    int ready = ::poll(&entry, 1, static_cast<int>(left.count()) + 1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;

    ssize_t count = ::read(report_read_fd, &outcome.reported, sizeof outcome.reported);
    if (count < 0 && errno == EINTR) continue;
    outcome.failed = count == static_cast<ssize_t>(sizeof outcome.reported);
    return outcome;
  }
}

std::vector<std::string> exec_candidates(const std::string& program, const std::string& path_variable) {
  if (program.find('/') != std::string::npos) return {program};
  std::vector<std::string> candidates;
  std::size_t start = 0;
  for (;;) {
    std::size_t colon = path_variable.find(':', start);
    std::string dir = path_variable.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    candidates.push_back((dir.empty() ? std::string(".") : dir) + "/" + program);
    if (colon == std::string::npos) return candidates;
    start = colon + 1;
  }
}

std::filesystem::path init_binary() {
  std::error_code error;
  auto self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!error) {
    auto beside = self.parent_path() / "podsim-init";
    if (::access(beside.c_str(), X_OK) == 0) return beside;
  }
#ifdef PODSIM_INIT_BUILD_PATH
  if (::access(PODSIM_INIT_BUILD_PATH, X_OK) == 0) return PODSIM_INIT_BUILD_PATH;
#endif
  return {};
}

}  // namespace podsim::launch
