// list_leftovers(): what podsim made that still exists on the machine. Every
// kernel object podsim makes carries its prefix, so each kind is found by name.
// The entries look like this, with where they come from:
//
//   network namespace podsim-web-0               /run/netns/podsim-*
//   veth psim0001 (podsim pod web-0)             /sys/class/net/psim*, with the alias
//   cgroup memory:/podsim/web-0/app              podsim/ in each cgroup hierarchy
//   mount /run/podsim/web-0/x (tmpfs podsim-dev) host mounts of podsim
//   process 1234 (sleep) in /podsim/web-0/app    processes in a podsim cgroup
//   state directory /run/podsim/web-0
//
// The pod's name is part of each entry, so a test can pick out its own pods
// when other podsims run on the machine.

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "cgroup.hpp"
#include "os.hpp"
#include "podsim/runtime.hpp"

namespace podsim {
namespace {

namespace fs = std::filesystem;

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

void list_network_namespaces(std::vector<std::string>& found) {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator("/run/netns", error)) {
    std::string name = entry.path().filename();
    if (name.rfind("podsim-", 0) == 0) found.push_back("network namespace " + name);
  }
}

void list_veths(std::vector<std::string>& found) {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator("/sys/class/net", error)) {
    std::string name = entry.path().filename();
    if (name.rfind("psim", 0) != 0) continue;
    std::string alias = trimmed(os::read_file(entry.path() / "ifalias").value_or(""));
    found.push_back("veth " + name + (alias.empty() ? "" : " (" + alias + ")"));
  }
}

void list_cgroups(std::vector<std::string>& found) {
  for (const auto& hierarchy : cgroup_layout::machine().hierarchies) {
    const fs::path top = hierarchy.root / cgroup_top;
    const std::string label = hierarchy.controller.empty() ? "" : hierarchy.controller + ":";
    for (const auto& dir : os::directories_below(top)) {
      found.push_back("cgroup " + label + "/" + dir.lexically_relative(hierarchy.root).string());
    }
  }
}

// Mounts of a container never reach the host, because its mount namespace is
// private. What shows here is the bind mount of a network namespace, or a bug.
void list_mounts(std::vector<std::string>& found) {
  std::istringstream lines(os::read_file("/proc/self/mountinfo").value_or(""));
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::string id, parent, device, root, mount_point;
    fields >> id >> parent >> device >> root >> mount_point;
    std::size_t separator = line.find(" - ");
    if (separator == std::string::npos) continue;
    std::istringstream tail(line.substr(separator + 3));
    std::string type, source;
    tail >> type >> source;

    bool ours = source.rfind("podsim", 0) == 0 || mount_point.rfind("/run/podsim/", 0) == 0 ||
                mount_point.rfind("/run/netns/podsim-", 0) == 0;
    if (ours) found.push_back("mount " + mount_point + " (" + type + " " + source + ")");
  }
}

void list_processes(std::vector<std::string>& found) {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator("/proc", error)) {
    std::string pid = entry.path().filename();
    if (pid.empty() || !std::all_of(pid.begin(), pid.end(), [](char c) { return c >= '0' && c <= '9'; })) continue;

    std::string comm = trimmed(os::read_file(entry.path() / "comm").value_or(""));
    std::istringstream cgroups(os::read_file(entry.path() / "cgroup").value_or(""));
    std::string line;
    const std::string podsim_prefix = (fs::path("/") / cgroup_top).string() + "/";
    std::string podsim_cgroup;
    while (std::getline(cgroups, line)) {
      // "4:memory:/podsim/web-0/app" on v1, "0::/podsim/web-0/app" on v2.
      std::size_t path_start = line.find(':', line.find(':') + 1);
      if (path_start == std::string::npos) continue;
      std::string path = line.substr(path_start + 1);
      if (path.rfind(podsim_prefix, 0) == 0) podsim_cgroup = path;
    }
    if (!podsim_cgroup.empty()) {
      found.push_back("process " + pid + " (" + comm + ") in " + podsim_cgroup);
    } else if (comm == "podsim-init") {
      std::string cmdline = os::read_file(entry.path() / "cmdline").value_or("");
      std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
      found.push_back("process " + pid + " (" + trimmed(cmdline) + ")");
    }
  }
}

void list_state_directories(std::vector<std::string>& found) {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator("/run/podsim", error)) {
    found.push_back("state directory " + entry.path().string());
  }
}

}  // namespace

std::vector<std::string> list_leftovers() {
  std::vector<std::string> found;
  list_network_namespaces(found);
  list_veths(found);
  list_cgroups(found);
  list_mounts(found);
  list_processes(found);
  list_state_directories(found);
  return found;
}

}  // namespace podsim
