#!/usr/bin/env bash
# Loading the generated sales.csv (1 GiB) into PostgreSQL and into SQLite:
# sluice against `psql -c "\copy ..."` and the sqlite3 shell's `.import`,
# with the shared `measure` (medians of REPS=3, wall time, peak RSS of the
# client process: the PostgreSQL server's own memory is not in it).
#
# Every run loads into a table created beforehand with the same columns
# (bigint/INTEGER, double precision/REAL, text), emptied before each run, so
# every tool does the same work (the emptying, TRUNCATE or a new file, is
# inside the timed command: well under a second); the row count is checked
# after each tool.
# PostgreSQL is a private server started here (initdb in $PEERS_ROOT/pgbench,
# a unix socket, the default settings: fsync on), stopped at the end.
#
#   bench/db.sh                    IN=path/to/other.csv bench/db.sh
set -u
. "$(dirname "$0")/common.sh"
bench_check
[ -n "${RES:-}" ] || bench_res
. "$PEERS_DIR/lib.sh"

IN=${IN:-$DATA/sales.csv}; B=$(fsize "$IN"); export IN
ROWS=$(($(wc -l < "$IN") - 1))
echo "input: $IN, $B bytes, $ROWS rows" | tee -a "$RES/about.txt"
warm "$IN"

# ---- a private PostgreSQL server ----
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
AS=()
[ "$(id -u)" = 0 ] && AS=(runuser -u postgres --)
pg() { (cd / && "${AS[@]}" "$@"); }
PGD=$PEERS_ROOT/pgbench
rm -rf "$PGD" && mkdir -p "$PGD" && chmod 755 "$PGD"
[ ${#AS[@]} -gt 0 ] && chown postgres "$PGD"
pg "$PGBIN/initdb" -D "$PGD/data" -U postgres -A trust > "$PGD/initdb.log" 2>&1 || { cat "$PGD/initdb.log"; exit 1; }
pg "$PGBIN/pg_ctl" -D "$PGD/data" -l "$PGD/log" -w -o "-p 5499 -k $PGD -c listen_addresses=''" start > /dev/null || exit 1
trap 'pg "$PGBIN/pg_ctl" -D "$PGD/data" -m fast stop > /dev/null; rm -rf "$PGD"' EXIT
export DB="postgresql://postgres@/postgres?host=$PGD&port=5499"
export PSQL="psql -X -q -d $DB"
COLS_PG='id bigint, ts text, user_id bigint, region text, status text, price double precision, quantity bigint, product text, note text'
COLS_SQ='id INTEGER, ts TEXT, user_id INTEGER, region TEXT, status TEXT, price REAL, quantity INTEGER, product TEXT, note TEXT'
$PSQL -c "CREATE TABLE sales ($COLS_PG)"
export SQDB=$OUTDIR/db_bench.sqlite
rm -f "$SQDB" && sqlite3 "$SQDB" "CREATE TABLE sales ($COLS_SQ)"

check_pg() { local n; n=$($PSQL -A -t -c "SELECT count(*) FROM sales"); echo "  rows in the table: $n (want $ROWS)"; [ "$n" = "$ROWS" ] || echo "  ROW COUNT MISMATCH" | tee -a "$RES/about.txt"; }
check_sq() { local n; n=$(sqlite3 "$SQDB" "SELECT count(*) FROM sales"); echo "  rows in the table: $n (want $ROWS)"; [ "$n" = "$ROWS" ] || echo "  ROW COUNT MISMATCH" | tee -a "$RES/about.txt"; }

# PostgreSQL: sluice (COPY, a transaction per 10000 rows, progress rows),
# then psql \copy (one COPY, one transaction)
EMPTY_PG='$PSQL -c "TRUNCATE sales" && '
measure DBPG sluice "$B" none "$EMPTY_PG"'"$SLUICE" cat "$IN" -o "$DB&table=sales"' "candidate; rows=$ROWS"
check_pg
measure DBPG sluice_b100k "$B" none "$EMPTY_PG"'"$SLUICE" "batch 100000 | write $DB&table=sales" "$IN"' "batch 100000; rows=$ROWS"
check_pg
measure DBPG psql_copy "$B" none "$EMPTY_PG"'$PSQL -c "\copy sales FROM '"'"'$IN'"'"' WITH (FORMAT csv, HEADER true)"' "rows=$ROWS"
check_pg

# SQLite: sluice (prepared INSERT, a transaction per 10000 rows), then the
# sqlite3 shell's .import (one transaction)
export COLS_SQ
EMPTY_SQ='rm -f "$SQDB" && sqlite3 "$SQDB" "CREATE TABLE sales ($COLS_SQ)" && '
measure DBSQ sluice "$B" none "$EMPTY_SQ"'"$SLUICE" cat "$IN" -o "sqlite:$SQDB?table=sales"' "candidate; rows=$ROWS"
check_sq
measure DBSQ sluice_b100k "$B" none "$EMPTY_SQ"'"$SLUICE" "batch 100000 | write sqlite:$SQDB?table=sales" "$IN"' "batch 100000; rows=$ROWS"
check_sq
measure DBSQ sqlite3_import "$B" none "$EMPTY_SQ"'sqlite3 "$SQDB" ".import --csv --skip 1 $IN sales"' "rows=$ROWS"
check_sq
rm -f "$SQDB"
awk -F'\t' -v rows="$ROWS" '$1 ~ /^DB/ { printf "%s %-15s %8.1f MB/s  %7.2f s  %9.0f rows/s  rss %6.1f MiB  %s\n", $1, $2, $4, $5, rows / $5, $7, $8 }' \
  "$RES/medians.tsv" | tee "$RES/db_summary.txt"
