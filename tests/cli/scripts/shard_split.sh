#!/usr/bin/env bash
# --shard I/N: the N shards together read every record exactly once, for
# byte ranges of one file (NDJSON, CSV with its header, lines) and for whole
# files; what cannot be split is read whole by shard 0; bad use is exit 64.
. "$(dirname "$0")/lib.sh" "$1"

# records of many lengths, so that the range boundaries fall at every
# position inside a record, on its first byte and on its line break
awk 'BEGIN { srand(7); for (i = 0; i < 3000; i++) { s = ""; n = int(rand() * 90); for (j = 0; j < n; j++) s = s "x";
  printf "{\"id\":%d,\"pad\":\"%s\"}\n", i, s } }' > d.ndjson
awk 'BEGIN { srand(8); print "id,pad"; for (i = 0; i < 3000; i++) { s = ""; n = int(rand() * 40); for (j = 0; j < n; j++) s = s "y";
  printf "%d,%s\n", i, s } }' > d.csv
seq 0 2999 > want
check_ids() { # what: the ids read by all shards, sorted, are 0..2999 once each
  sort -n got > got.sorted
  if cmp -s want got.sorted; then ok "$1"; else bad "$1: $(wc -l < got) ids read, $(sort -n got | uniq -d | wc -l) duplicates, $(comm -23 want got.sorted | wc -l) missing"; fi
}
for n in 1 2 7 16 61; do
  : > got
  for ((i = 0; i < n; i++)); do "$SLUICE" 'select id' --shard "$i/$n" d.ndjson --to csv | tail -n +2 >> got; done
  check_ids "ndjson byte ranges, $n shards"
  : > got
  for ((i = 0; i < n; i++)); do "$SLUICE" 'select id' --shard "$i/$n" d.csv | tail -n +2 >> got; done
  check_ids "csv byte ranges with the header in every shard, $n shards"
done
# a file smaller than the number of shards: most shards are empty
printf '{"id":0}\n{"id":1}\n' > tiny.ndjson
: > got
for ((i = 0; i < 16; i++)); do "$SLUICE" 'select id' --shard "$i/16" tiny.ndjson --to csv | tail -n +2 >> got; done
[ "$(sort -n got | tr '\n' ' ')" = "0 1 " ] && ok "2 records over 16 shards" || bad "2 records over 16 shards: $(tr '\n' ' ' < got)"
# no final line break
printf '{"id":0}\n{"id":1}' > nofinal.ndjson
: > got
for ((i = 0; i < 3; i++)); do "$SLUICE" 'select id' --shard "$i/3" nofinal.ndjson --to csv | tail -n +2 >> got; done
[ "$(sort -n got | tr '\n' ' ')" = "0 1 " ] && ok "last line without a line break" || bad "no final newline: $(tr '\n' ' ' < got)"

# whole files: 9 files of different sizes over 4 shards
for f in 0 1 2 3 4 5 6 7 8; do
  awk -v f=$f 'BEGIN { for (i = 0; i < (f + 1) * 37; i++) printf "{\"id\":\"%d-%d\"}\n", f, i }' > part$f.ndjson
done
cat part*.ndjson | "$SLUICE" 'select id' --from ndjson --to csv | tail -n +2 | sort > want.files
: > got
for i in 0 1 2 3; do "$SLUICE" 'select id' --shard "$i/4" part*.ndjson --to csv | tail -n +2 >> got; done
sort got > got.sorted
cmp -s want.files got.sorted && ok "whole files over 4 shards" || bad "whole files over 4 shards"
# balanced by size: the plan gives each shard about a quarter of the bytes
for i in 0 1 2 3; do "$SLUICE" --stats=s$i.json 'head 0' --shard "$i/4" part*.ndjson > /dev/null; done
loads=$(for i in 0 1 2 3; do grep -o '"size_bytes":[0-9]*' s$i.json | cut -d: -f2 | awk '{ t += $1 } END { print t + 0 }'; done | sort -n | tr '\n' ' ')
set -- $loads
[ "$4" -lt $(( $1 * 2 )) ] && ok "file shards balanced by size ($loads)" || bad "file shards unbalanced: $loads"
# 3 files over 8 shards: 5 shards read nothing, and stay empty
: > got
for i in 0 1 2 3 4 5 6 7; do "$SLUICE" 'select id' --shard "$i/8" part0.ndjson part1.ndjson part2.ndjson --to csv | tail -n +2 >> got; done
[ "$(wc -l < got)" = $((37 + 74 + 111)) ] && ok "3 files over 8 shards" || bad "3 files over 8 shards: $(wc -l < got) records"

# a compressed single file is read whole by shard 0
gzip -k d.ndjson
"$SLUICE" 'group: n = count()' --shard 0/3 d.ndjson.gz --to csv > s0.csv 2> note.txt
"$SLUICE" 'group: n = count()' --shard 2/3 d.ndjson.gz --to csv > s2.csv 2>> note.txt
[ "$(tail -1 s0.csv)/$(tail -1 s2.csv)" = "3000/0" ] && ok "gzip input: shard 0 reads it whole" || bad "gzip input: $(tail -1 s0.csv)/$(tail -1 s2.csv)"
grep -q "cannot be split into byte ranges" note.txt && ok "gzip input: a note says so" || bad "gzip input: no note"

# CSV with a line break inside quotes: a shard fails (exit 65), whether it
# holds the whole record (it says so) or starts or ends inside it
printf 'id,note\n1,"a\nb"\n2,c\n3,d\n' > ml.csv
"$SLUICE" cat --shard 0/1 ml.csv > /dev/null 2> ml1.err; rc=$?
[ $rc = 0 ] && ok "csv record over two lines, 1 shard reads it all" || bad "1 shard: rc $rc $(cat ml1.err)"
for n in 2 3 4 5; do
  fails=0
  for ((i = 0; i < n; i++)); do "$SLUICE" cat --shard "$i/$n" ml.csv > /dev/null 2>> ml.err; [ $? = 65 ] && fails=$((fails + 1)); done
  [ $fails -ge 1 ] && grep -q "holds a line break\|unterminated quoted\|quote character inside" ml.err && ok "csv record over two lines, $n shards: $fails fail with exit 65" || bad "$n shards: no shard failed"
done

expect_rc 64 "--shard 4/4 is out of range" "$SLUICE" cat --shard 4/4 d.csv
expect_rc 64 "--shard 1/0" "$SLUICE" cat --shard 1/0 d.csv
expect_rc 64 "--shard x" "$SLUICE" cat --shard x d.csv
expect_rc 64 "--shard with standard input" sh -c "\"$SLUICE\" cat --shard 0/2 < d.csv"
finish
