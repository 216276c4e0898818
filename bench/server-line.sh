# shellcheck shell=bash
# bench/server-line.sh: what bench/profile.sh and bench/cpu-split.sh share, sourced by both.
#
# bench_own_port BUILD SCRIPT ARGS...: unless UWSK_BENCH_PORT is set, runs SCRIPT ARGS... again
# under uwsk-bench-port, which holds a port of its own for it until it ends (as a benchmark run
# gets one; bench/README.md, "Ports"), and does not return.
#
# bench_wait_port_free PORT: waits (up to 5 s) until nothing listens on 127.0.0.1:PORT, as a
# server that has just exited may still do: an io_uring server's sockets are released by the
# kernel after the process ends, when its rings are torn down. Returns 1 if something still does.
#
# bench_server_command NAME BUILD PORT LOG: the command line of server NAME of bench/servers.conf
# with {bin}, {drivers}, {port} and {log} filled in, split into the arrays bench_env (its leading
# VARIABLE=value words) and bench_command (the rest); returns 1, saying why, when there is no
# such server.

bench_own_port() {
  local build=$1
  shift
  [ -n "${UWSK_BENCH_PORT:-}" ] && return 0
  if [ ! -x "$build/bin/uwsk-bench-port" ]; then
    echo "$(basename "$1"): $build/bin/uwsk-bench-port is missing (bench/run.sh builds it)" >&2
    exit 1
  fi
  exec "$build/bin/uwsk-bench-port" "$@"
}

bench_server_command() {
  local name=$1 build=$2 port=$3 log=$4 line rest
  local conf
  conf="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/servers.conf"
  line=$(awk -v name="$name" '$0 !~ /^[[:space:]]*#/ && $1 == name' "$conf")
  if [ -z "$line" ]; then
    echo "no server '$name' in bench/servers.conf" >&2
    return 1
  fi
  read -r _ _ _ rest <<<"$line"
  rest=${rest//\{bin\}/$build/bin}
  rest=${rest//\{drivers\}/$build/drivers}
  rest=${rest//\{port\}/$port}
  rest=${rest//\{log\}/$log}
  read -r -a bench_command <<<"$rest"
  bench_env=()
  while [ ${#bench_command[@]} -gt 0 ] && [[ ${bench_command[0]} == *=* && ${bench_command[0]} != */* ]]; do
    bench_env+=("${bench_command[0]}")
    bench_command=("${bench_command[@]:1}")
  done
}

bench_wait_port_free() {
  local port=$1 attempt
  for ((attempt = 0; attempt < 100; ++attempt)); do
    # Connecting succeeds only while something listens (bash's /dev/tcp).
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    sleep 0.05
  done
  return 1
}
