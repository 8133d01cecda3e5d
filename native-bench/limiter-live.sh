#!/usr/bin/env bash
# Rate limiting end to end: CL.THROTTLE throughput under redis-benchmark, and hey through
# sabre proxy with a limit in force (admitted count vs what the policy allows).
# Needs native-bench/setup.sh (redis-benchmark, nginx, hey) and `npm run build`.
set -euo pipefail
cd "$(dirname "$0")/.."
for t in redis-benchmark nginx hey; do command -v "$t" >/dev/null || { echo "missing $t: run sudo bash native-bench/setup.sh" >&2; exit 1; }; done
[ -f dist/cli.js ] || { echo "run npm run build first" >&2; exit 1; }
work=$(mktemp -d)
free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
SP=$(free_port); B1=$(free_port); B2=$(free_port); PP=$(free_port); AP=$(free_port)
cleanup() { kill "${SABRE:-}" "${PROXY:-}" 2>/dev/null || true; nginx -c "$work/nginx.conf" -s stop 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

node dist/cli.js server --port "$SP" > "$work/server.log" 2>&1 & SABRE=$!
cat > "$work/nginx.conf" <<NGINX
worker_processes 1; pid $work/nginx.pid; error_log $work/nginx.err;
events { worker_connections 1024; }
http { access_log off;
  server { listen 127.0.0.1:$B1; location / { return 200 "one\n"; } }
  server { listen 127.0.0.1:$B2; location / { return 200 "two\n"; } } }
NGINX
nginx -c "$work/nginx.conf"
LIMIT=1000; WINDOW=60
cat > "$work/proxy.json" <<JSON
{ "listen": { "host": "127.0.0.1", "port": $PP }, "threads": 2, "admin": { "port": $AP },
  "backends": [ { "url": "http://127.0.0.1:$B1" }, { "url": "http://127.0.0.1:$B2" } ],
  "rateLimit": { "policies": [ { "name": "api", "key": "endpoint", "limit": $LIMIT, "window": "${WINDOW}s" } ] } }
JSON
node dist/cli.js proxy --config "$work/proxy.json" > "$work/proxy.log" 2>&1 & PROXY=$!
sleep 2

out=native-bench/results/limiter-live.md
{
  echo "# Rate limiting end to end, $(date -u +%FT%TZ)"
  echo
  echo "Command: \`bash native-bench/limiter-live.sh\`; $(nproc) cores, Node $(node -v), load average $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "## CL.THROTTLE in sabre server (redis-benchmark -c 50 -n 200000 -r 10000)"
  echo
  echo "| -P | ops/s | p50 ms | p99 ms |"
  echo "|--:|--:|--:|--:|"
  for P in 1 16; do
    row=$(redis-benchmark -p "$SP" -c 50 -n 200000 -P "$P" -r 10000 --csv CL.THROTTLE 'user:__rand_int__' 100 1000 60 | tail -1 | tr -d '"')
    echo "| $P | $(echo "$row" | cut -d, -f2) | $(echo "$row" | cut -d, -f5) | $(echo "$row" | cut -d, -f7) |"
  done
  echo
  echo "## hey -n 5000 -c 50 through sabre proxy (2 threads), policy: $LIMIT requests per ${WINDOW} s on the endpoint"
  echo
  start=$(date +%s.%N)
  codes=$(hey -n 5000 -c 50 "http://127.0.0.1:$PP/" | sed -n '/Status code distribution/,$p')
  elapsed=$(echo "$(date +%s.%N) - $start" | bc)
  ok=$(echo "$codes" | awk '/\[200\]/{print $2}'); ok=${ok:-0}
  limited=$(echo "$codes" | awk '/\[429\]/{print $2}'); limited=${limited:-0}
  allowed=$(echo "$LIMIT + $elapsed * $LIMIT / $WINDOW" | bc -l | cut -d. -f1)
  echo "- admitted (200): $ok; limited (429): $limited; run took ${elapsed%???????} s"
  echo "- the policy allows the burst of $LIMIT plus refill at $LIMIT/$WINDOW per second over the run: at most $allowed"
} | tee "$out"
