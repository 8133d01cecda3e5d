#!/usr/bin/env bash
# Regenerates test/persistence/fixtures/: small dump.rdb files and DUMP payloads written by the
# installed real Redis (7.0.x), one per encoding Sabre's RDB reader must understand.
# Usage: native-bench/make-rdb-fixtures.sh   (needs redis-server and redis-cli on PATH)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/test/persistence/fixtures"
TMP="$(mktemp -d)"
PORT="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
redis-server --port "$PORT" --bind 127.0.0.1 --dir "$TMP" --dbfilename dump.rdb --save '' \
  --appendonly no --daemonize yes --pidfile "$TMP/redis.pid" --logfile "$TMP/redis.log"
trap 'kill "$(cat "$TMP/redis.pid")" 2>/dev/null || true; rm -rf "$TMP"' EXIT
cli() { redis-cli -p "$PORT" "$@" >/dev/null; }
for _ in $(seq 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
mkdir -p "$OUT"

save_as() { cli SAVE; cp "$TMP/dump.rdb" "$OUT/$1"; cli FLUSHALL; }

# strings: int-encoded (8/16/32-bit and beyond 32 bits as text), raw, LZF-compressed, empty, binary
cli SET int8 12
cli SET int16 -1234
cli SET int32 123456789
cli SET int64 9007199254740993
cli SET raw "hello world"
cli SET empty ""
cli SET compressed "$(printf 'abcabcabc%.0s' $(seq 40))"
printf 'bin\x00\xff\x01' | redis-cli -p "$PORT" -x SET binary >/dev/null
cli SET withttl v PXAT 4102444800000
save_as strings.rdb

# lists: one small listpack node; several nodes; inner nodes LZF-compressed (list-compress-depth 1)
cli RPUSH small a b 1 -2 300 70000 4294967296 -9223372036854775808
for i in $(seq 0 99); do cli RPUSH big "item-$i-$(printf 'x%.0s' $(seq 100))"; done
cli CONFIG SET list-compress-depth 1
for i in $(seq 0 249); do cli RPUSH deep "deep-$i-$(printf 'y%.0s' $(seq 100))"; done
save_as lists.rdb
cli CONFIG SET list-compress-depth 0

# hashes: listpack (small) and hashtable (over hash-max-listpack-entries)
cli HSET hsmall f1 v1 f2 2 f3 ""
for i in $(seq 0 199); do cli HSET hbig "field:$i" "value:$i"; done
cli PEXPIREAT hbig 4102444800000
save_as hashes.rdb

# sets: intset and hashtable
cli SADD sint 1 2 3 -5 100000 5000000000
cli SADD sstr a b c
save_as sets.rdb

# sorted sets: listpack and skiplist, with fractional, integer and infinite scores
cli ZADD zsmall 1 a 2.5 b -3 c inf d -inf e
for i in $(seq 0 199); do cli ZADD zbig "$i.25" "m$i"; done
save_as zsets.rdb

# several databases with expiries
cli SELECT 0
redis-cli -p "$PORT" -n 0 SET k0 v0 >/dev/null
redis-cli -p "$PORT" -n 3 SET k3 v3 PXAT 4102444800000 >/dev/null
redis-cli -p "$PORT" -n 15 RPUSH l15 x y >/dev/null
save_as multidb.rdb

# DUMP payloads of one key per encoding
dump_as() { redis-cli -p "$PORT" --raw DUMP "$1" | head -c -1 > "$OUT/dump-$2.bin"; }
cli SET s 123; dump_as s string-int
cli SET s "plain text value"; dump_as s string-raw
cli SET s "$(printf 'zzzzzzzzzz%.0s' $(seq 20))"; dump_as s string-lzf
cli RPUSH l a b 3; dump_as l list
cli HSET h f v n 1; dump_as h hash-listpack
for i in $(seq 0 199); do cli HSET hh "f$i" "v$i"; done; dump_as hh hash-table
cli SADD si 1 2 3; dump_as si set-intset
cli SADD ss x y z; dump_as ss set-table
cli ZADD z 1 a 2.5 b; dump_as z zset-listpack
for i in $(seq 0 199); do cli ZADD zz "$i.5" "m$i"; done; dump_as zz zset-skiplist

# A Redis 7.0 multi-part AOF: base file with an RDB preamble (after BGREWRITEAOF), then an incremental file
rm -rf "$OUT/appendonlydir"
cli FLUSHALL
cli CONFIG SET appendonly yes
for _ in $(seq 50); do [ "$(redis-cli -p "$PORT" INFO persistence | grep -c 'aof_rewrite_in_progress:0')" = 1 ] && break; sleep 0.1; done
cli SET before rewrite
cli BGREWRITEAOF
for _ in $(seq 50); do [ "$(redis-cli -p "$PORT" INFO persistence | grep -c 'aof_rewrite_in_progress:0')" = 1 ] && break; sleep 0.1; done
sleep 0.5
cli SET after rewrite
cli CONFIG SET appendonly no
cp -r "$TMP/appendonlydir" "$OUT/appendonlydir"
rm -f "$OUT"/appendonlydir/*.history*
ls -laR "$OUT"
