#!/usr/bin/env bash
# Makes Debian's Prometheus server and promtool available for the end-to-end tests
# (tests/e2e-prometheus.test.ts). Installs the `prometheus` package when /usr/bin/prometheus or
# /usr/bin/promtool is missing. Needs root (apt-get); nothing is started: the package's service is
# kept from starting (policy-rc.d), and the tests run /usr/bin/prometheus themselves on a free
# loopback port with a temporary config and storage directory.
#
# Exit codes: 0 ready; 2 not root (cannot install); 3 apt-get failed.
# Prints one line saying what happened (and apt's output on failure) to stderr.
set -u
PROM=${PROMETHEUS_BIN:-/usr/bin/prometheus}
PROMTOOL=${PROMTOOL_BIN:-/usr/bin/promtool}

if [ -x "$PROM" ] && [ -x "$PROMTOOL" ]; then
  echo "prometheus: already installed ($("$PROM" --version 2>&1 | head -1))" >&2
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "prometheus: $PROM missing and not root: cannot apt-get install prometheus" >&2
  exit 2
fi

log=$(mktemp)
# Keep dpkg from starting the service (no service manager is relied on; the tests start their
# own server). Only add a policy if the machine has none, and remove it afterwards.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && own_policy=1
fi
t0=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
if apt-get update -qq >"$log" 2>&1 \
  && apt-get install -y -qq --no-install-recommends prometheus >>"$log" 2>&1; then
  rc=0
else
  rc=3
fi
[ "$own_policy" = 1 ] && rm -f "$policy"
if [ "$rc" != 0 ] || [ ! -x "$PROM" ] || [ ! -x "$PROMTOOL" ]; then
  cat "$log" >&2
  echo "prometheus: apt-get install prometheus failed" >&2
  rm -f "$log"
  exit 3
fi
rm -f "$log"
echo "prometheus: installed in $(( $(date +%s) - t0 )) s ($("$PROM" --version 2>&1 | head -1))" >&2
exit 0
