#!/usr/bin/env bash
# Makes Debian packages the tests and benchmarks run available: `debian-tools.sh NAME PKG=BIN...`
# installs each package whose binary is missing, so a machine that has them answers at once.
# Needs root (apt-get). Nothing is started: the packages' services are kept from starting
# (policy-rc.d, only when the machine has no policy of its own); the tests start their own
# servers on loopback. Used by prometheus.sh, oci-tools.sh and wrk.sh.
#
# Exit codes: 0 ready; 2 not root (cannot install); 3 apt-get failed.
# Prints to stderr, prefixed NAME: one line before installing (what, and that it takes a while),
# one saying what happened (and apt's output on failure).
set -u
name=$1
shift
missing=()
for pair in "$@"; do
  [ -x "${pair#*=}" ] || missing+=("${pair%%=*}")
done
if [ ${#missing[@]} = 0 ]; then
  echo "$name: already installed" >&2
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "$name: ${missing[*]} missing and not root: cannot apt-get install them" >&2
  exit 2
fi
log=$(mktemp)
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && own_policy=1
fi
t0=$(date +%s)
# Said before the wait (apt-get update + install takes tens of seconds), not only after it.
echo "$name: installing ${missing[*]} with apt-get (Debian packages, as root; usually 15-60 s) ..." >&2
export DEBIAN_FRONTEND=noninteractive
if apt-get update -qq >"$log" 2>&1 \
  && apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$log" 2>&1; then
  rc=0
else
  rc=3
fi
[ "$own_policy" = 1 ] && rm -f "$policy"
for pair in "$@"; do [ -x "${pair#*=}" ] || rc=3; done
if [ "$rc" != 0 ]; then
  cat "$log" >&2
  echo "$name: apt-get install ${missing[*]} failed" >&2
  rm -f "$log"
  exit 3
fi
rm -f "$log"
echo "$name: installed ${missing[*]} in $(( $(date +%s) - t0 )) s" >&2
exit 0
