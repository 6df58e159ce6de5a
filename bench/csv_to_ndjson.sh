#!/usr/bin/env bash
# CSV -> NDJSON on sales.csv (1 GiB), which the shared harness has no workload for.
# Same measurement as the shared workloads (lib.sh `measure`: medians of REPS=3 runs,
# timed runs write to /dev/null, one extra run writes a file that is summarised).
#
#   NDJ3   id,price,note -> NDJSON:  sluice select  vs DuckDB 1 thread, Polars 1 thread
#   NDJALL every column  -> NDJSON:  sluice cat     vs DuckDB 1 thread, Polars 1 thread
#
#   bench/csv_to_ndjson.sh            (RES: a fresh /tmp/sluice-bench.XXXXXX, or the one given)
#   ONLY=sluice_select,duckdb1 bench/csv_to_ndjson.sh
set -u
. "$(dirname "$0")/common.sh"
bench_check
[ -n "${RES:-}" ] || bench_res
. "$PEERS_DIR/lib.sh"

IN=$DATA/sales.csv; B=$(fsize "$IN"); export IN
warm "$IN"

# lines, sum(price), lines with an escaped quote, lines whose note contains a comma, first line
verify_NDJ() {
  mawk '{n++; if (match($0, /"price": ?[-0-9.eE+]+/)) { v=substr($0,RSTART,RLENGTH); sub(/.*: ?/, "", v); p+=v }
         if (index($0, "\\\"")) q++; if (match($0, /"note": ?"[^"]*,/)) c++; if (n==1) f=$0}
       END{printf "lines=%d sum_price=%.2f esc_quote_lines=%d comma_notes=%d first=%s", n, p, q, c, f}' "$1"
}
verify_NDJ3() { verify_NDJ "$1"; }
verify_NDJALL() { verify_NDJ "$1"; }

measure NDJ3 sluice_select "$B" devnull '"$SLUICE" "select id,price,note" "$IN" --to ndjson > "$OUT"' "candidate"
SQLN3="COPY (SELECT id, price, note FROM read_csv('\$IN')) TO '\$OUT' (FORMAT json)"
measure NDJ3 duckdb1 "$B" devnull "\$DUCK1 \"$SQLN3\" > /dev/null"
PQN3='pl.scanCSV(A[0]).select("id", "price", "note").sinkNdJson(A[1])'
measure NDJ3 polars1 "$B" devnull "\$PL1 '$PQN3' streaming \"\$IN\" \"\$OUT\" > /dev/null"

measure NDJALL sluice_cat "$B" devnull '"$SLUICE" cat "$IN" --to ndjson > "$OUT"' "candidate"
SQLNA="COPY (SELECT * FROM read_csv('\$IN', types={'ts':'VARCHAR'})) TO '\$OUT' (FORMAT json)"
measure NDJALL duckdb1 "$B" devnull "\$DUCK1 \"$SQLNA\" > /dev/null"
PQNA='pl.scanCSV(A[0]).sinkNdJson(A[1])'
measure NDJALL polars1 "$B" devnull "\$PL1 '$PQNA' streaming \"\$IN\" \"\$OUT\" > /dev/null"

[ -f "$PEERS_DIR/report.sh" ] && bash "$PEERS_DIR/report.sh" > "$RES/table.md" && echo "table: $RES/table.md"
