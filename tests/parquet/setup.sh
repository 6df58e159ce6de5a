#!/usr/bin/env bash
# Installs the two independent Parquet readers the round-trip tests use
# (DuckDB through @duckdb/node-api, and hyparquet with hyparquet-compressors)
# into tests/parquet/node_modules (gitignored), only when they are missing or
# package.json (which pins their exact versions) changed.  Installs Debian's nodejs and npm first when node
# or npm is missing (needs root or sudo).  Works with Debian 12's node 18.
#
# Exit 0 when the readers load, else non-zero with the reason on stderr
# (the test scripts then skip with status 77).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

if ! command -v node > /dev/null || ! command -v npm > /dev/null; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  echo "parquet readers: installing nodejs and npm from Debian" >&2
  $SUDO apt-get update -q > /dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends nodejs npm > /dev/null
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
  echo "parquet readers: node $(node --version) is too old (need 18 or later)" >&2
  exit 1
fi

stamp=node_modules/.sluice-package.sha256
want=$(sha256sum package.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "parquet readers: npm install in $here" >&2
  npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error > /dev/null
  echo "$want" > "$stamp"
fi

node --input-type=module -e "
  await import('hyparquet'); await import('hyparquet-compressors');
  const { createRequire } = await import('node:module');
  const { DuckDBInstance } = createRequire('$here/check.mjs')('@duckdb/node-api');
  const db = await DuckDBInstance.create(':memory:'); await (await db.connect()).run('SELECT 1');
" 2>&1 >/dev/null || { echo "parquet readers: installed, but they do not load" >&2; exit 1; }
