#!/usr/bin/env bash
# Installs the real tools the benchmarks compare against (Debian/Ubuntu, as root).
# Tests never need these; only native-bench/ does.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then echo "run as root (apt-get)" >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  redis-server redis-tools \
  nginx haproxy \
  wrk hey apache2-utils \
  procps
# The packaged services must not hold the default ports: the benchmarks start their own.
for svc in redis-server nginx haproxy; do
  (systemctl disable --now "$svc" 2>/dev/null || service "$svc" stop 2>/dev/null || true) >/dev/null
done
pkill -x redis-server 2>/dev/null || true
pkill -x nginx 2>/dev/null || true
pkill -x haproxy 2>/dev/null || true
echo "native-bench tools installed: $(redis-server --version | cut -d' ' -f3), nginx $(nginx -v 2>&1 | cut -d/ -f2), $(haproxy -v | head -1 | cut -d' ' -f1-3)"
