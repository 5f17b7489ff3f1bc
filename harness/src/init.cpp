// podsim-init: the PID 1 of every PID namespace that podsim creates.
//
//   podsim-init [--name LABEL] [--] [COMMAND [ARG...]]
//
// With a command, it starts the command as its child and forwards SIGTERM,
// SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to it. It reaps every process
// that the kernel reparents to it, and exits with the command's exit status,
// or 128 + the signal number when a signal ended the command. The command gets
// SIGKILL when podsim-init itself dies.
//
// Without a command it only reaps, until SIGTERM or SIGINT ends it with status
// 0. podsim runs it that way as the PID 1 of a PID namespace that containers
// join. The label is ignored: it only makes `ps` show which pod or container
// an init belongs to.
//
// It is linked statically and reads no files, so that it runs in an empty root.

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace {

constexpr int forwarded_signals[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

bool is_forwarded(int signo) {
  for (int forwarded : forwarded_signals) {
    if (forwarded == signo) return true;
  }
  return false;
}

int exit_status_of(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return 1;
}

// Reaps every child that has exited. Returns true when `child` was among them
// and stores its wait status.
bool reap_children(pid_t child, int* child_status) {
  bool child_exited = false;
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return child_exited;
    if (pid == child) {
      *child_status = status;
      child_exited = true;
    }
  }
}

[[noreturn]] void exec_command(char** argv, const sigset_t& original_mask) {
  // Outside a PID namespace nothing else ends the command when init is
  // killed, so it dies with init.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  ::sigprocmask(SIG_SETMASK, &original_mask, nullptr);
  ::execvp(argv[0], argv);
  std::fprintf(stderr, "podsim-init: exec %s failed: %s\n", argv[0], std::strerror(errno));
  ::_exit(errno == ENOENT ? 127 : 126);
}

}  // namespace

int main(int argc, char** argv) {
  int first = 1;
  if (first + 1 < argc && std::strcmp(argv[first], "--name") == 0) first += 2;
  if (first < argc && std::strcmp(argv[first], "--") == 0) ++first;
  char** command = first < argc ? argv + first : nullptr;

  // Every signal is taken synchronously with sigwait, so none interrupts a
  // system call and none can be lost between checks.
  sigset_t all;
  sigset_t original_mask;
  ::sigfillset(&all);
  ::sigprocmask(SIG_SETMASK, &all, &original_mask);

  pid_t child = -1;
  if (command != nullptr) {
    child = ::fork();
    if (child < 0) {
      std::fprintf(stderr, "podsim-init: fork failed: %s\n", std::strerror(errno));
      return 1;
    }
    if (child == 0) exec_command(command, original_mask);
  }

  for (;;) {
    int signo = 0;
    if (::sigwait(&all, &signo) != 0) continue;

    if (signo == SIGCHLD) {
      int child_status = 0;
      if (reap_children(child, &child_status)) return exit_status_of(child_status);
      continue;
    }
    if (child < 0 && (signo == SIGTERM || signo == SIGINT)) return 0;
    if (child > 0 && is_forwarded(signo)) ::kill(child, signo);
  }
}
