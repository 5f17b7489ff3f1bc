#!/usr/bin/env bash
# Runs the sidecar beside a real app and a real Prometheus as plain
# processes, without pods, and shows the readiness probe following the app's
# status file. scripts/demo.sh runs the same inside pods.
#
#   scripts/demo-processes.sh [--keep]
#
# Steps: install the packages (scripts/install-deps.sh demo), build the
# sidecar, then start on 127.0.0.1
#   nginx       on APP_PORT (default 8080), the "main container", serving
#               status.json, / and POST /flush (deploy/examples/nginx.conf)
#   sidecar     on SIDECAR_PORT (default 9090), with deploy/examples/sidecar.yaml
#   Prometheus  on PROM_PORT (default 9099), scraping the sidecar every second
# and show, with timestamps: /ready answering 200, status.json flipped to
# value 4 and /ready turning 503 with the reason, the flip back to 200, and
# what Prometheus recorded for sidecar_probe_success and sidecar_latency_seconds.
#
# BUILD_DIR (default build) is the build directory, as for scripts/build.sh.
#
# Without --keep every process started here is stopped by its PID on exit,
# on error and on Ctrl-C. With --keep they stay up, and their PIDs, URLs and
# the command that stops them are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

app_port=${APP_PORT:-8080}
sidecar_port=${SIDECAR_PORT:-9090}
prom_port=${PROM_PORT:-9099}
# shellcheck source=scripts/demo-common.sh
source scripts/demo-common.sh
parse_demo_arguments "$@"

# How long each process may take to start, and each change to show.
start_timeout=30
change_timeout=20
# How long each state is kept after Prometheus has seen it, so that the
# query_range at the end has a few samples of each.
hold_seconds=3

# Up to this long for each process to stop after SIGTERM.
stop_timeout=5

# Fails with the end of `log` when the process started last has exited.
require_running() {
  local name=$1 log=$2
  if ! kill -0 "${pids[-1]}" 2>/dev/null; then
    echo "demo: $name exited during startup; last lines of $log:" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
}

# Polls `url` until it responds with `code`, while the process started last runs.
wait_for_http() {
  local name=$1 log=$2 url=$3 code=$4
  local deadline=$((SECONDS + start_timeout))
  while ((SECONDS < deadline)); do
    require_running "$name" "$log"
    if [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url" || true) == "$code" ]]; then
      say "$name is up: $url responds with $code"
      return
    fi
    sleep 0.2
  done
  echo "demo: $name did not respond with $code on $url within ${start_timeout}s; last lines of $log:" >&2
  tail -n 20 "$log" >&2
  exit 1
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# --- HTTP helpers -------------------------------------------------------------

# Prints the status code of a GET of `url`, then the body, indented.
http_get() {
  local response code body
  response=$(curl -s --max-time 5 -w '\n%{http_code}' "$1" || true)
  code=${response##*$'\n'}
  body=${response%$'\n'*}
  printf '%s\n' "$code"
  printf '%s\n' "$body" | sed -e '/^$/d' -e 's/^/    /'
}

ready_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$sidecar_port/ready" || true; }

# Polls /ready until it responds with `code`, then prints the response.
wait_for_ready() {
  local code=$1
  local deadline=$((SECONDS + change_timeout))
  until [[ $(ready_code) == "$code" ]]; do
    ((SECONDS < deadline)) || fail "/ready did not respond with $code within ${change_timeout}s"
    sleep 0.2
  done
  say "GET /ready -> $(http_get "http://127.0.0.1:$sidecar_port/ready")"
}

prom_query() {
  curl -s --max-time 5 --get --data-urlencode "query=$1" "http://127.0.0.1:$prom_port/api/v1/query"
}

# The sample value of the first series of an instant query, or nothing.
prom_value() {
  prom_query "$1" | grep -o '"value":\[[^]]*\]' | head -n 1 | sed 's/.*,"\([^"]*\)"\]/\1/'
}

# Polls Prometheus until `expr` has the value `expected`, so that the next
# step starts after a scrape that saw the change.
wait_for_prom() {
  local expr=$1 expected=$2
  local deadline=$((SECONDS + change_timeout))
  until [[ $(prom_value "$expr") == "$expected" ]]; do
    ((SECONDS < deadline)) || fail "Prometheus did not see $expr == $expected within ${change_timeout}s"
    sleep 0.5
  done
  say "Prometheus: $expr = $expected, latency $(prom_value 'max(sidecar_latency_seconds)')s"
  sleep "$hold_seconds"
}

# Writes status.json with `value`, renamed into place so nginx never serves half a file.
set_value() {
  sed "s/\"value\": *[0-9]*/\"value\": $1/" "$repo/deploy/examples/status.json" >"$work/html/status.json.new"
  mv "$work/html/status.json.new" "$work/html/status.json"
  say "status.json now has \"value\": $1"
}

# --- Check ports, install, build, configure ------------------------------------

for entry in "nginx:$app_port:APP_PORT" "sidecar:$sidecar_port:SIDECAR_PORT" "Prometheus:$prom_port:PROM_PORT"; do
  IFS=: read -r name port variable <<<"$entry"
  if ! [[ "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
    fail "$variable=\"$port\" is not a port, expected a number from 1 to 65535"
  fi
  if port_busy "$port"; then
    fail "port $port for $name is in use on 127.0.0.1; stop what listens there or set $variable to a free port"
  fi
done

bash scripts/install-deps.sh demo
build_dir=${BUILD_DIR:-build}
BUILD_DIR="$build_dir" bash scripts/build.sh sidecar
sidecar_bin="$repo/$build_dir/bin/sidecar"
[[ -x "$sidecar_bin" ]] || fail "$sidecar_bin was not built"

work=$(mktemp -d /tmp/sidecar-demo-XXXXXX)
mkdir -p "$work/html" "$work/logs" "$work/temp" "$work/prometheus"
cp deploy/examples/status.json "$work/html/status.json"
sed -e "s|@PREFIX@|$work|g" -e "s|@ROOT@|$work/html|g" -e "s|@PORT@|$app_port|g" \
  deploy/examples/nginx.conf >"$work/nginx.conf"
sed -e "s|@SIDECAR_PORT@|$sidecar_port|g" deploy/examples/prometheus.yml >"$work/prometheus.yml"

# The example config names the default ports; a copy carries the chosen ones.
sed -e "s|127\.0\.0\.1:8080|127.0.0.1:$app_port|g" -e "s|127\.0\.0\.1:9090|127.0.0.1:$sidecar_port|g" \
  deploy/examples/sidecar.yaml >"$work/sidecar.yaml"
grep -q '^listen:' "$work/sidecar.yaml" || sed -i "1i listen: 127.0.0.1:$sidecar_port" "$work/sidecar.yaml"
"$sidecar_bin" --check-config "$work/sidecar.yaml" >/dev/null || fail "$work/sidecar.yaml is not a valid config"

# --- Start --------------------------------------------------------------------

start nginx "$work/logs/nginx.out" /usr/sbin/nginx -p "$work/" -c "$work/nginx.conf"
wait_for_http nginx "$work/logs/nginx.out" "http://127.0.0.1:$app_port/status.json" 200

start sidecar "$work/logs/sidecar.log" "$sidecar_bin" --config "$work/sidecar.yaml"
wait_for_http sidecar "$work/logs/sidecar.log" "http://127.0.0.1:$sidecar_port/live" 200

start Prometheus "$work/logs/prometheus.log" /usr/bin/prometheus \
  --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prometheus" \
  --web.listen-address="127.0.0.1:$prom_port"
wait_for_http Prometheus "$work/logs/prometheus.log" "http://127.0.0.1:$prom_port/-/ready" 200
started_at=$(date +%s)

# --- Show -----------------------------------------------------------------------

echo
say "1. The app reports value 5, which the probe expects."
wait_for_ready 200
wait_for_prom 'min(sidecar_probe_success)' 1

echo
say "2. The app's value changes to 4."
set_value 4
wait_for_ready 503
wait_for_prom 'min(sidecar_probe_success)' 0

echo
say "3. The app's value is back to 5."
set_value 5
wait_for_ready 200
wait_for_prom 'min(sidecar_probe_success)' 1

echo
say "4. What Prometheus' HTTP API returns."
say "GET /api/v1/query?query=sidecar_probe_success"
echo "    $(prom_query sidecar_probe_success)"
say "GET /api/v1/query?query=sidecar_latency_seconds"
echo "    $(prom_query sidecar_latency_seconds)"
now=$(date +%s)
say "min(sidecar_probe_success) once a second over the demo (query_range):"
curl -s --max-time 5 --get --data-urlencode 'query=min(sidecar_probe_success)' \
  --data-urlencode "start=$started_at" --data-urlencode "end=$now" --data-urlencode 'step=1' \
  "http://127.0.0.1:$prom_port/api/v1/query_range" |
  grep -o '\[[0-9.]*,"[^"]*"\]' | tr -d '[]"' |
  while IFS=, read -r time value; do printf '%s=%s ' "$(date -d "@${time%.*}" +%H:%M:%S)" "$value"; done
echo

echo
say "5. The sidecar's requests as nginx logged them, counted by request line:"
awk -F'"' '{ print $2 }' "$work/logs/access.log" | sort | uniq -c | sed 's/^/    /'

# --- Keep or stop -----------------------------------------------------------------

echo
if $keep; then
  say "Still running, as --keep asked:"
  echo "    nginx       PID ${pids[0]}  http://127.0.0.1:$app_port/status.json"
  echo "    sidecar     PID ${pids[1]}  http://127.0.0.1:$sidecar_port/ (status page), /ready, /metrics"
  echo "    Prometheus  PID ${pids[2]}  http://127.0.0.1:$prom_port/"
  echo "    Files and logs in $work"
  echo "    Stop them with: kill ${pids[*]} && rm -rf $work"
else
  say "Done; stopping everything (run with --keep to leave it running)."
fi
