#!/usr/bin/env bash
# Runs Redis 7.0.15's own Tcl test suite (../shared/redis-tests, see its README) against a Sabre
# started here from dist/, and fails when any unit passes fewer tests than its floor in
# test/redis-suite-floor.txt. Floors only rise: after a change that passes more, run with --update.
#
# usage: scripts/redis-suite.sh [--update] [unit ...]
#   REDIS_TESTS   the suite's folder (default ../shared/redis-tests)
#   TIMEOUT       seconds per unit, passed on to run-suite.sh (default 300)
set -euo pipefail
cd "$(dirname "$0")/.."
update=0
if [ "${1:-}" = "--update" ]; then
  update=1
  shift
fi
suite=${REDIS_TESTS:-../shared/redis-tests}
floors=test/redis-suite-floor.txt
if [ ! -x "$suite/run-suite.sh" ]; then
  echo "redis-suite: skipped: $suite/run-suite.sh not found (set REDIS_TESTS to Redis 7.0.15's suite)"
  exit 0
fi
if ! command -v tclsh8.6 >/dev/null; then
  echo "redis-suite: skipped: tclsh8.6 is missing (Debian: apt-get install tcl)"
  exit 0
fi
[ -f dist/cli.js ] || { echo "redis-suite: dist/cli.js is missing: npm run build first" >&2; exit 2; }

work=$(mktemp -d)
units=("$@")
if [ ${#units[@]} -eq 0 ]; then
  mapfile -t units < <(grep -v '^#' "$floors" | cut -d' ' -f1)
fi
# Each unit gets a fresh server, as Redis's own runner gives each its own: a unit that stops
# half-way (a failed assertion before its cleanup) must not leave settings such as maxmemory
# behind for the units after it.
server=
trap '[ -n "$server" ] && kill $server 2>/dev/null; wait 2>/dev/null || true' EXIT
declare -A unitlogs=()
for u in "${units[@]}"; do
  port=$(node -e "const s=require('node:net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
  # As Redis's CI starts its external-mode server: the suite uses DEBUG and CONFIG SET dir.
  node dist/cli.js server --port "$port" --bind 127.0.0.1 \
    --enable-debug-command yes --enable-protected-configs yes --enable-module-command yes >>"$work/sabre.log" 2>&1 &
  server=$!
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    sleep 0.1
  done
  "$suite/run-suite.sh" "$port" "$u" >"$work/unit.out" 2>&1 || true
  grep -E '^unit/[^:]+: [0-9]+ passed, [0-9]+ failed$' "$work/unit.out" >>"$work/suite.out" || true
  unitlogs[$u]=$(sed -n 's/^logs: \([^ ]*\).*/\1/p' "$work/unit.out")
  kill $server 2>/dev/null || true
  wait $server 2>/dev/null || true
  server=
done
touch "$work/suite.out"
logs=$work

below=0
total=0
declare -A floor=()
while read -r unit n; do
  [ -n "$unit" ] && floor[$unit]=$n
done < <(grep -v '^#' "$floors")
while IFS= read -r line; do
  unit=${line%%:*}
  passed=$(echo "$line" | sed -E 's/^[^:]+: ([0-9]+) passed, ([0-9]+) failed$/\1/')
  failed=$(echo "$line" | sed -E 's/^[^:]+: ([0-9]+) passed, ([0-9]+) failed$/\2/')
  want=${floor[$unit]:-0}
  total=$((total + passed))
  mark=ok
  if [ "$passed" -lt "$want" ]; then
    mark="BELOW FLOOR"
    below=1
  fi
  printf 'redis-suite %-26s %4d pass, %3d do not (floor %d) %s\n' "$unit" "$passed" "$failed" "$want" "$mark"
  if [ "$mark" != ok ] && [ -n "${unitlogs[$unit]:-}" ]; then
    grep -E '^\[(err|exception)\]' "${unitlogs[$unit]}/$(echo "$unit" | tr / _).log" | head -20 | sed 's/^/    /'
  fi
  if [ "$update" -eq 1 ] && [ "$passed" -gt "$want" ]; then floor[$unit]=$passed; fi
done < <(grep -E '^unit/[^:]+: [0-9]+ passed, [0-9]+ failed$' "$work/suite.out")

if [ "$update" -eq 1 ]; then
  {
    echo "# Tests of Redis 7.0.15's suite each unit passes at least (scripts/redis-suite.sh; real Redis: 1626 in all)."
    for unit in $(printf '%s\n' "${!floor[@]}" | sort); do echo "$unit ${floor[$unit]}"; done
  } >"$floors"
  echo "redis-suite: floors written to $floors"
fi
echo "redis-suite: $total tests of Redis's suite pass; logs in ${logs:-$work}"
if [ "$below" -ne 0 ]; then
  echo "redis-suite: a unit passes fewer tests than its floor" >&2
  exit 1
fi
