#!/usr/bin/env bash
# --stats agrees with wc -l of the input and the output.
. "$(dirname "$0")/lib.sh"
printf 'id,v\n' > in.csv
seq 1 12345 | awk '{print $1 "," ($1 % 7)}' >> in.csv
"$SLUICE" 'select id | head 10000' in.csv -o out.csv --stats=stats.json || bad "run failed"
in_lines=$(($(wc -l < in.csv) - 1))
out_lines=$(($(wc -l < out.csv) - 1))
grep -q "\"records_out\":$out_lines," stats.json && ok "records_out = $out_lines" || bad "records_out: $(cat stats.json)"
grep -q "\"bytes\":$(stat -c %s out.csv)," stats.json && ok "output bytes" || bad "output bytes: $(cat stats.json)"
# reading stops early because of head: a full read gives every input record
"$SLUICE" 'select id' in.csv -o out2.csv --stats=stats2.json
grep -q "\"records_in\":$in_lines," stats2.json && ok "records_in = $in_lines" || bad "records_in: $(cat stats2.json)"
grep -q "\"size_bytes\":$(stat -c %s in.csv)," stats2.json && ok "input size" || bad "input size: $(cat stats2.json)"
grep -q '"stage":"select","text":"select id","records_in":12345,"records_out":12345' stats2.json \
  && ok "per-stage counts" || bad "per-stage: $(cat stats2.json)"
# --stats without a file goes to stderr as one JSON line
"$SLUICE" cat in.csv --stats > /dev/null 2> err.txt
[ "$(wc -l < err.txt)" = 1 ] && grep -q '^{"sluice":' err.txt && ok "--stats to stderr" || bad "stderr: $(cat err.txt)"
finish
