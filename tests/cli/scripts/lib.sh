# shellcheck shell=bash
# Common helpers for the scripted end-to-end tests.  Each script gets the
# binary as $1, works in a fresh temporary directory, exits 0 on success,
# 77 when it cannot run here (ctest reports it as skipped), else 1.
set -u
SLUICE=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
export LC_ALL=C
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
FAILS=0
ok() { echo "ok   - $*"; }
bad() { echo "FAIL - $*"; FAILS=$((FAILS + 1)); }
# expect_rc WANT DESCRIPTION CMD...
expect_rc() {
  local want=$1 what=$2; shift 2
  "$@" > out.txt 2> err.txt
  local rc=$?
  if [ "$rc" = "$want" ]; then ok "$what (exit $rc)"; else bad "$what: exit $rc, expected $want; stderr: $(head -c 300 err.txt)"; fi
}
now_ms() { date +%s%3N; }
finish() { [ "$FAILS" = 0 ] && { echo "all passed"; exit 0; }; echo "$FAILS failed"; exit 1; }
