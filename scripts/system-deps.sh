#!/usr/bin/env bash
# Installs the Debian packages the test suite drives for real (Chromium for the web UI tests,
# PostgreSQL for the hub's database tests). Quick and silent when they are already there; when they
# are missing and this is not root, says what to install and carries on (those tests then skip).
set -euo pipefail

wanted=()
command -v chromium >/dev/null 2>&1 || wanted+=(chromium)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || wanted+=(postgresql)
[ ${#wanted[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "note: ${wanted[*]} not installed; the tests that need them will be skipped." >&2
  echo "      install with: sudo apt-get install -y ${wanted[*]}" >&2
  exit 0
fi
echo "installing system packages: ${wanted[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${wanted[@]}" >/dev/null
# Debian starts a cluster on install; the tests run their own servers, so stop it.
if [[ " ${wanted[*]} " == *" postgresql "* ]] && command -v service >/dev/null 2>&1; then
  service postgresql stop >/dev/null 2>&1 || true
fi
