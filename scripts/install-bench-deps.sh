#!/usr/bin/env bash
# Installs the peers of the macro benchmarks (nginx, haproxy, wrk; h2load from nghttp2-client and
# nginx's echo module for the HTTP/2 + gRPC benchmark) from Debian.
# Idempotent: packages already present are skipped. The system nginx/haproxy services are
# kept from starting (the harness runs its own foreground instances from a temp dir) and
# stopped if an install started them anyway.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'; }

missing=()
if ! command -v nginx >/dev/null 2>&1; then
  if have_pkg nginx-light || have_pkg nginx; then :; else missing+=(nginx-light); fi
fi
command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v h2load >/dev/null 2>&1 || missing+=(nghttp2-client)
# The h2 origin reads POST bodies with echo_read_request_body (nginx-light depends on this module;
# the full nginx package does not).
if [ ! -e /usr/lib/nginx/modules/ngx_http_echo_module.so ] && ! printf '%s\n' "${missing[@]}" | grep -qx nginx-light; then
  missing+=(libnginx-mod-http-echo)
fi

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-bench-deps: installing ${missing[*]}"
  # Keep dpkg from starting services: a policy-rc.d that says "no" (only if none exists).
  policy=/usr/sbin/policy-rc.d
  added_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    added_policy=1
  fi
  cleanup() { if [ "$added_policy" = 1 ]; then $SUDO rm -f "$policy"; fi; }
  trap cleanup EXIT
  $SUDO apt-get update -qq
  # nginx-light is the small build; fall back to nginx where it does not exist.
  if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"; then
    fallback=("${missing[@]/nginx-light/nginx}")
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${fallback[@]}"
  fi
else
  echo "install-bench-deps: nginx (+ echo module), haproxy, wrk and h2load already present"
fi

# Make sure no system instance is left running (they would hold ports 80 and eat CPU).
for svc in nginx haproxy; do
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    $SUDO systemctl stop "$svc" >/dev/null 2>&1 || true
    $SUDO systemctl disable "$svc" >/dev/null 2>&1 || true
  elif [ -x "/etc/init.d/$svc" ]; then
    $SUDO "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
  fi
  pidfile="/run/$svc.pid"
  if [ -f "$pidfile" ]; then
    pid="$(cat "$pidfile" 2>/dev/null || true)"
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then $SUDO kill "$pid" || true; fi
  fi
done

nginx -v 2>&1
haproxy -v 2>&1 | head -n 1
wrk --version 2>&1 | head -n 1 || true
h2load --version 2>&1 | head -n 1 || true
