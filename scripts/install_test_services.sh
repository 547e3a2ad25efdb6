#!/usr/bin/env bash
# Installs what the test suite drives besides Python: Debian's Chromium (Playwright browser tests, never
# `playwright install`) and PostgreSQL (ledger tests; started by scripts/test_env.sh). Idempotent.
set -euo pipefail
need=()
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if ((${#need[@]})); then
  echo "install_test_services: apt-get install ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  sudo_cmd=""
  [[ "$(id -u)" == "0" ]] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
