#!/usr/bin/env bash
# Makes Debian's OCI tools available for `npm run image` and the registry round trip
# (tests/image.test.ts): umoci (builds the image), skopeo (pushes it), docker-registry (the
# local registry the test starts on loopback). Installs the missing packages only, so a machine
# that has them answers at once. Needs root (apt-get). Nothing is started: the registry
# package's service is kept from starting (policy-rc.d); the test runs its own registry.
#
# Exit codes: 0 ready; 2 not root (cannot install); 3 apt-get failed.
# Prints one line saying what happened (and apt's output on failure) to stderr.
set -u
declare -A bin_of=([umoci]=/usr/bin/umoci [skopeo]=/usr/bin/skopeo [docker-registry]=/usr/bin/docker-registry)
missing=()
for pkg in umoci skopeo docker-registry; do
  [ -x "${bin_of[$pkg]}" ] || missing+=("$pkg")
done
if [ ${#missing[@]} = 0 ]; then
  echo "oci-tools: already installed (umoci, skopeo, docker-registry)" >&2
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "oci-tools: ${missing[*]} missing and not root: cannot apt-get install them" >&2
  exit 2
fi

log=$(mktemp)
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && own_policy=1
fi
t0=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
if apt-get update -qq >"$log" 2>&1 \
  && apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$log" 2>&1; then
  rc=0
else
  rc=3
fi
[ "$own_policy" = 1 ] && rm -f "$policy"
for pkg in "${missing[@]}"; do [ -x "${bin_of[$pkg]}" ] || rc=3; done
if [ "$rc" != 0 ]; then
  cat "$log" >&2
  echo "oci-tools: apt-get install ${missing[*]} failed" >&2
  rm -f "$log"
  exit 3
fi
rm -f "$log"
echo "oci-tools: installed ${missing[*]} in $(( $(date +%s) - t0 )) s" >&2
exit 0
