#!/usr/bin/env bash
# A full filesystem: the output error status, the path in the message, the
# existing file untouched and no temporary file left.
. "$(dirname "$0")/lib.sh"
mkdir small
if ! mount -t tmpfs -o size=256k tmpfs small 2>/dev/null; then
  echo "cannot mount a tmpfs here (needs root): skipped"; exit 77
fi
trap 'umount "$WORK/small" 2>/dev/null; rm -rf "$WORK"' EXIT
printf 'old\n' > small/out.csv
printf 'id,v\n' > in.csv
seq 1 200000 | awk '{print $1 ",value" $1}' >> in.csv
expect_rc 74 "full tmpfs" "$SLUICE" cat in.csv -o small/out.csv
grep -q "small/out.csv" err.txt && grep -qi "no space" err.txt && ok "message names the path: $(cat err.txt)" || bad "message: $(cat err.txt)"
[ "$(cat small/out.csv)" = old ] && ok "existing file untouched" || bad "out.csv changed"
[ "$(ls -A small | wc -l)" = 1 ] && ok "no temporary file left" || bad "left: $(ls -A small)"
finish
