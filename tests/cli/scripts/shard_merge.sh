#!/usr/bin/env bash
# --partial + sluice merge give byte for byte what one run gives, for every
# aggregate, over 1, 2, 7 and 16 shards (byte ranges of one file, and whole
# files with more shards than files, so that some shards are empty); merge
# --sorted of sorted shards gives what one sort gives; bad partial files are
# refused with their name.
. "$(dirname "$0")/lib.sh" "$1"

# data with every kind of value: integers, doubles that do not add exactly
# (0.1 steps), big integers that overflow int64 when summed, nulls, texts,
# keys that are numbers or text, values equal as numbers but not as text
awk 'BEGIN { srand(11); print "id,k,kk,i,d,big,t,e";
  for (r = 0; r < 4000; r++) {
    k = int(rand() * 37); kk = (rand() < 0.5) ? "a" : "b";
    i = int(rand() * 2000) - 1000; d = int(rand() * 100000) / 10 * (rand() < 0.3 ? -1 : 1);
    big = (rand() < 0.5 ? "9223372036854775000" : "-9223372036854770000");
    t = sprintf("w%d", int(rand() * 50)); e = (rand() < 0.2) ? "" : sprintf("%d.%d", int(rand() * 9), int(rand() * 10));
    if (rand() < 0.05) e = "1.0";
    printf "%d,%s,%s,%d,%s,%s,%s,%s\n", r, (k < 30 ? k : "key" k), kk, i, d, big, t, e } }' > d.csv
"$SLUICE" cat d.csv -o d.ndjson
tail -n +2 d.csv > body.txt && split -n l/5 -d --additional-suffix=.csv body.txt part
for f in part*.csv; do { head -1 d.csv; cat "$f"; } > "h$f"; done
AGGS='n = count(), ne = count(e), s = sum(d), si = sum(i), sb = sum(big), sm = sum(i * 0.1 + d), m = mean(d), mi = mean(i),
  mn = min(e), mx = max(e), mt = min(t), f = first(e), l = last(e), ft = first(i * 3), u = count_distinct(t), ue = count_distinct(e),
  v = var(d), vp = var_pop(i), sd = stddev(d * 3), sdp = stddev_pop(i), md = median(d), p9 = percentile(i, 0.9), p0 = percentile(d, 0)'
PIPES=("group k, kk: $AGGS" "group kk: $AGGS" "group: $AGGS" "filter i > 900 | map q = d * 2 | group k: s = sum(q), n = count(), f = first(id)")
for pi in "${!PIPES[@]}"; do
  P=${PIPES[$pi]}
  for fmt in csv ndjson; do
    "$SLUICE" "$P" d.$fmt -o single.csv 2> err.txt || { bad "pipeline $pi single run: $(cat err.txt)"; continue; }
    for n in 1 2 7 16; do
      rm -rf p && mkdir p
      for ((i = 0; i < n; i++)); do "$SLUICE" --partial "$P" --shard "$i/$n" d.$fmt -o p/$i.ndjson || bad "shard $i/$n"; done
      "$SLUICE" merge p/*.ndjson -o merged.csv 2> err.txt
      cmp -s single.csv merged.csv && ok "pipeline $pi, $fmt byte ranges, $n shards" || { bad "pipeline $pi, $fmt, $n shards: $(cat err.txt)"; diff single.csv merged.csv | head -4; }
    done
  done
  "$SLUICE" "$P" hpart*.csv -o single.csv
  for n in 1 2 7 16; do
    rm -rf p && mkdir p
    for ((i = 0; i < n; i++)); do "$SLUICE" --partial "$P" --shard "$i/$n" hpart*.csv -o p/$i.ndjson.zst || bad "file shard $i/$n"; done
    # the files in reverse order: the merge does not depend on it
    "$SLUICE" merge $(ls p/*.ndjson.zst | sort -r) -o merged.csv 2> err.txt
    cmp -s single.csv merged.csv && ok "pipeline $pi, 5 files over $n shards" || { bad "pipeline $pi, files, $n shards: $(cat err.txt)"; diff single.csv merged.csv | head -4; }
  done
done
# all shards empty: a keyed group gives nothing, a group without keys its one record
head -1 d.csv > empty.csv
for P in "group k: n = count(), s = sum(d)" "group: n = count(), s = sum(d), f = first(t)"; do
  "$SLUICE" "$P" empty.csv -o single.ndjson
  for i in 0 1 2; do "$SLUICE" --partial "$P" --shard $i/3 empty.csv -o e$i.ndjson; done
  "$SLUICE" merge e*.ndjson -o merged.ndjson
  cmp -s single.ndjson merged.ndjson && ok "empty input: $P" || bad "empty input: $P: $(cat merged.ndjson)"
done
# the sort after the group goes after the merge
"$SLUICE" "group k: s = sum(d) | sort -s | head 5" d.csv -o single.csv
for i in 0 1 2; do "$SLUICE" --partial "group k: s = sum(d)" --shard $i/3 d.csv -o q$i.ndjson; done
"$SLUICE" merge q*.ndjson --then 'sort -s | head 5' -o merged.csv
cmp -s single.csv merged.csv && ok "merge --then 'sort -s | head 5'" || bad "merge --then"

# refusals
expect_rc 64 "--partial without group at the end" "$SLUICE" --partial 'group k: n = count() | sort n' d.csv
expect_rc 64 "--partial with sort before group" "$SLUICE" --partial 'sort i | group k: n = count()' d.csv
expect_rc 64 "--partial to CSV" "$SLUICE" --partial 'group k: n = count()' d.csv -o x.csv
"$SLUICE" --partial 'group k: n = count()' d.csv -o other.ndjson
expect_rc 64 "merging partials of different groups" "$SLUICE" merge q0.ndjson other.ndjson
grep -q "other.ndjson:1: holds group" err.txt && ok "the message names the file" || bad "message: $(cat err.txt)"
expect_rc 65 "merging a file that is not a partial" "$SLUICE" merge d.ndjson
printf '{"sluice_partial":2,"keys":[],"aggs":"n = count()"}\n' > v2.ndjson
expect_rc 65 "a newer format version" "$SLUICE" merge v2.ndjson
grep -q "version 2" err.txt && ok "the message names the version" || bad "message: $(cat err.txt)"
head -c 300 q1.ndjson > cut.ndjson
expect_rc 65 "a truncated partial file" "$SLUICE" merge q0.ndjson cut.ndjson

# merge --sorted: the sorted shards of one file merge into one stable sort
"$SLUICE" 'sort -d, t' d.csv -o sorted.csv
for n in 1 2 7 16; do
  rm -rf s && mkdir s
  for ((i = 0; i < n; i++)); do "$SLUICE" 'sort -d, t' --shard "$i/$n" d.csv -o s/$(printf %02d $i).csv; done
  "$SLUICE" merge --sorted '-d, t' s/*.csv -o merged.csv 2> err.txt
  cmp -s sorted.csv merged.csv && ok "merge --sorted of $n sorted shards" || { bad "merge --sorted, $n: $(cat err.txt)"; diff sorted.csv merged.csv | head -4; }
done
"$SLUICE" 'sort k' d.ndjson -o sorted.ndjson
for i in 0 1 2; do "$SLUICE" 'sort k' --shard $i/3 d.ndjson -o s$i.ndjson; done
"$SLUICE" merge --sorted k s0.ndjson s1.ndjson s2.ndjson --batch-rows 7 -o merged.ndjson
cmp -s sorted.ndjson merged.ndjson && ok "merge --sorted of NDJSON, small batches" || bad "merge --sorted ndjson"
expect_rc 65 "merge --sorted of an unsorted input" "$SLUICE" merge --sorted -d d.csv
expect_rc 64 "--sorted outside merge" "$SLUICE" cat --sorted d d.csv
finish
