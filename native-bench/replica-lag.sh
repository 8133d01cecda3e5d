#!/usr/bin/env bash
# How fast a replica applies its master's stream: a real redis-server master, a replica that is
# either real Redis or Sabre (built in dist/), redis-benchmark -P 16 SET on the master; samples the
# lag (master_repl_offset - the replica's slave_repl_offset) every 200 ms during the run and
# measures how long the replica needs to catch up once the benchmark ends. Rounds alternate.
#
# usage: native-bench/replica-lag.sh [rounds]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
work=$(mktemp -d)
fp() { node -e "const s=require('node:net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
offset() { redis-cli -p "$1" info replication | grep "^$2:" | cut -d: -f2 | tr -d '\r'; }
one() {
  local kind=$1 mp rp rpid bp maxlag=0 lag mo ro bend
  mp=$(fp)
  rp=$(fp)
  rm -f "$work"/*.rdb
  redis-server --port "$mp" --save '' --daemonize yes --logfile "$work/m.log" --dir "$work" --repl-diskless-sync-delay 0 --pidfile "$work/m.pid"
  if [ "$kind" = sabre ]; then
    node dist/cli.js server --port "$rp" --shards 1 --dir "$work" --dbfilename r.rdb --save '' --replicaof "127.0.0.1 $mp" >"$work/r.log" 2>&1 &
  else
    redis-server --port "$rp" --save '' --dir "$work" --dbfilename r.rdb --replicaof 127.0.0.1 "$mp" >"$work/r.log" 2>&1 &
  fi
  rpid=$!
  until redis-cli -p "$rp" info replication 2>/dev/null | grep -q master_link_status:up; do sleep 0.2; done
  redis-benchmark -p "$mp" -P 16 -n 1000000 -t set -r 100000 -q >"$work/bench.txt" 2>&1 &
  bp=$!
  while kill -0 "$bp" 2>/dev/null; do
    lag=$(($(offset "$mp" master_repl_offset) - $(offset "$rp" slave_repl_offset)))
    [ "$lag" -gt "$maxlag" ] && maxlag=$lag
    sleep 0.2
  done
  bend=$(date +%s.%N)
  mo=$(offset "$mp" master_repl_offset)
  until ro=$(offset "$rp" slave_repl_offset) && [ "$ro" -ge "$mo" ]; do sleep 0.05; done
  printf '%-6s %s max_lag_bytes=%s catch_up_after_run_s=%.3f\n' "$kind" "$(tr '\r' '\n' <"$work/bench.txt" | grep -o 'SET: [0-9.]* requests per second' | tail -1)" "$maxlag" "$(echo "$(date +%s.%N) - $bend" | bc)"
  kill "$rpid"
  kill "$(cat "$work/m.pid")"
  wait "$rpid" 2>/dev/null || true
}
for _ in $(seq "$rounds"); do
  one redis
  one sabre
done
rm -rf "$work"
