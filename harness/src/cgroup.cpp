#include "cgroup.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "os.hpp"

namespace podsim {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Magic numbers of statfs(2) for the two cgroup file systems (linux/magic.h).
constexpr long cgroup_v1_magic = 0x27e0eb;
constexpr long cgroup_v2_magic = 0x63677270;

// The controllers podsim uses: memory and cpu for limits, pids to list and
// kill the processes of a container.
constexpr const char* wanted_controllers[] = {"memory", "cpu", "pids"};

// The kubelet's CFS period, 100 ms.
constexpr std::uint64_t cfs_period_us = 100000;
// The kernel rejects quotas below 1 ms.
constexpr std::uint64_t min_cfs_quota_us = 1000;

long file_system_magic(const fs::path& path) {
  struct statfs info {};
  if (::statfs(path.c_str(), &info) != 0) return 0;
  return static_cast<long>(info.f_type);
}

cgroup_layout detect_layout() {
  cgroup_layout layout;
  const fs::path base = "/sys/fs/cgroup";

  if (file_system_magic(base) == cgroup_v2_magic) {
    layout.unified = true;
    layout.hierarchies.push_back({.controller = "", .root = base});
    return layout;
  }
  for (const char* controller : wanted_controllers) {
    fs::path root = base / controller;
    if (file_system_magic(root) == cgroup_v1_magic) layout.hierarchies.push_back({.controller = controller, .root = root});
  }
  if (!layout.hierarchies.empty()) return layout;

  // A hybrid machine whose controllers are all bound to the v2 hierarchy.
  fs::path unified = base / "unified";
  std::string controllers = os::read_file(unified / "cgroup.controllers").value_or("");
  if (file_system_magic(unified) == cgroup_v2_magic && controllers.find("memory") != std::string::npos) {
    layout.unified = true;
    layout.hierarchies.push_back({.controller = "", .root = unified});
  }
  return layout;
}

// The value of `key` in a "key value" per line file such as memory.events.
std::uint64_t read_counter(const fs::path& file, const std::string& key) {
  std::istringstream lines(os::read_file(file).value_or(""));
  std::string name;
  std::uint64_t value = 0;
  while (lines >> name >> value) {
    if (name == key) return value;
  }
  return 0;
}

std::vector<pid_t> read_pids(const fs::path& procs_file) {
  std::istringstream text(os::read_file(procs_file).value_or(""));
  std::vector<pid_t> pids;
  pid_t pid = 0;
  while (text >> pid) pids.push_back(pid);
  return pids;
}

// The directory and every directory below it, children before their parents.
std::vector<fs::path> tree_bottom_up(const fs::path& top) {
  std::vector<fs::path> result = os::directories_below(top);
  std::reverse(result.begin(), result.end());
  std::error_code error;
  if (fs::is_directory(top, error)) result.push_back(top);
  return result;
}

std::vector<pid_t> processes_below(const fs::path& top) {
  std::vector<pid_t> pids;
  for (const auto& dir : tree_bottom_up(top)) {
    auto found = read_pids(dir / "cgroup.procs");
    pids.insert(pids.end(), found.begin(), found.end());
  }
  std::sort(pids.begin(), pids.end());
  pids.erase(std::unique(pids.begin(), pids.end()), pids.end());
  return pids;
}

// Removes the directories of a cgroup tree, deepest first. Tasks that were
// just killed leave their cgroup a moment after they die, so EBUSY is retried.
std::vector<std::string> remove_tree_of(const fs::path& top) {
  std::vector<std::string> errors;
  for (const auto& dir : tree_bottom_up(top)) {
    int error = 0;
    const auto deadline = std::chrono::steady_clock::now() + 2s;
    while (::rmdir(dir.c_str()) != 0) {
      error = errno;
      if (error != EBUSY || std::chrono::steady_clock::now() > deadline) break;
      std::this_thread::sleep_for(5ms);
    }
    if (error != 0 && error != ENOENT && ::access(dir.c_str(), F_OK) == 0) {
      errors.push_back("removing cgroup " + dir.string() + " failed: " + os::error_text(error));
    }
  }
  return errors;
}

// On cgroup v2 a controller works in a cgroup only when every ancestor
// enables it in cgroup.subtree_control.
void enable_controllers(const fs::path& root, const fs::path& relative_parent) {
  std::string available = os::read_file(root / "cgroup.controllers").value_or("");
  fs::path dir = root;
  std::vector<fs::path> chain{dir};
  for (const auto& part : relative_parent) {
    dir /= part;
    chain.push_back(dir);
  }
  for (const auto& ancestor : chain) {
    std::string enabled = os::read_file(ancestor / "cgroup.subtree_control").value_or("");
    for (const char* controller : wanted_controllers) {
      if (available.find(controller) == std::string::npos) continue;
      if (enabled.find(controller) != std::string::npos) continue;
      os::write_file(ancestor / "cgroup.subtree_control", std::string("+") + controller);
    }
  }
}

const cgroup_hierarchy* find_hierarchy(const std::string& controller) {
  for (const auto& hierarchy : cgroup_layout::machine().hierarchies) {
    if (hierarchy.controller == controller || hierarchy.controller.empty()) return &hierarchy;
  }
  return nullptr;
}

}  // namespace

const cgroup_layout& cgroup_layout::machine() {
  static const cgroup_layout layout = detect_layout();
  return layout;
}

cgroup::cgroup(std::string relative) : path_((fs::path("/") / cgroup_top / relative).string()) {
  const auto& layout = cgroup_layout::machine();
  if (layout.hierarchies.empty()) {
    throw std::runtime_error("cgroup " + path_ +
                             ": no cgroup hierarchy found under /sys/fs/cgroup, expected cgroup v1 memory, cpu "
                             "and pids hierarchies or cgroup v2");
  }

  const fs::path relative_path = fs::path(cgroup_top) / relative;
  for (const auto& hierarchy : layout.hierarchies) {
    fs::path dir = hierarchy.root / relative_path;
    if (layout.unified) enable_controllers(hierarchy.root, relative_path.parent_path());

    // Another podsim may remove an empty podsim/ parent between our mkdir of
    // the parent and of the child, so a missing parent is created again.
    int error = 0;
    for (int attempt = 0; attempt < 3; ++attempt) {
      std::error_code ignored;
      fs::create_directories(dir.parent_path(), ignored);
      if (layout.unified) enable_controllers(hierarchy.root, relative_path.parent_path());
      error = ::mkdir(dir.c_str(), 0755) == 0 ? 0 : errno;
      if (error != ENOENT) break;
    }
    if (error == EEXIST) {
      remove();
      throw std::runtime_error("cgroup " + path_ + ": exists already in " + hierarchy.root.string());
    }
    if (error != 0) {
      remove();
      os::throw_errno("cgroup " + path_ + ": creating " + dir.string() + " failed", error);
    }
    directories_.push_back(dir);
    procs_files_.push_back((dir / "cgroup.procs").string());
  }
}

cgroup::~cgroup() {
  if (removed_) return;
  kill_all();
  remove();
}

void cgroup::set_memory_limit(std::uint64_t bytes) {
  const auto* hierarchy = find_hierarchy("memory");
  if (hierarchy == nullptr) {
    throw std::runtime_error("cgroup " + path_ + ": memory limit " + std::to_string(bytes) +
                             " requested, but no memory cgroup controller is mounted");
  }
  const fs::path dir = hierarchy->root / fs::path(path_).relative_path();
  const std::string value = std::to_string(bytes);

  auto write = [&](const std::string& file, const std::string& text) {
    int error = os::write_file(dir / file, text);
    if (error != 0) os::throw_errno("cgroup " + path_ + ": writing " + text + " to " + file + " failed", error);
  };
  // Swap would let a container exceed its limit, so it gets none, as with the
  // kubelet when swap is off.
  if (cgroup_layout::machine().unified) {
    write("memory.max", value);
    if (fs::exists(dir / "memory.swap.max")) write("memory.swap.max", "0");
  } else {
    write("memory.limit_in_bytes", value);
    if (fs::exists(dir / "memory.memsw.limit_in_bytes")) write("memory.memsw.limit_in_bytes", value);
  }
}

void cgroup::set_cpu_limit(std::uint32_t millicores) {
  const auto* hierarchy = find_hierarchy("cpu");
  if (hierarchy == nullptr) {
    throw std::runtime_error("cgroup " + path_ + ": cpu limit " + std::to_string(millicores) +
                             "m requested, but no cpu cgroup controller is mounted");
  }
  const fs::path dir = hierarchy->root / fs::path(path_).relative_path();
  // The kubelet's formula: quota = millicores * period / 1000.
  const std::uint64_t quota = std::max<std::uint64_t>(min_cfs_quota_us, std::uint64_t{millicores} * cfs_period_us / 1000);

  auto write = [&](const std::string& file, const std::string& text) {
    int error = os::write_file(dir / file, text);
    if (error != 0) os::throw_errno("cgroup " + path_ + ": writing " + text + " to " + file + " failed", error);
  };
  if (cgroup_layout::machine().unified) {
    write("cpu.max", std::to_string(quota) + " " + std::to_string(cfs_period_us));
  } else {
    write("cpu.cfs_period_us", std::to_string(cfs_period_us));
    write("cpu.cfs_quota_us", std::to_string(quota));
  }
}

std::vector<pid_t> cgroup::processes() const {
  std::vector<pid_t> pids;
  for (const auto& dir : directories_) {
    auto found = processes_below(dir);
    pids.insert(pids.end(), found.begin(), found.end());
  }
  std::sort(pids.begin(), pids.end());
  pids.erase(std::unique(pids.begin(), pids.end()), pids.end());
  return pids;
}

bool cgroup::kill_all() {
  // cgroup v2 since Linux 5.14 kills a whole tree in one write; the loop below
  // then only confirms that it is empty.
  if (cgroup_layout::machine().unified && !directories_.empty()) {
    os::write_file(directories_.front() / "cgroup.kill", "1");
  }

  // A process may fork while it is being killed, so the loop repeats until a
  // pass finds nothing left.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  for (;;) {
    auto pids = processes();
    if (pids.empty()) return true;
    if (std::chrono::steady_clock::now() > deadline) return false;
    for (pid_t pid : pids) ::kill(pid, SIGKILL);
    std::this_thread::sleep_for(2ms);
  }
}

std::uint64_t cgroup::oom_kill_count() const {
  const auto* hierarchy = find_hierarchy("memory");
  if (hierarchy == nullptr) return 0;
  const fs::path dir = hierarchy->root / fs::path(path_).relative_path();
  if (cgroup_layout::machine().unified) return read_counter(dir / "memory.events", "oom_kill");
  return read_counter(dir / "memory.oom_control", "oom_kill");
}

std::vector<std::string> cgroup::remove() {
  removed_ = true;
  std::vector<std::string> errors;
  for (const auto& dir : directories_) {
    auto found = remove_tree_of(dir);
    errors.insert(errors.end(), found.begin(), found.end());
  }
  return errors;
}

bool cgroup::remove_stale(const std::string& relative) {
  const fs::path relative_path = fs::path(cgroup_top) / relative;
  for (const auto& hierarchy : cgroup_layout::machine().hierarchies) {
    if (!processes_below(hierarchy.root / relative_path).empty()) return false;
  }
  bool removed = true;
  for (const auto& hierarchy : cgroup_layout::machine().hierarchies) {
    removed = remove_tree_of(hierarchy.root / relative_path).empty() && removed;
  }
  return removed;
}

void cgroup::remove_top_if_empty() {
  for (const auto& hierarchy : cgroup_layout::machine().hierarchies) {
    ::rmdir((hierarchy.root / cgroup_top).c_str());
  }
}

}  // namespace podsim
