#!/usr/bin/env bash
# Headless Chromium for the dashboard tests (tests/dashboards): Debian's `chromium` package, installed when it
# is missing. Used by `make setup`. Elsewhere set CHROMIUM=/path/to/chromium (any recent Chrome or Chromium).
set -euo pipefail

if [ -n "${CHROMIUM:-}" ] && [ -x "${CHROMIUM}" ]; then exit 0; fi
if command -v chromium >/dev/null; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "ensure-chromium: chromium is missing: install it (Debian/Ubuntu: sudo apt-get install -y chromium) or set CHROMIUM" >&2
  exit 1
fi
echo "ensure-chromium: installing Debian's chromium package"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium >/dev/null
chromium --version
