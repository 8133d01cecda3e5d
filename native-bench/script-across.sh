#!/bin/bash
# Scripts on a 3-shard Sabre against real Redis, alternating rounds (redis-benchmark, 20 clients):
# one shard's keys (hash-tagged), keys on two shards, and a script declaring no keys.
# BASE=<a checkout built before cross-shard scripts> also runs that build for comparison.
# Usage: native-bench/script-across.sh [rounds]
set -u
ROUNDS=${1:-3}
HERE=$(cd "$(dirname "$0")/.." && pwd)
fp() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
declare -A PORT
PIDS=()

PORT[new]=$(fp); node "$HERE/dist/cli.js" server --port ${PORT[new]} --bind 127.0.0.1 --shards 3 >/dev/null 2>&1 & PIDS+=($!)
PORT[redis]=$(fp); redis-server --port ${PORT[redis]} --save '' --appendonly no --daemonize no >/dev/null 2>&1 & PIDS+=($!)
NAMES="new redis"
if [ -n "${BASE:-}" ]; then
  PORT[base]=$(fp); node "$BASE/dist/cli.js" server --port ${PORT[base]} --bind 127.0.0.1 --shards 3 >/dev/null 2>&1 & PIDS+=($!)
  NAMES="base new redis"
fi
OUT=$(mktemp -d)
trap 'kill ${PIDS[@]} 2>/dev/null; rm -rf "$OUT"' EXIT
# Wait for PING rather than a fixed time: on a loaded machine Sabre takes seconds to start, and a
# script loaded before it answers is missing (redis-benchmark then spins on NOSCRIPT).
for n in $NAMES; do until redis-cli -p ${PORT[$n]} ping 2>/dev/null | grep -q PONG; do sleep 0.1; done; done
SCRIPT="redis.call('SET', KEYS[1], ARGV[1]) redis.call('INCR', KEYS[2]) return redis.call('GET', KEYS[1])"
for n in $NAMES; do redis-cli -p ${PORT[$n]} script load "$SCRIPT" >/dev/null; redis-cli -p ${PORT[$n]} script load "return 1" >/dev/null; done
SHA=$(redis-cli -p ${PORT[redis]} script load "$SCRIPT")
ONE=$(redis-cli -p ${PORT[redis]} script load "return 1")
# rate SERVER CASE N ARGS...: requests/s of one run; its whole report is kept for the HDR files.
rate() {
  local out="$OUT/$1.$2.$round.out"
  redis-benchmark -p "${PORT[$1]}" -n "$3" -c 20 "${@:4}" >"$out" 2>/dev/null
  grep -o 'throughput summary: [0-9.]*' "$out" | grep -o '[0-9.]*$'
}
for round in $(seq "$ROUNDS"); do
  for n in $NAMES; do
    echo "$round $n one-shard $(rate $n one-shard 30000 evalsha $SHA 2 '{u}k' '{u}n' v)"
    echo "$round $n two-shards $(rate $n two-shards 10000 evalsha $SHA 2 k1 k2 v)"
    echo "$round $n no-keys $(rate $n no-keys 10000 evalsha $ONE 0)"
  done
done
# Latency by percentile of each case, per server (results/script-across/): the section to paste into results/script-across.md.
echo
node "$HERE/native-bench/lib/redis-benchmark.mjs" hdr "$HERE/native-bench/results/script-across" "$OUT"/*.out
