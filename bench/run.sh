#!/usr/bin/env bash
# bench/run.sh [BUILD_DIR] [runner options...]
#
# What `make bench` runs: builds the benchmark programs in the release preset (BUILD_DIR,
# default build-release), runs every workload against every server of bench/servers.conf in
# both placements (bench/README.md), then the scaling sweep, writes latest.{json,md,dat,gp} and
# scale.{dat,gp}, and draws latest.svg and scale.svg with gnuplot (installing gnuplot-nox if it
# is missing), showing each measurement with the time left.
# The results go to BUILD_DIR/bench-results, so a run leaves the working tree as it was; with
# UPDATE_RESULTS=1 they replace the committed ones in bench/results.
# Runner options after BUILD_DIR are passed on, e.g. --reps 10, --only uwsk-irp, --quick.
set -u -o pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build-release}
shift $(($# > 0 ? 1 : 0))
if [ "${UPDATE_RESULTS:-0}" = 1 ]; then
  results=$root/bench/results
else
  results=$build/bench-results
fi
mkdir -p "$results" || exit 1
echo "bench: results go to $results$([ "${UPDATE_RESULTS:-0}" = 1 ] || echo " (UPDATE_RESULTS=1: bench/results)")"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  else
    sudo "$@"
  fi
}

if ! command -v gnuplot >/dev/null 2>&1; then
  echo "bench: installing gnuplot-nox for the chart"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq && as_root apt-get install -y -qq --no-install-recommends gnuplot-nox ||
    echo "bench: could not install gnuplot-nox; the chart will be missing"
fi

# Measurements are taken with the release preset. Warnings are not errors here: the dev, ASan
# and TSan builds gate on them, and -O3 gives GCC 12 false positives a measurement need not stop for.
echo "bench: building in $build (release preset)"
cmake --preset release -S "$root" -B "$build" -DUWSK_WERROR=OFF -DUWSK_BUILD_BENCH=ON >/dev/null ||
  exit 1
cmake --build "$build" -j"$(nproc 2>/dev/null || echo 2)" --target uwsk-bench-all || exit 1

commit=$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)
"$build/bin/uwsk-bench-runner" --bin "$build/bin" --drivers "$build/drivers" \
  --servers "$root/bench/servers.conf" --out "$results" --micro "$build/bin/uwsk-bench-micro" \
  --commit "$commit" "$@"
status=$?

if command -v gnuplot >/dev/null 2>&1; then
  for chart in latest scale; do
    if [ -f "$results/$chart.gp" ]; then
      (cd "$results" && gnuplot "$chart.gp") && echo "bench: chart in $results/$chart.svg"
    fi
  done
fi
exit $status
