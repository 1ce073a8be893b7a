#!/usr/bin/env bash
# Makes Debian's wrk (the load generator of `npm run bench -- --envoy`) available; see debian-tools.sh.
exec bash "$(dirname "$0")/debian-tools.sh" wrk wrk=/usr/bin/wrk
