#!/usr/bin/env bash
# Runs every test of every module. Needs Java 17 and Maven; installs the system packages some
# tests need (Chromium for the dashboard test, libpcap and iproute2/nftables for the L4 pcap
# tests) with apt-get when they are missing and this runs as root, then runs Maven.
set -euo pipefail
cd "$(dirname "$0")"

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
[ -e /usr/lib/x86_64-linux-gnu/libpcap.so.0.8 ] || ls /usr/lib/*/libpcap.so* >/dev/null 2>&1 || need+=(libpcap0.8)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v nft >/dev/null 2>&1 || need+=(nftables)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || echo "test.sh: apt-get update failed; trying the install anyway" >&2
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
      || echo "test.sh: could not install ${need[*]}; the tests that need them say so and are skipped" >&2
  else
    echo "test.sh: ${need[*]} missing and not root (or no apt-get): the tests that need them say so and are skipped" >&2
  fi
fi
exec mvn -B -ntp install "$@"
