#!/usr/bin/env bash
# What the browser tests need, installed idempotently (a second run changes nothing):
#   - Chromium from Debian (apt-get), at /usr/bin/chromium;
#   - playwright-core from the npm registry, exactly as package-lock.json pins it, into
#     tests/browser/node_modules. Only the driver library: no browser build is ever downloaded
#     (never `npx playwright install`).
# .ci/run calls this before the tests; tests/browser/test_console.py fails (never skips) when either is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
export DEBIAN_FRONTEND=noninteractive PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

sudo_if_needed() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if [ ! -x /usr/bin/chromium ]; then
  echo "install.sh: installing chromium (apt-get)"
  sudo_if_needed apt-get update -q
  sudo_if_needed apt-get install -y -q chromium
fi
/usr/bin/chromium --headless --no-sandbox --version

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "install.sh: node and npm are required (Node.js 20 or newer)" >&2
  exit 1
fi
major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" -lt 20 ]; then
  echo "install.sh: Node.js $(node --version) is too old; playwright-core needs 20 or newer" >&2
  exit 1
fi

wanted="$(node -p "require('$here/package-lock.json').packages['node_modules/playwright-core'].version")"
have="$(node -p "try { require('$here/node_modules/playwright-core/package.json').version } catch { '' }")"
if [ "$have" != "$wanted" ]; then
  echo "install.sh: installing playwright-core $wanted (npm ci)"
  (cd "$here" && npm ci --no-audit --no-fund --ignore-scripts)
fi
echo "install.sh: chromium and playwright-core $wanted ready"
