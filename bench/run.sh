#!/usr/bin/env bash
# bench/run.sh [BUILD_DIR] [runner options...]
#
# What `make bench` runs: builds the benchmark programs in the release preset (BUILD_DIR,
# default build-release), runs every workload against every server of bench/servers.conf in
# both placements (bench/README.md), then the scaling sweep, writes latest.{json,md,dat,gp} and
# scale.{dat,gp}, and draws latest.svg and scale.svg with gnuplot (installing gnuplot-nox if it
# is missing), showing each measurement with the time left; then counts instructions with
# callgrind (bench/profile.sh; installing valgrind if it is missing): the verifier's cost and
# what each call of the IRP and event echo drivers into uwsk costs.
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
if ! command -v valgrind >/dev/null 2>&1; then
  echo "bench: installing valgrind for the instruction counts"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq && as_root apt-get install -y -qq --no-install-recommends valgrind ||
    echo "bench: could not install valgrind; the instruction counts will be missing"
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

# The verifier's cost in instructions (bench/README.md, "Verifier cost"): the rates of pp64 with
# the bookkeeping on and off differ by less than this VM's noise, so callgrind counts what each
# executes per message; the target is on <= 1.10 x off. Skipped with --quick or without valgrind.
quick=0
for arg in "$@"; do
  [ "$arg" = --quick ] && quick=1
done
if [ "$quick" = 0 ] && command -v valgrind >/dev/null 2>&1 && [ -f "$results/latest.md" ]; then
  echo "bench: verifier cost in instructions (callgrind, pp64, 5 s each)"
  per_message() {
    sed -n 's/^profile: .* instructions for .* operations .*: \([0-9]*\) per operation$/\1/p' <<<"$1"
  }
  # The table of the driver's calls into uwsk that profile.sh prints, as Markdown rows.
  calls_rows() {
    sed -n '/^instr\/op  calls\/op/,/^profile:/p' <<<"$1" | sed '1d;/^profile:/d' |
      awk '{ name = $4; for (i = 5; i <= NF; i++) name = name " " $i
             printf "| `%s` | %s | %s | %s |\n", name, $3, $2, $1 }'
  }
  on_profile=$("$root/bench/profile.sh" uwsk-irp-epoll pp64 5 "$build" 2>&1)
  off_profile=$("$root/bench/profile.sh" uwsk-irp-epoll-verify-off pp64 5 "$build" 2>&1)
  on=$(per_message "$on_profile")
  off=$(per_message "$off_profile")
  if [ -n "$on" ] && [ -n "$off" ] && [ "$off" -gt 0 ]; then
    ratio=$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.3f", a / b }')
    verdict=$(awk -v r="$ratio" 'BEGIN { print (r <= 1.10 ? "holds" : "MISSED") }')
    {
      echo
      echo "## Verifier cost in instructions (callgrind, pp64, epoll, set-up included)"
      echo
      echo "| bookkeeping | user-space instructions per message |"
      echo "|---|---|"
      echo "| on (uwsk-irp-epoll) | $on |"
      echo "| off (uwsk-irp-epoll-verify-off) | $off |"
      echo
      echo "on / off = $ratio (target <= 1.10: $verdict)"
    } >>"$results/latest.md"
    echo "bench: verifier cost: $on / $off instructions per message = $ratio ($verdict)"
  else
    echo "bench: the verifier's instruction count could not be taken (bench/profile.sh failed)"
  fi
  # What each call the drivers make into uwsk costs (bench/README.md, "Verifier cost"): the IRP
  # echo from the run above, and the event echo.
  echo "bench: the drivers' calls into uwsk (callgrind, pp64, 5 s)"
  event_profile=$("$root/bench/profile.sh" uwsk-event-epoll pp64 5 "$build" 2>&1)
  for server in uwsk-irp-epoll uwsk-event-epoll; do
    output=$on_profile
    [ "$server" = uwsk-event-epoll ] && output=$event_profile
    rows=$(calls_rows "$output")
    [ -n "$rows" ] || continue
    {
      echo
      echo "## The driver's calls into uwsk: $server (callgrind, pp64, epoll, per message)"
      echo
      echo "$(per_message "$output") user-space instructions per message in all. Each call's cost"
      echo "is inclusive: a call that completed an IRP at once includes the completion routine it"
      echo "ran and what that called, so the rows overlap."
      echo
      echo "| function | instructions per call | calls per message | instructions per message |"
      echo "|---|---|---|---|"
      echo "$rows"
    } >>"$results/latest.md"
  done
fi

if command -v gnuplot >/dev/null 2>&1; then
  for chart in latest scale; do
    if [ -f "$results/$chart.gp" ]; then
      (cd "$results" && gnuplot "$chart.gp") && echo "bench: chart in $results/$chart.svg"
    fi
  done
fi
exit $status
