#!/usr/bin/env bash
# Master write throughput with one replica attached: Sabre master + Redis 7.0 replica against
# Redis master + Redis replica, and Sabre alone (what propagation costs), in alternating rounds.
# Usage: bash native-bench/repl-master-write.sh [rounds] [requests]   (needs npm run build, redis-server, redis-benchmark)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
N=${2:-500000}
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
DIR=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$DIR"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 100); do redis-cli -p "$1" ping >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }
wait_sync() { for _ in $(seq 300); do redis-cli -p "$1" info replication | grep -q 'master_link_status:up' && return 0; sleep 0.1; done; return 1; }

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
bench() { redis-benchmark -p "$1" -t set -P 16 -n "$N" -r 100000 -q 2>/dev/null | tr '\r' '\n' | grep -o 'SET: [0-9.][0-9.]*' | tail -1 | awk '{print $2}'; }

run_pair() { # $1: master kind (sabre|redis), $2: with replica (yes|no)
  local mp rp mpid rpid
  mp=$(free_port)
  mkdir -p "$DIR/$mp"
  if [ "$1" = sabre ]; then
    node dist/cli.js server --port "$mp" --bind 127.0.0.1 --save '' --dir "$DIR/$mp" --repl-diskless-sync-delay 0 >/dev/null 2>&1 &
  else
    redis-server --port "$mp" --bind 127.0.0.1 --save '' --dir "$DIR/$mp" --repl-diskless-sync-delay 0 >/dev/null 2>&1 &
  fi
  mpid=$!
  PIDS+=("$mpid")
  wait_port "$mp"
  rpid=""
  if [ "$2" = yes ]; then
    rp=$(free_port)
    mkdir -p "$DIR/$rp"
    redis-server --port "$rp" --bind 127.0.0.1 --save '' --dir "$DIR/$rp" --replicaof 127.0.0.1 "$mp" >/dev/null 2>&1 &
    rpid=$!
    PIDS+=("$rpid")
    wait_port "$rp"
    wait_sync "$rp"
  fi
  local t0 t1 rps
  t0=$(cpu_ticks "$mpid")
  rps=$(bench "$mp")
  t1=$(cpu_ticks "$mpid")
  # ops/s and the master's CPU µs per SET (all its threads; clock ticks of 10 ms).
  echo "$rps $(awk -v a="$t0" -v b="$t1" -v n="$N" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", (b-a)/hz*1e6/n}')"
  if [ -n "$rpid" ]; then
    # The replica must have applied everything: the master's offset and the replica's agree.
    local mo ro
    for _ in $(seq 200); do
      mo=$(redis-cli -p "$mp" info replication | grep '^master_repl_offset' | cut -d: -f2 | tr -d '\r')
      ro=$(redis-cli -p "$rp" info replication | grep '^master_repl_offset' | cut -d: -f2 | tr -d '\r')
      [ "$mo" = "$ro" ] && break
      sleep 0.1
    done
    [ "$mo" = "$ro" ] || echo "replica behind: master $mo replica $ro" >&2
    kill "$rpid"
  fi
  kill "$mpid"
  wait "$mpid" 2>/dev/null || true
  if [ -n "$rpid" ]; then wait "$rpid" 2>/dev/null || true; fi
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
KINDS="sabre-rep redis-rep sabre-alone redis-alone"
for k in $KINDS; do : >"$DIR/$k"; done
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$ROUNDS"); do
  line="round $r:"
  for k in $KINDS; do
    v=$(run_pair "${k%-*}" "$([ "${k#*-}" = rep ] && echo yes || echo no)")
    echo "$v" >>"$DIR/$k"
    line="$line  $k ${v// / ops\/s, } µs/op"
  done
  echo "$line  (load $(cut -d' ' -f1 /proc/loadavg))"
done
echo "medians (ops/s, master CPU µs/op):"
for k in $KINDS; do echo "  $k $(cut -d' ' -f1 "$DIR/$k" | median) $(cut -d' ' -f2 "$DIR/$k" | median)"; done
S=$(cut -d' ' -f1 "$DIR/sabre-rep" | median); R=$(cut -d' ' -f1 "$DIR/redis-rep" | median)
echo "ratio sabre/redis with a replica: $(awk -v s="$S" -v r="$R" 'BEGIN{printf "%.2f", s/r}')"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
