#!/usr/bin/env bash
# Configures and builds every target in build/ (Release, Ninja).
#
#   scripts/build.sh [ninja target...]
#
# Environment: BUILD_DIR (default build), BUILD_TYPE (default Release) and
# JOBS (default the number of processors). CMakeLists.txt compiles through
# ccache when it is installed, so a rebuild of unchanged files is cheap.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${BUILD_DIR:-build}
build_type=${BUILD_TYPE:-Release}
jobs=${JOBS:-$(nproc)}

cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="$build_type"
ninja -C "$build_dir" -j "$jobs" "$@"
