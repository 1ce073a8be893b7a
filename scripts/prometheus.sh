#!/usr/bin/env bash
# Makes Debian's Prometheus server and promtool available for the end-to-end tests
# (tests/e2e-prometheus.test.ts, the dashboard and rules tests); see debian-tools.sh. The tests
# run /usr/bin/prometheus themselves on a free loopback port with a temporary config and storage.
exec bash "$(dirname "$0")/debian-tools.sh" prometheus "prometheus=${PROMETHEUS_BIN:-/usr/bin/prometheus}" "prometheus=${PROMTOOL_BIN:-/usr/bin/promtool}"
