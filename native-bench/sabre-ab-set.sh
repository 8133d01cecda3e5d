#!/usr/bin/env bash
# Two Sabre builds alone (no replica, no AOF), alternating: redis-benchmark SET -P 16, ops/s and the
# server's CPU µs per SET (utime + stime of all its threads). Shows what a change costs when the feature is off.
# Usage: bash native-bench/sabre-ab-set.sh <a/dist/cli.js> <b/dist/cli.js> [rounds] [requests]
set -euo pipefail
A=$1
B=$2
ROUNDS=${3:-5}
N=${4:-500000}
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
one() {
  local p pid t0 t1 r
  p=$(free_port)
  node "$1" server --port "$p" --bind 127.0.0.1 --save '' >/dev/null 2>&1 &
  pid=$!
  for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
  t0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  r=$(redis-benchmark -p "$p" -t set -P 16 -n "$N" -r 100000 -q 2>/dev/null | tr '\r' '\n' | grep -o 'SET: [0-9.][0-9.]*' | tail -1 | awk '{print $2}')
  t1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  echo "$r $(awk -v a="$t0" -v b="$t1" -v n="$N" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", (b-a)/hz*1e6/n}')"
}
for r in $(seq "$ROUNDS"); do
  echo "round $r: a $(one "$A")  b $(one "$B")  (ops/s, CPU µs/SET; load $(cut -d' ' -f1 /proc/loadavg))"
done
