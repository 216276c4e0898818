#!/usr/bin/env bash
# Installs the Debian packages uwsk needs, only those that are missing, without prompts.
set -euo pipefail

packages=(
  build-essential   # gcc, g++, make
  cmake             # the build
  pkg-config        # uwsk-driver.pc for drivers with their own build
  python3           # cmake/uwsk_api.py (exports, docs/api.md) and uwsk-tracewpp (WPP headers); standard library only
  clang             # the header tests also build the C driver units with Clang
  libgtest-dev      # unit tests
  libgmock-dev      # unit tests (matchers)
  libbenchmark-dev  # micro benchmarks
  libcli11-dev      # uwsk-run's command line
  liburing-dev      # the io_uring engine
  nlohmann-json3-dev # uwsk-trace-svg and the trace tests read trace files (JSON)
  libdw-dev         # stacks resolved to function and file:line in bug-check and crash reports
  libboost-dev      # Boost.Asio baseline in the benchmarks
  iproute2          # network namespaces for the packet-loss and dropped-SYN tests (ip netns)
  nftables          # the packet loss and SYN drops inside those namespaces (nft)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
