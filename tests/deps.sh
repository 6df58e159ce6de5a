#!/usr/bin/env bash
# Installs the Debian packages sluice needs to build and test (only the
# missing ones).  Needs root or sudo.  Safe to run again.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libcsv-dev libjansson-dev zlib1g-dev libzstd-dev libcmocka-dev zstd gzip time bsdutils valgrind
      jq sqlite3 python3 python3-jinja2 slurmctld slurmd slurm-client munge
      libsqlite3-dev libpq-dev postgresql util-linux)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
