#!/usr/bin/env bash
# Parquet output read back by two independent readers, DuckDB and hyparquet
# (tests/parquet/check.mjs): every column type, nulls in every type, empty
# and non-ASCII strings, 0 rows, 1 row, many row groups, later values that do
# not fit their column, dictionary fallback, zstd, gzip and no compression;
# from CSV and from NDJSON.  What both readers read must equal the input.
# Exit 77 (skipped) when the readers cannot be installed here
# (tests/parquet/setup.sh needs npm and the npm registry).
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
. "$(dirname "$0")/lib.sh"
PQ=$ROOT/tests/parquet
D=$PQ/data
if ! bash "$PQ/setup.sh" > setup.log 2>&1; then
  echo "skipped: the Parquet readers cannot be installed:"
  cat setup.log
  exit 77
fi
check() { node "$PQ/check.mjs" "$@"; }

# same WHAT EXPECTED ACTUAL
same() {
  if cmp -s "$2" "$3"; then ok "$1"; else bad "$1"; diff "$2" "$3" | head -20; fi
}

# rt NAME EXPECTED WANT_RC SLUICE_ARGS...: write NAME.parquet, read it with
# both readers, compare with EXPECTED
rt() {
  local name=$1 exp=$2 want=$3
  shift 3
  "$SLUICE" "$@" -o "$name.parquet" 2> "$name.err"
  local rc=$?
  if [ "$rc" != "$want" ]; then
    bad "$name: sluice exited $rc, expected $want: $(head -c 400 "$name.err")"
    return
  fi
  check "$name.parquet" > "$name.dump" 2>&1
  same "$name" "$exp" "$name.dump"
}

# has NAME PATTERN FILE: FILE has a line matching PATTERN (grep -E)
has() {
  if grep -Eq -- "$2" "$3"; then ok "$1"; else bad "$1: no line matches '$2' in:"; head -20 "$3"; fi
}

# ---- every type, from CSV and from NDJSON, each compression ----
for comp in zstd gzip none; do
  rt "csv_types_$comp" "$D/types.expected" 0 cat "$D/types.csv" --parquet-compression "$comp"
  rt "ndjson_types_$comp" "$D/types_ndjson.expected" 0 cat "$D/types.ndjson" --parquet-compression "$comp"
done
check --meta csv_types_gzip.parquet > meta_gzip.txt
has "gzip pages are marked GZIP" '^  id: GZIP values=6' meta_gzip.txt
check --meta csv_types_none.parquet > meta_none.txt
has "uncompressed pages are marked UNCOMPRESSED" '^  note: UNCOMPRESSED' meta_none.txt
check --meta csv_types_zstd.parquet > meta_zstd.txt
# statistics: null counts, min and max per type
for want in '^  id: ZSTD values=6 .* nulls=0 min=-9223372036854775808 max=9223372036854775807$' \
            '^  price: .* nulls=1 min=-1\.7976931348623157e\+308 max=1e\+300$' \
            '^  ok: .* nulls=1 min=false max=true$' \
            '^  name: .* nulls=1 min="" max="héllo wörld"$' \
            '^  ts: .* nulls=1 min=1999-12-31T23:59:59\.500Z max=2024-06-30T23:59:59\.999Z$' \
            '^  day: .* nulls=1 min=0001-01-01T00:00:00\.000Z max=9999-12-31T00:00:00\.000Z$'; do
  has "statistics: $want" "$want" meta_zstd.txt
done

# ---- one row ----
{ sed -n 1p "$D/types.expected"; echo "rows: 1"; sed -n 3p "$D/types.expected"; } > one_csv.expected
rt csv_one_row one_csv.expected 0 'head 1' "$D/types.csv"
# the one score is 2: an int64 column
{ sed -n 1p "$D/types_ndjson.expected" | sed 's/score:double/score:int64/'; echo "rows: 1"; sed -n 3p "$D/types_ndjson.expected"; } \
  > one_ndjson.expected
rt ndjson_one_row one_ndjson.expected 0 'head 1' "$D/types.ndjson"

# ---- zero rows ----
head -n 1 "$D/types.csv" > header_only.csv
printf 'columns: id:int64, price:double, ok:boolean, name:string, ts:timestamp, day:date, note:string\nrows: 0\n' \
  > zero_schema.expected
rt csv_zero_rows_schema zero_schema.expected 0 cat header_only.csv \
  --schema 'id:int64, price:double, ok:boolean, name:string, ts:timestamp, day:date, note:string'
# every record bad: the columns are known, no row is written; the undecided
# ones (no value seen) are strings
printf 'columns: id:date, price:string, ok:string, name:string, ts:string, day:string, note:string\nrows: 0\n' \
  > zero_bad.expected
rt csv_zero_rows_all_bad zero_bad.expected 3 cat "$D/types.csv" --on-error skip --schema 'id:date'
# no record at all: nothing tells the columns, the file has none.  hyparquet
# reads it; DuckDB refuses files without columns (docs/parquet.md)
: > empty.ndjson
"$SLUICE" cat empty.ndjson -o zero_cols.parquet 2> zero_cols.err && ok "no records: exit 0" || bad "no records: $(cat zero_cols.err)"
printf 'columns: \nrows: 0\n' > zero_cols.expected
check --reader hyparquet zero_cols.parquet > zero_cols.dump 2>&1
same "no records: hyparquet reads a file without columns" zero_cols.expected zero_cols.dump
check --reader duckdb zero_cols.parquet > zero_cols_duck.txt 2>&1
has "no records: DuckDB refuses a file without columns (documented)" 'at least one non-root column' zero_cols_duck.txt
"$SLUICE" 'filter name == "none of them"' "$D/types.csv" -o zero_filtered.parquet 2> zero_filtered.err &&
  check --reader hyparquet zero_filtered.parquet > zero_filtered.dump 2>&1
same "a filter that keeps nothing: a valid empty file" zero_cols.expected zero_filtered.dump

# ---- many row groups (CSV) ----
# id, a double with nulls, a low-cardinality string, a boolean, a timestamp,
# a string with nulls
awk 'BEGIN {
  print "id,half,name,flag,ts,note" > "many.csv"
  print "columns: id:int64, half:double, name:string, flag:boolean, ts:timestamp, note:string" > "many.expected"
  print "rows: 20000" > "many.expected"
  for (i = 0; i < 20000; i++) {
    half = i % 7 == 0 ? "" : i / 2; flag = i % 3 == 0 ? "true" : "false"; note = i % 11 == 0 ? "" : "n" i
    ts = sprintf("2024-01-02T%02d:%02d:%02d", int(i / 3600), int(i / 60) % 60, i % 60)
    print i "," half ",name" (i % 13) "," flag "," ts "Z," note > "many.csv"
    printf "[%d, %s, \"name%d\", %s, \"%s.000000Z\", %s]\n", i, half == "" ? "null" : half, i % 13, flag, ts,
      note == "" ? "null" : "\"" note "\"" > "many.expected"
  }
}'
for comp in zstd gzip none; do
  rt "csv_many_row_groups_$comp" many.expected 0 cat many.csv --row-group-size 64K --parquet-compression "$comp"
done
check --meta csv_many_row_groups_zstd.parquet > meta_many.txt
rgs=$(sed -n 's/^row groups: //p' meta_many.txt)
if [ "${rgs:-0}" -ge 5 ]; then ok "--row-group-size 64K: $rgs row groups"; else bad "--row-group-size 64K: ${rgs:-no} row groups"; fi
# --memory-limit bounds the row group too (at most half of it)
rt csv_many_memory_limit many.expected 0 cat many.csv --memory-limit 1M
check --meta csv_many_memory_limit.parquet > meta_mem.txt
rgs=$(sed -n 's/^row groups: //p' meta_mem.txt)
if [ "${rgs:-0}" -ge 2 ]; then ok "--memory-limit 1M: $rgs row groups"; else bad "--memory-limit 1M: ${rgs:-no} row groups"; fi

# ---- one file per batch: write 'part-{batch}.parquet' (when the write stage exists) ----
if "$SLUICE" help write > /dev/null 2>&1; then
  if "$SLUICE" 'batch 5000 | write part-{batch}.parquet' many.csv 2> parts.err; then
    : > parts.rows
    n=0
    for f in part-*.parquet; do
      n=$((n + 1))
      check "$f" > "$f.dump" 2>&1
      [ "$(head -n 1 "$f.dump")" = "$(head -n 1 many.expected)" ] || bad "$f: columns $(head -n 1 "$f.dump")"
      tail -n +3 "$f.dump" >> parts.rows
    done
    tail -n +3 many.expected > many.rows
    [ "$n" = 4 ] && ok "write part-{batch}.parquet: 4 files" || bad "write part-{batch}.parquet: $n files"
    same "write part-{batch}.parquet: every row, in order" many.rows parts.rows
  else
    bad "write part-{batch}.parquet: $(cat parts.err)"
  fi
fi

# ---- many row groups (NDJSON): later values of other kinds ----
# v holds strings in the first row group (a string column), then numbers and
# booleans, written as their text; record 5000 has a string id (bad, skipped)
awk 'BEGIN {
  print "columns: id:int64, v:string, w:double" > "later.expected"
  print "rows: 5999" > "later.expected"
  for (i = 0; i < 6000; i++) {
    if (i < 2000) { v = "\"s" i "\""; ev = v } else if (i % 2) { v = i; ev = "\"" i "\"" } else { v = "true"; ev = "\"true\"" }
    w = i % 5 == 0 ? "null" : i + 0.25
    if (i == 5000) { print "{\"id\":\"oops\",\"v\":" v ",\"w\":" w "}" > "later.ndjson"; continue }
    print "{\"id\":" i ",\"v\":" v ",\"w\":" w "}" > "later.ndjson"
    print "[" i ", " ev ", " w "]" > "later.expected"
  }
}'
rt ndjson_later_values later.expected 3 cat later.ndjson --row-group-size 16K --on-error skip
has "the bad record is named" "1 bad record skipped" ndjson_later_values.err
"$SLUICE" cat later.ndjson --row-group-size 16K -o later_stop.parquet 2> later_stop.err
rc=$?
if [ "$rc" = 65 ] && grep -q "later.ndjson:5001: value 'oops' of field 'id' does not fit the Parquet column's type int64" later_stop.err &&
   [ ! -e later_stop.parquet ]; then
  ok "a later value that does not fit stops the run (exit 65, no file)"
else
  bad "a later value that does not fit: exit $rc, $(cat later_stop.err)"
fi

# ---- dictionary or PLAIN ----
# k: every value distinct (more than half the values: PLAIN); n: the same,
# int64; r: 100 values repeated (dictionary); big: 30000 distinct 50-byte
# strings, each 5 times (few enough, but past the 1 MiB bound: PLAIN)
awk 'BEGIN {
  print "k,n,r,big" > "distinct.csv"
  print "columns: k:string, n:int64, r:string, big:string" > "distinct.expected"
  print "rows: 150000" > "distinct.expected"
  for (i = 0; i < 150000; i++) {
    big = sprintf("%050d", i % 30000)
    print "distinct-value-number-" i "," i * 7919 ",repeat" (i % 100) "," big > "distinct.csv"
    print "[\"distinct-value-number-" i "\", " i * 7919 ", \"repeat" (i % 100) "\", \"" big "\"]" > "distinct.expected"
  }
}'
rt csv_dictionary_or_plain distinct.expected 0 cat distinct.csv
check --meta csv_dictionary_or_plain.parquet > meta_distinct.txt
has "distinct strings: PLAIN" '^  k: ZSTD .*encodings=RLE,PLAIN pages=DATA_PAGE/PLAINx[0-9]+ nulls=0 min="distinct-value-number-0" max="distinct-value-number-99999"$' meta_distinct.txt
has "distinct int64: PLAIN" '^  n: ZSTD .*encodings=RLE,PLAIN pages=DATA_PAGE/PLAINx[0-9]+ nulls=0 min=0 max=1187842081$' meta_distinct.txt
has "repeated strings: a dictionary" '^  r: ZSTD .*encodings=RLE,PLAIN,RLE_DICTIONARY pages=DICTIONARY_PAGE/PLAINx1 DATA_PAGE/RLE_DICTIONARYx[0-9]+ nulls=0 min="repeat0" max="repeat99"$' meta_distinct.txt
has "a dictionary past 1 MiB: PLAIN" '^  big: ZSTD .*encodings=RLE,PLAIN pages=DATA_PAGE/PLAINx[0-9]+ nulls=0 min="0+" max="0+29999"$' meta_distinct.txt
# the same in small row groups (10 of them): each decides on its own
rt csv_dictionary_small_groups distinct.expected 0 cat distinct.csv --row-group-size 1M

# ---- declared types (--schema): casts, and the columns NDJSON records lack ----
printf 'id,price,when\n007,+1.50,2024-01-01\n-2,inf,2024-01-02T03:04:05Z\n' > cast.csv
printf 'columns: id:int64, price:double, when:timestamp\nrows: 2\n[7, 1.5, "2024-01-01T00:00:00.000000Z"]\n[-2, Infinity, "2024-01-02T03:04:05.000000Z"]\n' \
  > cast.expected
rt csv_schema_casts cast.expected 0 cat cast.csv --schema 'id:int64, price:double, when:timestamp'
printf '{"a":1}\n{"a":2,"b":"x"}\n' > open.ndjson
printf 'columns: a:int64, b:string\nrows: 2\n[1, null]\n[2, "x"]\n' > open.expected
rt ndjson_schema_declares_later_key open.expected 0 cat open.ndjson --schema 'b:string'

# ---- any pipeline: filter and select before the writer ----
printf 'columns: name:string, price:double\nrows: 2\n["alpha", 1.5]\n["", -0.25]\n' > pipe.expected
rt pipeline_filter_select pipe.expected 0 'filter id > 0 and id < 3 | select name, price' "$D/types.csv"

finish
