#!/usr/bin/env bash
# Installs `prometheus` and `promtool` into .run/bin (idempotent): the alert-rule checks and the live
# dashboard test use them. Both come from Debian's `prometheus` package, unpacked rather than installed:
# `apt-get install prometheus` would also register and start a system Prometheus on :9090, which a test
# machine must not have. Binaries already on PATH (e.g. a real install) are linked instead.
#
#   deploy/observability/install-tools.sh          # prints the bin folder when done
#
# Needs apt-get (Debian/Ubuntu) and network access to the distribution's mirror on first run only.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="$repo/.run/bin"
tools="$repo/.run/tools/prometheus"
mkdir -p "$bin"

have() { [ -x "$bin/prometheus" ] && [ -x "$bin/promtool" ] && "$bin/promtool" --version >/dev/null 2>&1; }

if have; then
  echo "$bin"
  exit 0
fi

if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
  ln -sf "$(command -v prometheus)" "$bin/prometheus"
  ln -sf "$(command -v promtool)" "$bin/promtool"
else
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-tools.sh: no prometheus/promtool on PATH and no apt-get to fetch Debian's package" >&2
    exit 1
  fi
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  chmod 0755 "$work"  # apt's download sandbox user must be able to write here
  (cd "$work" && apt-get download prometheus >/dev/null 2>&1) || {
    apt-get update -qq >/dev/null
    (cd "$work" && apt-get download prometheus >/dev/null)
  }
  rm -rf "$tools"
  mkdir -p "$tools"
  dpkg-deb -x "$work"/prometheus_*.deb "$tools"
  ln -sf "$tools/usr/bin/prometheus" "$bin/prometheus"
  ln -sf "$tools/usr/bin/promtool" "$bin/promtool"
fi

have || { echo "install-tools.sh: promtool does not run after install" >&2; exit 1; }
echo "$bin"
