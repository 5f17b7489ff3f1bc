#include "podsim/runtime.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "support/process.hpp"
#include "support/run.hpp"

// These tests make real network namespaces, veth pairs, cgroups and mounts,
// so they need root. Pod names carry the test program's PID, and every test
// checks that nothing of its pods is left afterwards.

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string pod_name(const std::string& suffix) { return "rt" + std::to_string(::getpid()) + "-" + suffix; }

bool is_name_char(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'; }

// The leftovers that belong to `pod`: entries naming it as a whole word, so
// that pod "x-a" does not match the leftovers of pod "x-ab".
std::vector<std::string> leftovers_of(const std::string& pod) {
  std::vector<std::string> result;
  auto all = podsim::list_leftovers();
  // Sorted, because the order of directory entries changes as other pods come and go.
  std::sort(all.begin(), all.end());
  for (const auto& entry : all) {
    for (std::size_t at = entry.find(pod); at != std::string::npos; at = entry.find(pod, at + 1)) {
      std::size_t end = at + pod.size();
      bool starts_word = at == 0 || !is_name_char(entry[at - 1]) || entry[at - 1] == '-';
      if (starts_word && (end == entry.size() || !is_name_char(entry[end]))) {
        result.push_back(entry);
        break;
      }
    }
  }
  return result;
}

bool contains_entry_starting(const std::vector<std::string>& entries, const std::string& prefix) {
  for (const auto& entry : entries) {
    if (entry.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

void require_root() {
  if (::geteuid() != 0) FAIL("the podsim runtime tests need root: they create namespaces, veths and cgroups");
}

podsim::exec_result run_in(podsim::container& target, const std::string& script, std::chrono::milliseconds timeout = 10s) {
  return target.exec({"sh", "-c", script}, timeout);
}

// Polls an exec in `target` until it exits with 0.
bool wait_for_exec_success(podsim::container& target, const std::string& script, std::chrono::milliseconds timeout = 10s) {
  return support::wait_until([&] { return run_in(target, script, 5s).exit_code == 0; }, timeout, 50ms);
}

std::optional<podsim::exit_info> wait_for_exit(podsim::container& target, std::chrono::milliseconds timeout) {
  std::optional<podsim::exit_info> exit;
  support::wait_until([&] { return (exit = target.poll_exit()).has_value(); }, timeout, 20ms);
  return exit;
}

// The innermost PID of host process `pid`, from the NSpid line of its status.
std::string namespace_pid_of(pid_t pid) {
  std::istringstream status(support::read_file("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("NSpid:", 0) != 0) continue;
    std::istringstream fields(line.substr(6));
    std::string last;
    for (std::string field; fields >> field;) last = field;
    return last;
  }
  return "";
}

// Sends a plain HTTP/1.0 GET to `ip`:`port` from the host and returns the raw
// response, or an empty string when the connection fails.
std::string http_get_from_host(const std::string& ip, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  timeval timeout{.tv_sec = 2, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  ::inet_pton(AF_INET, ip.c_str(), &address.sin_addr);
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    const std::string request = "GET / HTTP/1.0\r\nHost: " + ip + "\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      for (ssize_t count; (count = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) response.append(buffer, count);
    }
  }
  ::close(fd);
  return response;
}

// The value of a cgroup file of `container` in `pod`, on cgroup v1 or v2.
std::string cgroup_value(const std::string& controller, const std::string& pod, const std::string& container,
                         const std::string& v1_file, const std::string& v2_file) {
  fs::path v1 = fs::path("/sys/fs/cgroup") / controller / "podsim" / pod / container / v1_file;
  fs::path v2 = fs::path("/sys/fs/cgroup") / "podsim" / pod / container / v2_file;
  std::string value = support::read_file(fs::exists(v1) ? v1 : v2);
  while (!value.empty() && value.back() == '\n') value.pop_back();
  return value;
}

// The script that looks for `file` through the root of every process it can
// see, as a sidecar would look for the app's files.
std::string find_through_proc_roots(const std::string& file) {
  return "for p in /proc/[0-9]*; do cat \"$p/root" + file + "\" 2>/dev/null && exit 0; done; exit 1";
}

// Sets an environment variable for the lifetime of the object.
class scoped_env {
 public:
  scoped_env(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~scoped_env() { ::unsetenv(name_); }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

 private:
  const char* name_;
};

}  // namespace

TEST_CASE("sandbox creates and removes its objects", "[runtime]") {
  require_root();
  const std::string pod = pod_name("objects");
  {
    podsim::pod_sandbox sandbox({.pod_name = pod});
    CHECK(sandbox.name() == pod);
    CHECK(sandbox.ip().rfind("10.213.", 0) == 0);
    CHECK(sandbox.netns_path() == fs::path("/run/netns/podsim-" + pod));
    CHECK(fs::exists(sandbox.netns_path()));
    CHECK(sandbox.state_dir() == fs::path("/run/podsim/" + pod));
    CHECK(fs::is_directory(sandbox.volume_dir("data")));

    // list_leftovers() lists each kind of object while the pod exists, so the
    // empty lists checked after each test mean something.
    podsim::container app(sandbox, {.name = "app", .argv = {"sleep", "60"}});
    app.start();
    auto present = leftovers_of(pod);
    INFO(Catch::Detail::stringify(present));
    CHECK(contains_entry_starting(present, "network namespace podsim-" + pod));
    CHECK(contains_entry_starting(present, "veth psim"));
    CHECK(contains_entry_starting(present, "state directory /run/podsim/" + pod));
    CHECK(contains_entry_starting(present, "process " + std::to_string(app.pid()) + " (sleep)"));
    bool has_container_cgroup = false;
    for (const auto& entry : present) has_container_cgroup = has_container_cgroup || entry.find("/podsim/" + pod + "/app") != std::string::npos;
    CHECK(has_container_cgroup);
  }
  CHECK(leftovers_of(pod).empty());
}

TEST_CASE("sandbox with a name in use fails", "[runtime]") {
  require_root();
  const std::string pod = pod_name("dup");
  {
    podsim::pod_sandbox first({.pod_name = pod});
    podsim::container app(first, {.name = "app", .argv = {"sh", "-c", "echo first > /var/log/marker; exec sleep 60"}});
    app.start();
    REQUIRE(wait_for_exec_success(app, "test -s /var/log/marker"));
    const auto before = leftovers_of(pod);

    std::string message;
    try {
      podsim::pod_sandbox second({.pod_name = pod});
    } catch (const std::runtime_error& e) {
      message = e.what();
    }
    CHECK(message == "pod " + pod + " already exists on this machine (network namespace podsim-" + pod +
                         "): is another podsim running?");

    // The first pod is untouched: same objects, still running, still reachable.
    CHECK(leftovers_of(pod) == before);
    CHECK_FALSE(app.poll_exit().has_value());
    CHECK(run_in(app, "cat /var/log/marker").output == "first\n");
    CHECK(fs::exists(first.netns_path()));
    CHECK(fs::is_directory(first.state_dir()));
  }
  CHECK(leftovers_of(pod).empty());
}

TEST_CASE("sandbox rejects an invalid pod name", "[runtime]") {
  require_root();
  std::string message;
  try {
    podsim::pod_sandbox sandbox({.pod_name = "Web_0"});
  } catch (const std::runtime_error& e) {
    message = e.what();
  }
  CHECK(message == "pod name \"Web_0\": invalid, expected lower-case letters, digits, '-' and '.' (a DNS subdomain)");
}

TEST_CASE("var log is private per container", "[runtime]") {
  require_root();
  const std::string pod = pod_name("varlog");
  const std::string file = "/var/log/podsim-" + pod + ".log";
  // The fallbacks for machines where overlayfs cannot use the disk, or cannot
  // be used at all, must keep containers apart as well.
  std::optional<scoped_env> root_layer;
  std::string expected_root;  // in the container's first mountinfo line
  std::string expected_log;
  bool writable_root = true;
  SECTION("overlayfs root") { expected_root = "/upper,workdir="; }
  SECTION("overlayfs root with the writable layer in memory") {
    root_layer.emplace("PODSIM_ROOTFS", "memory-overlay");
    expected_root = "/memory-layer/upper,workdir=";
  }
  SECTION("read-only root fallback") {
    root_layer.emplace("PODSIM_ROOTFS", "read-only");
    expected_root = " / ro,";
    expected_log = "podsim: the root file system is read-only for want of overlayfs; /var/log, /var/tmp, /run and "
                   "/tmp are empty and writable\n";
    writable_root = false;
  }
  {
    podsim::pod_sandbox sandbox({.pod_name = pod});
    podsim::container writer(sandbox, {.name = "writer", .argv = {"sh", "-c", "echo from-writer > " + file + "; exec sleep 60"}});
    podsim::container reader(sandbox, {.name = "reader", .argv = {"sleep", "60"}});
    writer.start();
    reader.start();

    REQUIRE(wait_for_exec_success(writer, "test -s " + file));
    CHECK(run_in(writer, "cat " + file).output == "from-writer\n");
    auto from_reader = run_in(reader, "cat " + file);
    CHECK(from_reader.exit_code != 0);
    CHECK(from_reader.output.find("from-writer") == std::string::npos);
    CHECK_FALSE(fs::exists(file));

    // The reader's own writes stay its own too.
    CHECK(run_in(reader, "echo from-reader > " + file).exit_code == 0);
    CHECK(run_in(reader, "cat " + file).output == "from-reader\n");
    CHECK(run_in(writer, "cat " + file).output == "from-writer\n");

    // podsim's state, which contains every container's writable layer, is hidden.
    CHECK(run_in(reader, "ls -A /run/podsim 2>/dev/null; true").output == "");

    // Outside /var/log and /tmp, the root is writable exactly when it is an overlay.
    auto write_etc = run_in(reader, "echo x > /etc/" + pod);
    CHECK((write_etc.exit_code == 0) == writable_root);
    CHECK_FALSE(fs::exists("/etc/" + pod));
    CHECK(support::read_file(writer.log_path()) == expected_log);
    auto root_mount = run_in(reader, "head -n 1 /proc/self/mountinfo");
    INFO(root_mount.output);
    CHECK(root_mount.output.find(expected_root) != std::string::npos);
  }
  CHECK(leftovers_of(pod).empty());
}

TEST_CASE("shared PID namespace exposes other roots", "[runtime]") {
  require_root();
  const std::string pod = pod_name("sharedpid");
  {
    podsim::pod_sandbox sandbox({.pod_name = pod, .share_process_namespace = true});
    CHECK(sandbox.shares_process_namespace());
    podsim::container app(sandbox, {.name = "app", .argv = {"sh", "-c", "echo app-secret > /var/log/app.log; exec sleep 60"}});
    podsim::container sidecar(sandbox, {.name = "sidecar", .argv = {"sleep", "60"}});
    app.start();
    sidecar.start();
    REQUIRE(wait_for_exec_success(app, "test -s /var/log/app.log"));

    const std::string app_pid = namespace_pid_of(app.pid());
    REQUIRE_FALSE(app_pid.empty());
    auto direct = run_in(sidecar, "cat /proc/" + app_pid + "/root/var/log/app.log");
    CHECK(direct.exit_code == 0);
    CHECK(direct.output == "app-secret\n");
    CHECK(run_in(sidecar, find_through_proc_roots("/var/log/app.log")).output == "app-secret\n");

    // Both containers see the pod's init as PID 1.
    CHECK(run_in(sidecar, "cat /proc/1/comm").output == "podsim-init\n");
    CHECK(run_in(app, "cat /proc/1/comm").output == "podsim-init\n");
  }
  CHECK(leftovers_of(pod).empty());
}

TEST_CASE("own PID namespaces hide other roots", "[runtime]") {
  require_root();
  const std::string pod = pod_name("ownpid");
  {
    podsim::pod_sandbox sandbox({.pod_name = pod});
    CHECK_FALSE(sandbox.shares_process_namespace());
    podsim::container app(sandbox, {.name = "app", .argv = {"sh", "-c", "echo app-secret > /var/log/app.log; exec sleep 60"}});
    podsim::container sidecar(sandbox, {.name = "sidecar", .argv = {"sleep", "60"}});
    app.start();
    sidecar.start();
    REQUIRE(wait_for_exec_success(app, "test -s /var/log/app.log"));

    auto scan = run_in(sidecar, find_through_proc_roots("/var/log/app.log"));
    CHECK(scan.exit_code == 1);
    CHECK(scan.output.find("app-secret") == std::string::npos);
    // The sidecar's namespace has its init, its main process and the exec'd shell, nothing of the app.
    CHECK(run_in(sidecar, "cat /proc/1/comm").output == "podsim-init\n");
    CHECK(run_in(sidecar, "for p in /proc/[0-9]*; do cat $p/comm; done | grep -c sleep").output == "1\n");
  }
  CHECK(leftovers_of(pod).empty());
}

TEST_CASE("init reaps orphaned processes", "[runtime]") {
  require_root();
  const std::string pod = pod_name("reap");
  // Prints the parent PID of the orphan while it runs, and fails once it is gone.
  const std::string find_orphan =
      "for p in /proc/[0-9]*; do "
      "if [ \"$(tr '\\0' ' ' 2>/dev/null < $p/cmdline)\" = 'sleep 1 ' ]; then awk '{print $4}' $p/stat; exit 0; fi; "
      "done; exit 1";
  const std::string list_zombies = "grep -l '^State:.*Z' /proc/[0-9]*/status 2>/dev/null; true";

  for (bool shared : {false, true}) {
    INFO("share_process_namespace " << shared);
    {
      podsim::pod_sandbox sandbox({.pod_name = pod, .share_process_namespace = shared});
      // The subshell exits at once, so its background sleep is orphaned and
      // reparented to PID 1 of the namespace, which must reap it when it ends.
      podsim::container app(sandbox, {.name = "app", .argv = {"sh", "-c", "(sleep 1 &); exec sleep 60"}});
      app.start();

      // The subshell is the parent until it exits, then PID 1 is.
      std::string orphan_parent;
      support::wait_until([&] { return (orphan_parent = run_in(app, find_orphan).output) == "1\n"; }, 5s, 20ms);
      CHECK(orphan_parent == "1\n");

      bool reaped = support::wait_until(
          [&] { return run_in(app, find_orphan).exit_code == 1 && run_in(app, list_zombies).output.empty(); }, 5s, 50ms);
      CHECK(reaped);
      CHECK(run_in(app, list_zombies).output == "");
    }
    CHECK(leftovers_of(pod).empty());
  }
}

TEST_CASE("loopback is shared within a pod", "[runtime]") {
  require_root();
  const std::string pod = pod_name("loopback");
  {
    podsim::pod_sandbox sandbox({.pod_name = pod});
    podsim::container server(sandbox, {.name = "server",
                                       .argv = {"python3", "-m", "http.server", "8080", "--bind", "127.0.0.1",
                                                "--directory", "/tmp"}});
    podsim::container client(sandbox, {.name = "client", .argv = {"sleep", "60"}});
    server.start();
    client.start();

    const std::string curl = "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/";
    REQUIRE(wait_for_exec_success(client, curl));
    CHECK(run_in(client, curl).output == "200");
    // Bound to the pod's loopback only, the server is not reachable from the host.
    CHECK(http_get_from_host(sandbox.ip(), 8080) == "");
  }
  CHECK(leftovers_of(pod).empty());
}

TEST_CASE("pod shares IPC and host name", "[runtime]") {
  require_root();
  const std::string pod = pod_name("ipc");
  {
    podsim::pod_sandbox sandbox({.pod_name = pod});
    podsim::container first(sandbox, {.name = "first", .argv = {"sleep", "60"}});
    podsim::container second(sandbox, {.name = "second", .argv = {"sleep", "60"}});
    first.start();
    second.start();

    // A System V segment made in one container is seen by the other, and the
    // pod's IPC namespace starts empty, so it is the only one there.
    REQUIRE(run_in(first, "ipcmk -M 4096").exit_code == 0);
    CHECK(run_in(second, "tail -n +2 /proc/sysvipc/shm | wc -l").output == "1\n");

    for (const std::string kind : {"ipc", "uts", "net"}) {
      INFO(kind);
      const std::string own = run_in(first, "readlink /proc/self/ns/" + kind).output;
      CHECK(own == run_in(second, "readlink /proc/self/ns/" + kind).output);
      CHECK(own != fs::read_symlink("/proc/self/ns/" + kind).string() + "\n");
    }
    CHECK(run_in(second, "hostname").output == pod + "\n");
  }
  CHECK(leftovers_of(pod).empty());
}

TEST_CASE("pod is reachable from the host", "[runtime]") {
  require_root();
  const std::string pod = pod_name("reach");
  {
    podsim::pod_sandbox sandbox({.pod_name = pod});
    fs::path site = sandbox.volume_dir("site");
    std::ofstream(site / "index.html") << "hello from the pod\n";
    podsim::container server(sandbox, {.name = "server",
                                       .argv = {"python3", "-m", "http.server", "8080", "--directory", "/srv/site"},
                                       .mounts = {{.source = site, .target = "/srv/site", .read_only = true}}});
    server.start();

    std::string response;
    REQUIRE(support::wait_until([&] { return !(response = http_get_from_host(sandbox.ip(), 8080)).empty(); }, 10s, 50ms));
    CHECK(response.rfind("HTTP/1.0 200", 0) == 0);
    CHECK(response.find("hello from the pod") != std::string::npos);

    // The volume is read-only inside.
    CHECK(run_in(server, "echo x > /srv/site/new").exit_code != 0);
  }
  CHECK(leftovers_of(pod).empty());
}

TEST_CASE("memory hog is OOMKilled", "[runtime]") {
  require_root();
  const std::string pod = pod_name("oom");
  constexpr std::uint64_t limit = 32 << 20;
  {
    podsim::pod_sandbox sandbox({.pod_name = pod});

    SECTION("main process killed") {
      podsim::container hog(sandbox, {.name = "hog", .argv = {"python3", "-c", "x = b'x' * (200 << 20)"}, .memory_limit = limit});
      hog.start();
      CHECK(cgroup_value("memory", pod, "hog", "memory.limit_in_bytes", "memory.max") == std::to_string(limit));
      auto exit = wait_for_exit(hog, 30s);
      REQUIRE(exit.has_value());
      CHECK(exit->oom_killed);
      CHECK(exit->signal == SIGKILL);
      CHECK(exit->exit_code == 137);
    }
    SECTION("child of the main process killed") {
      // The child's oom_score_adj of 1000 makes it the OOM killer's choice, so
      // the main shell survives. A pipe writer in the container made the kernel
      // kill a second process now and then, so the hog is a single python3.
      const std::string script =
          "sh -c 'echo 1000 > /proc/self/oom_score_adj; exec python3 -c \"x = b\\\"x\\\" * (200 << 20)\"'; exit 5";
      podsim::container hog(sandbox, {.name = "hog", .argv = {"sh", "-c", script}, .memory_limit = limit});
      hog.start();
      auto exit = wait_for_exit(hog, 30s);
      REQUIRE(exit.has_value());
      CHECK(exit->oom_killed);
      CHECK(exit->signal == 0);
      CHECK(exit->exit_code == 5);
    }
    SECTION("within the limit") {
      podsim::container small(sandbox, {.name = "small", .argv = {"sh", "-c", "head -c 1000000 /dev/zero | tail >/dev/null; exit 3"}, .memory_limit = limit});
      small.start();
      auto exit = wait_for_exit(small, 30s);
      REQUIRE(exit.has_value());
      CHECK_FALSE(exit->oom_killed);
      CHECK(exit->signal == 0);
      CHECK(exit->exit_code == 3);
    }
  }
  CHECK(leftovers_of(pod).empty());
}

TEST_CASE("cpu limit sets the CFS quota", "[runtime]") {
  require_root();
  const std::string pod = pod_name("cpu");
  {
    podsim::pod_sandbox sandbox({.pod_name = pod});
    podsim::container app(sandbox, {.name = "app", .argv = {"sleep", "60"}, .cpu_limit = 250});
    app.start();
    std::string v1_quota = cgroup_value("cpu", pod, "app", "cpu.cfs_quota_us", "cpu.max");
    CHECK((v1_quota == "25000" || v1_quota == "25000 100000"));
  }
  CHECK(leftovers_of(pod).empty());
}

TEST_CASE("stop sends SIGTERM then SIGKILL", "[runtime]") {
  require_root();
  const std::string pod = pod_name("stop");
  {
    podsim::pod_sandbox sandbox({.pod_name = pod});

    SECTION("process that ends on SIGTERM") {
      podsim::container app(sandbox, {.name = "app", .argv = {"sleep", "60"}});
      app.start();
      podsim::exit_info exit;
      auto took = support::time_of([&] { exit = app.stop(10s); });
      CHECK(exit.signal == SIGTERM);
      CHECK(exit.exit_code == 143);
      CHECK_FALSE(exit.oom_killed);
      CHECK(took < 5s);
      // Later calls report the same exit.
      CHECK(app.poll_exit()->exit_code == 143);
      CHECK(app.stop(10s).exit_code == 143);
    }
    SECTION("process that ignores SIGTERM") {
      podsim::container app(sandbox, {.name = "app", .argv = {"sh", "-c", "trap '' TERM; sleep 60"}});
      app.start();
      REQUIRE(wait_for_exec_success(app, "grep -q sleep /proc/[0-9]*/comm"));
      podsim::exit_info exit;
      auto took = support::time_of([&] { exit = app.stop(500ms); });
      CHECK(exit.signal == SIGKILL);
      CHECK(exit.exit_code == 137);
      CHECK(took >= 500ms);
      CHECK(took < 5s);
    }
  }
  CHECK(leftovers_of(pod).empty());
}

TEST_CASE("exec returns output and exit code", "[runtime]") {
  require_root();
  const std::string pod = pod_name("exec");
  {
    podsim::pod_sandbox sandbox({.pod_name = pod});
    podsim::container app(sandbox, {.name = "app", .argv = {"sleep", "60"}, .env = {{"GREETING", "hello"}}});
    app.start();

    auto result = run_in(app, "echo out; echo err >&2; echo $GREETING; exit 3");
    CHECK(result.exit_code == 3);
    CHECK_FALSE(result.timed_out);
    CHECK(result.output == "out\nerr\nhello\n");

    auto large = run_in(app, "head -c 50000 /dev/zero | tr '\\0' x");
    CHECK(large.exit_code == 0);
    CHECK(large.output == std::string(10 * 1024, 'x'));

    auto missing = app.exec({"no-such-program"}, 5s);
    CHECK(missing.exit_code == 127);
    CHECK(missing.output == "exec \"no-such-program\" failed: No such file or directory");

    podsim::exec_result slow;
    auto took = support::time_of([&] { slow = app.exec({"sleep", "30"}, 300ms); });
    CHECK(slow.timed_out);
    CHECK(took >= 300ms);
    CHECK(took < 5s);

    app.stop(5s);
    auto stopped = run_in(app, "true");
    CHECK(stopped.exit_code == -1);
    CHECK(stopped.output == "container app in pod " + pod + ": not running");
  }
  CHECK(leftovers_of(pod).empty());
}

TEST_CASE("container runs without host privileges", "[runtime]") {
  require_root();
  const std::string pod = pod_name("privileges");
  // containerd's default for a container that is not privileged.
  const std::string default_capabilities = "00000000a80425fb";
  {
    podsim::pod_sandbox sandbox({.pod_name = pod});
    podsim::container app(sandbox, {.name = "app", .argv = {"sleep", "60"}});
    app.start();

    std::string status = support::read_file("/proc/" + std::to_string(app.pid()) + "/status");
    CHECK(status.find("CapEff:\t" + default_capabilities) != std::string::npos);
    CHECK(status.find("CapBnd:\t" + default_capabilities) != std::string::npos);
    CHECK(run_in(app, "grep CapEff /proc/self/status").output == "CapEff:\t" + default_capabilities + "\n");

    // Without CAP_SYS_ADMIN no mount; the files of /proc that act on the host are read-only or masked.
    CHECK(run_in(app, "mount -t tmpfs podsim-test /mnt").exit_code != 0);
    CHECK(run_in(app, "echo h > /proc/sysrq-trigger").exit_code != 0);
    CHECK(run_in(app, "echo 1 > /proc/sys/vm/drop_caches").exit_code != 0);
    for (const std::string file : {"/proc/kcore", "/proc/keys", "/proc/timer_list"}) {
      if (!fs::exists(file)) continue;
      INFO(file);
      CHECK(run_in(app, "head -c 16 " + file + " | wc -c").output == "0\n");
    }
    CHECK(run_in(app, "touch /sys/podsim-test").exit_code != 0);
  }
  CHECK(leftovers_of(pod).empty());
}

TEST_CASE("failed start leaves nothing behind", "[runtime]") {
  require_root();
  const std::string pod = pod_name("badstart");
  {
    podsim::pod_sandbox sandbox({.pod_name = pod});

    podsim::container missing(sandbox, {.name = "missing", .argv = {"no-such-program"}});
    std::string message;
    try {
      missing.start();
    } catch (const std::runtime_error& e) {
      message = e.what();
    }
    CHECK(message == "container missing in pod " + pod + ": exec \"no-such-program\" failed: No such file or directory");

    podsim::container imageless(sandbox, {.name = "imageless", .argv = {"true"}, .image = "busybox:1.36"});
    message.clear();
    try {
      imageless.start();
    } catch (const std::runtime_error& e) {
      message = e.what();
    }
    CHECK(message == "container imageless in pod " + pod +
                         ": image \"busybox:1.36\": not a directory, expected \"host\" or the absolute path of a root "
                         "file system");

    // Only the sandbox's own objects remain: no cgroup or process of either container.
    for (const auto& entry : leftovers_of(pod)) {
      CHECK(entry.find("/missing") == std::string::npos);
      CHECK(entry.find("/imageless") == std::string::npos);
      CHECK(entry.rfind("process", 0) != 0);
    }
  }
  CHECK(leftovers_of(pod).empty());
}

TEST_CASE("podsim-init forwards signals and exit status", "[runtime]") {
  const std::string init = std::string(SIDECAR_BIN_DIR) + "/podsim-init";
  // podsim-init takes signals with sigwait. A signal sent before it waits
  // would end it with the default action and fail the checks.
  auto waits_for_signals = [](const support::process& run) {
    return support::read_file("/proc/" + std::to_string(run.pid()) + "/wchan").find("sigtimedwait") != std::string::npos;
  };

  SECTION("exit status of the command") {
    support::process run({init, "--", "sh", "-c", "exit 7"});
    CHECK(run.wait_for_exit(5s) == 7);
  }
  SECTION("SIGTERM reaches the command") {
    support::temp_dir dir("podsim-init");
    const std::string ready = (dir.path() / "ready").string();
    support::process run({init, "--name", "test", "sh", "-c",
                          "trap 'exit 42' TERM; touch " + ready + "; while :; do sleep 0.05; done"});
    REQUIRE(support::wait_until([&] { return fs::exists(ready); }, 5s));
    REQUIRE(support::wait_until([&] { return waits_for_signals(run); }, 5s));
    run.signal(SIGTERM);
    CHECK(run.wait_for_exit(5s) == 42);
  }
  SECTION("without a command SIGTERM ends it") {
    support::process run({init});
    REQUIRE(support::wait_until([&] { return waits_for_signals(run); }, 5s));
    run.signal(SIGTERM);
    CHECK(run.wait_for_exit(5s) == 0);
  }
}
