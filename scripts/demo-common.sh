# Shared by scripts/demo.sh and scripts/demo-processes.sh, which source it:
# timestamped output, and background processes that are stopped by their
# PIDs on exit, on error and on Ctrl-C.
#
# parse_demo_arguments sets `keep` from --keep (true leaves the processes
# running after a successful run). The sourcing script sets `stop_timeout`
# (seconds each process has to exit after SIGTERM before it gets SIGKILL),
# and may set `work`, a directory that is removed at the end.

# Reads the demos' command line: --keep, or --help, which prints the
# sourcing script's opening comment.
parse_demo_arguments() {
  keep=false
  local arg
  for arg in "$@"; do
    case "$arg" in
      --keep) keep=true ;;
      -h | --help)
        awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
        exit 0
        ;;
      *)
        echo "demo: unknown argument \"$arg\", expected --keep" >&2
        exit 2
        ;;
    esac
  done
}

say() { printf '%s  %s\n' "$(date +%H:%M:%S.%3N)" "$*"; }
fail() {
  say "demo: $*" >&2
  exit 1
}

keep=false
names=()
pids=()
work=""

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if $keep && [[ $status -eq 0 ]]; then return; fi
  local i
  for i in "${!pids[@]}"; do
    kill -TERM "${pids[$i]}" 2>/dev/null || true
  done
  for i in "${!pids[@]}"; do
    for _ in $(seq $((stop_timeout * 10))); do
      kill -0 "${pids[$i]}" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "${pids[$i]}" 2>/dev/null; then
      echo "demo: ${names[$i]} (PID ${pids[$i]}) did not stop within ${stop_timeout}s of SIGTERM, sending SIGKILL" >&2
      kill -KILL "${pids[$i]}" 2>/dev/null || true
    fi
    wait "${pids[$i]}" 2>/dev/null || true
  done
  if [[ -n "$work" ]]; then rm -rf "$work"; fi
  if [[ ${#pids[@]} -gt 0 ]]; then say "stopped ${names[*]}"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Starts a program in the background, with stdout and stderr going to `log`.
start() {
  local name=$1 log=$2
  shift 2
  "$@" >"$log" 2>&1 &
  names+=("$name")
  pids+=("$!")
  say "started $name (PID $!): $*"
}
