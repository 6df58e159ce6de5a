#!/usr/bin/env bash
# CSV -> Parquet (zstd) on sales.csv (1 GiB): sluice vs DuckDB 1 thread and
# Polars 1 thread, with the shared `measure` (medians of REPS=3, peak RSS).
# Each tool writes a file; the verify step prints its size, so the output
# sizes are compared beside the speed (the target: within 15% of DuckDB's).
#
#   bench/parquet.sh
set -u
. "$(dirname "$0")/common.sh"
bench_check
[ -n "${RES:-}" ] || bench_res
. "$PEERS_DIR/lib.sh"

IN=$DATA/sales.csv; B=$(fsize "$IN"); export IN
warm "$IN"
verify_PQ() { printf 'parquet_bytes=%d' "$(stat -c %s "$1")"; }

measure PQ sluice "$B" file '"$SLUICE" cat "$IN" --to parquet --parquet-compression zstd -o "$OUT"' "candidate"
SQLPQ="COPY (SELECT * FROM read_csv('\$IN')) TO '\$OUT' (FORMAT parquet, COMPRESSION zstd)"
measure PQ duckdb1 "$B" file "\$DUCK1 \"$SQLPQ\" > /dev/null"
PQPQ='pl.scanCSV(A[0]).sinkParquet(A[1], {compression: "zstd"})'
measure PQ polars1 "$B" file "\$PL1 '$PQPQ' streaming \"\$IN\" \"\$OUT\" > /dev/null"
rm -f "$OUTDIR"/PQ.*.out
[ -f "$PEERS_DIR/report.sh" ] && bash "$PEERS_DIR/report.sh" > "$RES/table.md" && echo "table: $RES/table.md"
