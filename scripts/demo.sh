#!/usr/bin/env bash
# The demo: deploy/examples/demo.yaml run by podsim, as root. It has a
# Deployment of two pods, each with nginx as the main container and the
# sidecar beside it, and a Service in front on 127.0.0.1:8080. A real
# Prometheus scrapes the sidecars through podsim's file_sd targets file.
#
#   scripts/demo.sh [--keep]
#
# It shows, with timestamps: the pods coming up and the time until both are
# ready, the Service balancing over both, one pod's app switched to
# "value": 4 so that its sidecar's /ready fails, the pod leaving the Service
# while the other keeps serving, what Prometheus records for
# sidecar_probe_success per pod, and the way back. scripts/demo-processes.sh
# runs the same sidecar without pods.
#
# BUILD_DIR (default build) is the build directory, as for scripts/build.sh;
# SERVICE_PORT must stay 8080 (the Service's port in the manifest); PROM_PORT
# (default 9099) is Prometheus' port. Without --keep, podsim and Prometheus
# are stopped by their PIDs on exit, on error and on Ctrl-C, and podsim
# removes every namespace, mount, cgroup and veth it made.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

build_dir=${BUILD_DIR:-build}
service_port=8080
prom_port=${PROM_PORT:-9099}
# shellcheck source=scripts/demo-common.sh
source scripts/demo-common.sh
parse_demo_arguments "$@"

# How long the pods may take to become ready, and each change to show.
start_timeout=60
change_timeout=30

# Up to this long for each process to stop after SIGTERM.
stop_timeout=30

if [[ $(id -u) -ne 0 ]]; then
  fail "podsim needs root for namespaces, mounts and cgroups; run as root"
fi

# Fails with the end of `log` when process number `index` has exited.
require_running() {
  local index=$1 log=$2
  if ! kill -0 "${pids[$index]}" 2>/dev/null; then
    echo "demo: ${names[$index]} exited; last lines of $log:" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# --- Set-up -----------------------------------------------------------------

bash scripts/install-deps.sh demo
BUILD_DIR="$build_dir" bash scripts/build.sh sidecar podsim podsim-init
podsim="$repo/$build_dir/bin/podsim"

for port in "$service_port" "$prom_port" 10250; do
  if port_busy "$port"; then fail "port $port on 127.0.0.1 is in use; stop what listens there"; fi
done

work=$(mktemp -d /tmp/sidecar-pod-demo-XXXXXX)
sed "s|@SIDECAR_DIR@|$repo/$build_dir/bin|" deploy/examples/demo.yaml >"$work/demo.yaml"
cat >"$work/prometheus.yml" <<PROM
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: pods
    file_sd_configs:
      - files: ["$work/targets.json"]
        refresh_interval: 1s
PROM

# --- The pods ---------------------------------------------------------------

applied_at=$(date +%s.%N)
start podsim "$work/podsim.log" "$podsim" apply -f "$work/demo.yaml" --file-sd "$work/targets.json"
start Prometheus "$work/prometheus.log" /usr/bin/prometheus --config.file="$work/prometheus.yml" \
  --storage.tsdb.path="$work/prometheus" --web.listen-address="127.0.0.1:$prom_port"

# Ready when `podsim get pods` lists two pods at 2/2 Running.
ready_pods() { "$podsim" get pods 2>/dev/null | awk '$2 == "2/2" && $3 == "Running"' | wc -l; }
deadline=$((SECONDS + start_timeout))
until [[ $(ready_pods) -eq 2 ]]; do
  require_running 0 "$work/podsim.log"
  ((SECONDS < deadline)) || fail "the pods were not ready within ${start_timeout}s"
  sleep 0.05
done
ready_at=$(date +%s.%N)
say "both pods ready $(awk -v a="$applied_at" -v b="$ready_at" 'BEGIN { printf "%.2f", b - a }')s after podsim apply"
"$podsim" get pods -o wide | sed 's/^/    /'
echo
say "events so far (podsim prints them as kubectl get events does):"
sed 's/^/    /' "$work/podsim.log"
echo

mapfile -t pods < <("$podsim" get pods | awk 'NR > 1 { print $1 }')
pod_ip() { "$podsim" get pods -o wide | awk -v pod="$1" '$1 == pod { print $6 }'; }
www_dir() { "$podsim" describe pod "$1" | awk '/^  www:/ { found = 1 } found && /Host path:/ { print $3; exit }'; }
failing=${pods[0]}
serving=${pods[1]}

# The Service answers from both pods; nginx's / names the pod.
show_service() {
  local answers
  answers=$(for _ in 1 2 3 4 5 6; do curl -s --max-time 2 "http://127.0.0.1:$service_port/" || echo "(no answer)"; done)
  say "GET http://127.0.0.1:$service_port/ six times through the Service:"
  sort <<<"$answers" | uniq -c | sed 's/^/    /'
}
# Waits until the Service's answers come only from `expected` pods (a count).
wait_for_backends() {
  local expected=$1 deadline=$((SECONDS + change_timeout))
  while ((SECONDS < deadline)); do
    require_running 0 "$work/podsim.log"
    local seen
    seen=$(for _ in 1 2 3 4 5 6; do curl -s --max-time 2 "http://127.0.0.1:$service_port/"; done | sort -u | wc -l)
    [[ $seen -eq $expected ]] && return
    sleep 0.2
  done
  fail "the Service did not route to $expected pod(s) within ${change_timeout}s"
}
prom_success() {
  curl -s --max-time 2 "http://127.0.0.1:$prom_port/api/v1/query" \
    --data-urlencode 'query=sidecar_probe_success{duty="ready"}' |
    python3 -c 'import json, sys
for r in json.load(sys.stdin)["data"]["result"]:
    print("    pod=%s check=%s value=%s" % (r["metric"].get("pod"), r["metric"].get("check"), r["value"][1]))'
}
wait_for_prom() {
  local pod=$1 value=$2 deadline=$((SECONDS + change_timeout))
  while ((SECONDS < deadline)); do
    require_running 1 "$work/prometheus.log"
    local recorded
    recorded=$(prom_success)
    if grep -q "pod=$pod check=status value=$value" <<<"$recorded"; then return; fi
    sleep 0.5
  done
  fail "Prometheus did not record sidecar_probe_success=$value for $pod within ${change_timeout}s"
}

say "1. Both apps report value 5."
wait_for_backends 2
show_service
wait_for_prom "$failing" 1
wait_for_prom "$serving" 1
say "Prometheus: sidecar_probe_success{duty=\"ready\"}"
prom_success
echo

say "2. $failing's app now reports value 4."
status_file="$(www_dir "$failing")/status.json"
[[ -f "$status_file" ]] || fail "status file of $failing not found at $status_file"
printf '{"value": 4}\n' >"$status_file.new" && mv "$status_file.new" "$status_file"
wait_for_backends 1
say "GET http://$(pod_ip "$failing"):9090/ready (the sidecar of $failing):"
curl -s --max-time 2 -w '    HTTP %{http_code}\n' "http://$(pod_ip "$failing"):9090/ready" | sed 's/^/    /'
show_service
"$podsim" get pods | sed 's/^/    /'
wait_for_prom "$failing" 0
say "Prometheus: sidecar_probe_success{duty=\"ready\"}"
prom_success
say "the events of the change:"
grep -E "Unhealthy" "$work/podsim.log" | grep "$failing" | tail -n 2 | sed 's/^/    /'
echo

say "3. $failing's app reports value 5 again."
printf '{"value": 5}\n' >"$status_file.new" && mv "$status_file.new" "$status_file"
wait_for_backends 2
show_service
wait_for_prom "$failing" 1
"$podsim" get pods | sed 's/^/    /'
echo

if $keep; then
  say "Left running (--keep): podsim PID ${pids[0]}, Prometheus PID ${pids[1]}"
  say "  Service: http://127.0.0.1:$service_port/  Prometheus: http://127.0.0.1:$prom_port/"
  say "  podsim get pods; podsim describe pod NAME; stop with: kill ${pids[*]}"
  exit 0
fi
say "Done; stopping Prometheus and podsim (run with --keep to leave them running)."
