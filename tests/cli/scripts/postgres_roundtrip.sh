#!/usr/bin/env bash
# PostgreSQL as a sink, a source and a join lookup, against a private server
# started here (initdb in a temporary directory, a unix socket only, stopped
# at the end whatever happens): every type, nulls, awkward text, 0 rows,
# many batches, the modes, a refused row, passwords, and the server
# restarted (fast and immediate) in the middle of a load: the table must end
# with exactly the input rows.
. "$(dirname "$0")/lib.sh"
S=$SLUICE
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2> /dev/null | sort -V | tail -n 1)
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ] || ! command -v psql > /dev/null; then
  echo "PostgreSQL server binaries or psql missing (tests/deps.sh installs them)"
  [ -n "${CI:-}" ] && exit 1
  exit 77
fi
# the server refuses to run as root: as root, run it as the postgres user
AS=()
if [ "$(id -u)" = 0 ]; then
  id postgres > /dev/null 2>&1 || { echo "no postgres user"; exit 1; }
  AS=(runuser -u postgres --)
fi
PGD=$(mktemp -d /tmp/sluice-pg.XXXXXX)
chmod 755 "$PGD"
[ ${#AS[@]} -gt 0 ] && chown postgres "$PGD"
pg() { (cd / && "${AS[@]}" "$@"); }
stop_pg() { pg "$PGBIN/pg_ctl" -D "$PGD/data" -m immediate stop > /dev/null 2>&1; }
trap 'stop_pg; rm -rf "$WORK" "$PGD"' EXIT
PASS='s3cr3t pw'
printf '%s\n' "$PASS" > "$PGD/pw"
pg "$PGBIN/initdb" -D "$PGD/data" -U postgres --pwfile="$PGD/pw" -A scram-sha-256 --no-sync > "$PGD/initdb.log" 2>&1 \
  || { cat "$PGD/initdb.log"; echo "initdb failed"; exit 1; }
# a unix socket only (no TCP port to collide with other runs); the port
# number only names the socket
PORT=$((20000 + $$ % 30000))
PGOPTS="-p $PORT -k $PGD -c listen_addresses='' -c fsync=off -c log_connections=on"
pg "$PGBIN/pg_ctl" -D "$PGD/data" -l "$PGD/log" -w -o "$PGOPTS" start > /dev/null || { cat "$PGD/log"; echo "the server did not start"; exit 1; }
export PGPASSWORD=$PASS
DB="postgresql://postgres@/postgres?host=$PGD&port=$PORT"
q() { psql -X -q -A -t -d "$DB" -c "$1"; }
q "select 1" > /dev/null || { echo "cannot reach the server"; exit 1; }

# ---- every type, nulls and awkward text, CSV -> PostgreSQL -> CSV ----
printf 'id,price,ok,note\n' > in.csv
printf '1,1.5,true,"say ""hi"", then go"\n' >> in.csv
printf '2,-0.25,false,tab\there\n' >> in.csv
printf '3,,true,"two\nlines and a\rCR"\n' >> in.csv
printf '4,1e-05,false,back\\slash \\N \\t\n' >> in.csv
printf '5,7,,ünïcødé ✓\n' >> in.csv
printf '6,2.5,true,""\n' >> in.csv
printf '7,3.75,false,\n' >> in.csv
expect_rc 0 "CSV into a new table" "$S" cat in.csv -o "$DB&table=sales"
got=$(q "select string_agg(column_name || ' ' || data_type, ', ' order by ordinal_position) from information_schema.columns where table_name = 'sales'")
[ "$got" = "id bigint, price double precision, ok boolean, note text" ] && ok "column types from the records" || bad "types: $got"
[ "$(q "select count(*) filter (where note = ''), count(*) filter (where note is null), count(*) filter (where price is null) from sales")" = "1|1|1" ] \
  && ok "nulls and the empty string kept apart" || bad "nulls"
[ "$(q "select note from sales where id = 4")" = 'back\slash \N \t' ] && [ "$(q "select note = E'two\nlines and a\rCR' from sales where id = 3")" = t ] \
  && ok "backslash, \\N, tab, newline and CR survive COPY" || bad "escaping"
expect_rc 0 "read the table back" "$S" cat "$DB&table=sales" -o back.csv
cmp -s in.csv back.csv && ok "CSV -> PostgreSQL -> CSV is byte-identical" || bad "round trip: $(diff in.csv back.csv | head -6)"
[ "$(q "select count(*) from sluice_load_progress")" = 0 ] && ok "a successful load leaves no progress rows" || bad "progress rows left"

# memcheck over a write, a read and a per-key join (not with a sanitizer
# build, which has its own checks)
if ! nm "$SLUICE" 2> /dev/null | grep -q __asan_init && command -v valgrind > /dev/null; then
  vg() { valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite "$@"; }
  expect_rc 0 "valgrind: write in batches" vg "$S" 'batch 2 | write '"$DB"'&table=vg' in.csv
  expect_rc 0 "valgrind: read back" vg "$S" cat "$DB&table=vg" --to ndjson
  expect_rc 0 "valgrind: per-key join" vg "$S" 'join '"$DB"'&table=vg on id --lookup per-key --left' in.csv
fi

# ---- NDJSON types ----
cat > in.ndjson << 'EOF'
{"k":1,"x":2.5,"b":true,"s":"007","n":null}
{"k":-9007199254740993,"x":-1.25,"b":false,"s":"a\"b\\c\td\ne","n":null}
EOF
expect_rc 0 "NDJSON into PostgreSQL" "$S" cat in.ndjson -o "$DB&table=j"
"$S" cat "$DB&table=j" --to ndjson > back.ndjson 2> err.txt
cmp -s in.ndjson back.ndjson && ok "NDJSON -> PostgreSQL -> NDJSON identical" || bad "NDJSON: $(diff in.ndjson back.ndjson | head -4)"
q "create table ty (i int, n numeric(10,3), f real, bo boolean, by bytea, js jsonb, ts timestamptz, nan double precision)"
q "insert into ty values (-5, 12.500, 0.5, true, '\\x00ff', '{\"a\": [1, 2]}', '2024-01-02 03:04:05+00', 'NaN')"
got=$(TZ=UTC PGTZ=UTC "$S" cat "$DB&table=ty&options=-c%20TimeZone%3DUTC" --to ndjson)
want='{"i":-5,"n":12.500,"f":0.5,"bo":true,"by":"\\x00ff","js":"{\"a\": [1, 2]}","ts":"2024-01-02 03:04:05+00","nan":"NaN"}'
[ "$got" = "$want" ] && ok "server types read as numbers, booleans and strings; libpq keys passed on" || bad "types read: $got"

# ---- 0 rows, many batches, modes ----
printf 'id,name\n' > empty.csv
expect_rc 0 "0 rows into a new table" "$S" cat empty.csv -o "$DB&table=empty"
[ "$(q "select to_regclass('empty') is null")" = t ] && ok "0 rows: no table made" || bad "0 rows made a table"
expect_rc 0 "0 rows appended" "$S" cat empty.csv -o "$DB&table=sales"
[ "$(q "select count(*) from sales")" = 7 ] && ok "0 rows: table unchanged" || bad "0 rows changed it"
{ echo id,v; seq 1 25000 | awk '{print $1 "," $1 * 2}'; } > many.csv
expect_rc 0 "25000 rows in batches of 1000" "$S" 'batch 1000 | write '"$DB"'&table=m' many.csv
[ "$(q "select count(*), count(distinct id), sum(v) from m")" = "25000|25000|625025000" ] && ok "every row once" || bad "many: $(q "select count(*) from m")"
expect_rc 0 "append" "$S" cat in.csv -o "$DB&table=sales&mode=append"
[ "$(q "select count(*) from sales")" = 14 ] && ok "append adds" || bad "append"
expect_rc 74 "mode=fail" "$S" cat in.csv -o "$DB&table=sales&mode=fail"
grep -q 'already exists (mode=fail' err.txt && ok "mode=fail refuses" || bad "fail: $(cat err.txt)"
printf 'a,b\nx,1\n' > other.csv
expect_rc 0 "replace" "$S" cat other.csv -o "$DB&table=sales&mode=replace"
[ "$(q "select count(*) from sales")|$(q "select string_agg(column_name, ',' order by ordinal_position) from information_schema.columns where table_name = 'sales'")" = "1|a,b" ] \
  && ok "replace recreates" || bad "replace"

# ---- a row the server refuses ----
q "create table u (id bigint primary key, v bigint not null)"
{ echo id,v; seq 1 300 | awk '{print $1 "," ($1 == 150 ? "oops" : $1)}'; } > bad.csv
expect_rc 65 "a value that is not a bigint, --on-error stop" "$S" 'batch 100 | write '"$DB"'&table=u' bad.csv
[ "$(q "select count(*), max(id) from u")" = "100|100" ] && ok "batch 2 rolled back, batch 1 kept" || bad "rollback: $(q "select count(*) from u")"
grep -q 'bad.csv:151: .*invalid input syntax for type bigint.*batch 2 rolled back; 100 rows committed' err.txt \
  && ok "the message names the record and the rows committed" || bad "message: $(cat err.txt)"
q "delete from u"
expect_rc 3 "the same with --on-error reject" "$S" 'batch 100 | write '"$DB"'&table=u' bad.csv --on-error reject=rej.ndjson
[ "$(q "select count(*) from u")" = 299 ] && grep -q '"line":151' rej.ndjson && ok "reject: only the bad row left out, and written to the reject file" \
  || bad "reject: $(q "select count(*) from u") $(cat rej.ndjson)"

# ---- join and cat ----
q "create table users (uid bigint, name text, tier text); insert into users values (1,'Ann','pro'),(2,'Bob','free'),(4,NULL,'x')"
printf 'order,user_id\n10,1\n11,2\n12,3\n13,4\n' > orders.csv
got=$("$S" 'join '"$DB"'&table=users on user_id=uid' orders.csv)
[ "$got" = "$(printf 'order,user_id,name,tier\n10,1,Ann,pro\n11,2,Bob,free\n13,4,,x')" ] && ok "join from a table" || bad "join: $got"
got=$("$S" 'join '"$DB"'&query=SELECT+uid,upper(name)+AS+name+FROM+users+WHERE+tier%3D%27pro%27 on user_id=uid --left' orders.csv)
[ "$got" = "$(printf 'order,user_id,name\n10,1,ANN\n11,2,\n12,3,\n13,4,')" ] && ok "join --left from a query" || bad "join query: $got"
got=$("$S" 'join '"$DB"'&table=users on user_id=uid --lookup per-key --left' orders.csv)
[ "$got" = "$(printf 'order,user_id,name,tier\n10,1,Ann,pro\n11,2,Bob,free\n12,3,,\n13,4,,x')" ] && ok "join --lookup per-key --left" || bad "per-key: $got"
q "create table big (uid bigint primary key, name text); insert into big select i, 'user' || i from generate_series(1, 500) i"
{ echo id,user_id; seq 1 20000 | awk '{print $1 "," ($1 * 7919) % 700}'; } > clicks.csv
"$S" 'join '"$DB"'&table=big on user_id=uid' clicks.csv > load.csv 2> err.txt
"$S" 'join '"$DB"'&query=SELECT+*+FROM+big on user_id=uid --lookup per-key --cache 50' clicks.csv > perkey.csv 2>> err.txt
[ "$(wc -l < load.csv)" -gt 10000 ] && cmp -s load.csv perkey.csv && [ ! -s err.txt ] && ok "per-key from a query gives what loading gives" \
  || bad "per-key differs: $(diff load.csv perkey.csv | head -3) $(cat err.txt)"
expect_rc 66 "a missing table as input" "$S" cat "$DB&table=nope"
grep -q 'relation "nope" does not exist' err.txt && ok "missing table named" || bad "missing: $(cat err.txt)"

# ---- passwords: libpq conventions, never printed ----
WRONG="postgresql://postgres:hunter22@/postgres?host=$PGD&port=$PORT"
PGPASSWORD= expect_rc 74 "a wrong password in the URL" "$S" cat in.csv -o "$WRONG&table=pw"
grep -q 'password authentication failed' err.txt && ! grep -q hunter22 err.txt && grep -q 'postgres:\*\*\*@' err.txt \
  && ok "the failure is told, the password is not" || bad "password shown or no message: $(cat err.txt)"
RIGHT="postgresql://postgres:$(printf '%s' "$PASS" | sed 's/ /%20/')@/postgres?host=$PGD&port=$PORT"
PGPASSWORD= expect_rc 74 "the right password in the URL, create=no" "$S" cat in.csv -o "$RIGHT&table=pw&create=no" --stats
! grep -q 's3cr3t' err.txt && grep -q 'no table "pw" (create=no)' err.txt && ok "a connected error, --stats too, without the password" || bad "$(cat err.txt)"
printf '*:*:*:postgres:%s\n' "$PASS" > pgpass && chmod 600 pgpass
PGPASSWORD= PGPASSFILE=$WORK/pgpass expect_rc 0 "~/.pgpass (PGPASSFILE) is used" "$S" cat in.csv -o "$DB&table=pw"

# ---- the server restarts in the middle of a load ----
N=3000
slow() { echo id,v; for i in $(seq 1 $N); do echo "$i,$((i * 3))"; [ $((i % 50)) = 0 ] && sleep 0.02; done; }
wait_rows() { # until the table has more than $1 rows (at most 20 s)
  for _ in $(seq 1 400); do
    c=$(q "select count(*) from r" 2> /dev/null) && [ -n "$c" ] && [ "$c" -gt "$1" ] && return 0
    sleep 0.05
  done
  return 1
}
q "create table r (id bigint, v bigint)"
slow | "$S" 'batch 100 | write '"$DB"'&table=r&application_name=sluice_restart' --retry-for 60s > out.txt 2> err.txt &
pid=$!
wait_rows 0 || bad "no rows arrived before the first restart"
pg "$PGBIN/pg_ctl" -D "$PGD/data" -l "$PGD/log" -w -m fast restart > /dev/null || bad "restart -m fast"
before=$(q "select count(*) from r")
wait_rows "$before" || bad "no rows after the fast restart"
pg "$PGBIN/pg_ctl" -D "$PGD/data" -l "$PGD/log" -w -m immediate restart > /dev/null || bad "restart -m immediate"
wait $pid
rc=$?
[ "$rc" = 0 ] && [ ! -s err.txt ] && ok "the load survived two restarts (exit 0, nothing on stderr)" || bad "restart load: exit $rc: $(cat err.txt)"
[ "$(q "select count(*), count(distinct id), min(id), max(id), sum(v) from r")" = "$N|$N|1|$N|$((3 * N * (N + 1) / 2))" ] \
  && ok "exactly the input rows: none lost, none twice" || bad "after restarts: $(q "select count(*), count(distinct id) from r")"
conns=$(grep -c 'application_name=sluice_restart' "$PGD/log")
[ "$conns" -ge 3 ] && ok "it reconnected after each restart ($conns connections)" || bad "only $conns connections: the restarts missed the load"

# ---- its connection killed again and again, at any moment of a batch
# (before, during, after COPY, in the middle of COMMIT) ----
q "create table k (id bigint, v bigint)"
slow | "$S" 'batch 50 | write '"$DB"'&table=k&application_name=sluice_kill' --retry-for 30s > out.txt 2> err.txt &
pid=$!
kills=0
while kill -0 $pid 2> /dev/null; do
  n=$(q "select count(pg_terminate_backend(pid)) from pg_stat_activity where application_name = 'sluice_kill'" 2> /dev/null)
  kills=$((kills + ${n:-0}))
  sleep 0.07
done
wait $pid
rc=$?
[ "$rc" = 0 ] && [ ! -s err.txt ] && [ "$kills" -ge 5 ] && ok "the load survived $kills killed connections" || bad "kills: exit $rc, $kills kills: $(cat err.txt)"
[ "$(q "select count(*), count(distinct id), sum(v) from k")" = "$N|$N|$((3 * N * (N + 1) / 2))" ] \
  && ok "and holds exactly the input rows" || bad "after kills: $(q "select count(*), count(distinct id) from k")"

# ---- an outage longer than --retry-for ----
q "create table o (id bigint, v bigint)"
slow | "$S" 'batch 100 | write '"$DB"'&table=o' --retry-for 1s > out.txt 2> err.txt &
pid=$!
for _ in $(seq 1 400); do c=$(q "select count(*) from o"); [ "$c" -gt 0 ] && break; sleep 0.05; done
pg "$PGBIN/pg_ctl" -D "$PGD/data" -w -m fast stop > /dev/null
wait $pid
rc=$?
[ "$rc" = 74 ] && grep -q 'could not get it back within --retry-for 1s.*rows committed' err.txt && ! grep -q s3cr3t err.txt \
  && ok "an outage past --retry-for fails with exit 74 and the rows committed" || bad "outage: exit $rc: $(cat err.txt)"
pg "$PGBIN/pg_ctl" -D "$PGD/data" -l "$PGD/log" -w -o "$PGOPTS" start > /dev/null || bad "start again"
committed=$(sed -n 's/.*; \([0-9]*\) rows committed.*/\1/p' err.txt)
[ -n "$committed" ] && [ "$(q "select count(*) from o")" = "$committed" ] && ok "the table holds exactly the rows the message counts ($committed)" \
  || bad "committed $committed, table $(q "select count(*) from o")"
finish
