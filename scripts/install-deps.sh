#!/usr/bin/env bash
# Installs the Debian 12 packages that sidecar needs, and only those missing.
#
#   scripts/install-deps.sh [--check] [build] [test] [demo] [bench]
#
# Groups (several may be given; none means `build test`):
#   build  compilers, CMake, Ninja and the C++ libraries
#   test   build, plus nginx, Prometheus (with promtool), curl and procps
#   demo   the same as test: the demo runs nginx and Prometheus beside the sidecar
#   bench  test, plus the load generator and the peers the benchmarks compare with
#
# It runs `apt-get update` once and installs only when a package is missing,
# so a second run does nothing. --check lists the missing packages and exits
# 1 when there are any, without installing.
#
# Services: the nginx and prometheus packages would start their system
# services on install. When /usr/sbin/policy-rc.d does not exist, this
# script writes one that answers 101 ("action forbidden"), so that
# invoke-rc.d starts nothing, and removes it after the install. An existing
# policy-rc.d is left as it is and decides alone.
set -euo pipefail

build_packages=(
  cmake ninja-build g++ ccache pkg-config
  libboost1.81-dev libsimdjson-dev prometheus-cpp-dev libre2-dev libyaml-cpp-dev
  catch2 libbenchmark-dev
)
runtime_packages=(nginx-light prometheus curl procps iproute2 python3)
bench_packages=(
  wrk gnuplot-nox prometheus-blackbox-exporter
  python3-pyramid python3-waitress python3-prometheus-client
  prometheus-pushgateway mtail
)

usage() {
  # The header comment, from the second line to the first line of code.
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
  exit 2
}

# Parse the arguments into the list of wanted packages.
check_only=false
groups=()
for arg in "$@"; do
  case "$arg" in
    --check) check_only=true ;;
    build | test | demo | bench) groups+=("$arg") ;;
    -h | --help) usage ;;
    *)
      echo "install-deps: unknown argument \"$arg\", expected build, test, demo, bench or --check" >&2
      exit 2
      ;;
  esac
done
[[ ${#groups[@]} -eq 0 ]] && groups=(build test)

wanted=()
for group in "${groups[@]}"; do
  wanted+=("${build_packages[@]}")
  case "$group" in
    test | demo) wanted+=("${runtime_packages[@]}") ;;
    bench) wanted+=("${runtime_packages[@]}" "${bench_packages[@]}") ;;
  esac
done
mapfile -t wanted < <(printf '%s\n' "${wanted[@]}" | sort -u)

# Find the missing ones.
missing=()
for package in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
  [[ "$status" == installed ]] || missing+=("$package")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#wanted[@]} packages for ${groups[*]} are installed"
  exit 0
fi
if $check_only; then
  echo "install-deps: missing: ${missing[*]}"
  exit 1
fi

if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then
    exec sudo --preserve-env=DEBIAN_FRONTEND "$0" "$@"
  fi
  echo "install-deps: missing ${missing[*]}; run this script as root to install them" >&2
  exit 1
fi

# Keep package scripts from starting services while we install.
policy=/usr/sbin/policy-rc.d
created_policy=false
if [[ ! -e "$policy" ]]; then
  printf '#!/bin/sh\n# Written by sidecar scripts/install-deps.sh during an install.\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  created_policy=true
fi
remove_policy() {
  if $created_policy; then rm -f "$policy"; fi
}
trap remove_policy EXIT

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
