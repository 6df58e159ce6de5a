#!/usr/bin/env bash
# --progress draws on a terminal, and stays silent when stderr is not one.
. "$(dirname "$0")/lib.sh"
command -v script > /dev/null || { echo "no script(1): skipped"; exit 77; }
printf 'id,v\n' > in.csv
seq 1 3000000 | awk '{print $1 ",v" $1}' >> in.csv
script -qec "\"$SLUICE\" cat in.csv --progress -o out.csv" /dev/null > tty.txt 2>&1
rc=$?
[ "$rc" = 0 ] && ok "run under a terminal" || bad "exit $rc: $(tail -c 300 tty.txt)"
grep -q "sluice: .* of .*(100%) *3000000 records" tty.txt && ok "progress line with total, percent and records" \
  || bad "no progress line: $(tail -c 300 tty.txt | tr '\r' '\n' | tail -3)"
"$SLUICE" cat in.csv --progress -o out2.csv 2> err.txt
[ ! -s err.txt ] && ok "no progress when stderr is not a terminal" || bad "stderr: $(head -c 200 err.txt)"
finish
