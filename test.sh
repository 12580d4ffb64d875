#!/usr/bin/env bash
# Runs every test of every module. Needs only Java 17 and Maven; installs nothing else yet.
set -euo pipefail
cd "$(dirname "$0")"
exec mvn -B -ntp install "$@"
