#!/usr/bin/env bash
# Installs HAProxy from Debian's packages if it is not on the PATH (needs root or sudo).
set -euo pipefail
if command -v haproxy >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
$SUDO apt-get update
$SUDO apt-get install -y haproxy
# The package enables a system service; the bench starts its own HAProxy processes and does
# not need it, but leaves it as the package set it up.
command -v haproxy >/dev/null
