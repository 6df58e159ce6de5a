#!/usr/bin/env bash
# SQLite as a sink, a source and a join lookup, through the binary, checked
# with the sqlite3 shell: every type, nulls, awkward text, 0 rows, many
# batches, the modes, a failing batch rolled back, join and cat.
. "$(dirname "$0")/lib.sh"
command -v sqlite3 > /dev/null || { echo "sqlite3 missing (tests/deps.sh installs it)"; exit 1; }
S=$SLUICE

# ---- every type, nulls and awkward text, CSV -> SQLite -> CSV ----
printf 'id,price,ok,note\n' > in.csv
printf '1,1.5,true,"say ""hi"", then go"\n' >> in.csv
printf '2,-0.25,false,tab\there\n' >> in.csv
printf '3,,true,"two\nlines and a\rCR"\n' >> in.csv
printf '4,1e-05,false,back\\slash \\N \\t\n' >> in.csv
printf '5,7,,ünïcødé ✓\n' >> in.csv
printf '6,2.5,true,""\n' >> in.csv
printf '7,3.75,false,\n' >> in.csv
expect_rc 0 "CSV into a new SQLite table" "$S" cat in.csv -o 'sqlite:t.db?table=sales'
got=$(sqlite3 t.db "select group_concat(name || ' ' || type, ', ') from pragma_table_info('sales')")
[ "$got" = "id INTEGER, price REAL, ok BOOLEAN, note TEXT" ] && ok "column types from the records" || bad "column types: $got"
got=$(sqlite3 t.db "select group_concat(typeof(id)||typeof(price)||typeof(ok)||typeof(note), ' ') from sales")
[ "$got" = "integerrealintegertext integerrealintegertext integernullintegertext integerrealintegertext integerrealnulltext integerrealintegertext integerrealintegernull" ] \
  && ok "values stored with their types, nulls as NULL" || bad "stored types: $got"
[ "$(sqlite3 t.db "select note from sales where id = 6")" = "" ] && [ "$(sqlite3 t.db "select count(*) from sales where note = ''")" = 1 ] \
  && ok "the empty string stays apart from null" || bad "empty string vs null"
[ "$(sqlite3 t.db "select note from sales where id = 4")" = 'back\slash \N \t' ] && ok "backslashes kept" || bad "backslashes"
expect_rc 0 "read the table back" "$S" cat 'sqlite:t.db?table=sales' -o back.csv
if cmp -s in.csv back.csv; then ok "CSV -> SQLite -> CSV is byte-identical"; else bad "round trip differs: $(diff in.csv back.csv | head -5)"; fi

# memcheck over a write, a read and a per-key join (valgrind sees reads of
# uninitialised bytes, which the sanitizers do not; a sanitizer build has
# its own checks and cannot run under valgrind)
if nm "$SLUICE" 2> /dev/null | grep -q __asan_init; then
  ok "valgrind: not with a sanitizer build"
elif command -v valgrind > /dev/null; then
  vg() { valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite "$@"; }
  rm -f vg.db
  expect_rc 0 "valgrind: write in batches" vg "$S" 'batch 2 | write sqlite:vg.db?table=t' in.csv
  expect_rc 0 "valgrind: read back" vg "$S" cat 'sqlite:vg.db?table=t' --to ndjson
  expect_rc 0 "valgrind: per-key join" vg "$S" 'join sqlite:vg.db?table=t on id --lookup per-key --left' in.csv
else
  bad "valgrind missing (tests/deps.sh installs it)"
fi

# ---- NDJSON: numbers, booleans, strings and nulls keep their JSON types ----
cat > in.ndjson << 'EOF'
{"k":1,"x":2.5,"b":true,"s":"007","n":null}
{"k":-9007199254740993,"x":-1.25,"b":false,"s":"a\"b\\c\td\ne","n":null}
EOF
expect_rc 0 "NDJSON into SQLite" "$S" cat in.ndjson -o 'sqlite:j.db?table=t'
"$S" cat 'sqlite:j.db?table=t' --to ndjson > back.ndjson 2> err.txt
if cmp -s in.ndjson back.ndjson; then ok "NDJSON -> SQLite -> NDJSON is identical (64-bit integers exact)"; else bad "NDJSON round trip: $(diff in.ndjson back.ndjson | head -4)"; fi

# ---- blobs and BOOLEAN columns read from a table sluice did not make ----
sqlite3 x.db "create table b (id integer, data blob, flag boolean, r real); insert into b values (1, x'00ff10', 1, 0.1), (2, NULL, 0, 1e300)"
got=$("$S" cat 'sqlite:x.db?table=b' --to ndjson)
want='{"id":1,"data":"\\x00ff10","flag":true,"r":0.1}
{"id":2,"data":null,"flag":false,"r":1e+300}'
[ "$got" = "$want" ] && ok "blob as \\x hex, BOOLEAN as true/false, reals shortest" || bad "blob/bool/real: $got"

# booleans into a TEXT column stay words; into a BOOLEAN column, 1/0
printf 'w,flag\nx,true\ny,false\n' > words.csv
sqlite3 w.db "create table t (w text, flag text); create table u (w text, flag boolean)"
"$S" cat words.csv -o 'sqlite:w.db?table=t' && "$S" cat words.csv -o 'sqlite:w.db?table=u'
[ "$(sqlite3 w.db "select group_concat(flag) from t") $(sqlite3 w.db "select group_concat(flag) from u")" = "true,false 1,0" ] \
  && ok "booleans follow the column's declared type" || bad "booleans: $(sqlite3 w.db "select group_concat(flag) from t")"

# ---- 0 rows ----
printf 'id,name\n' > empty.csv
expect_rc 0 "0 rows into a new table" "$S" cat empty.csv -o 'sqlite:e.db?table=t'
[ -z "$(sqlite3 e.db "select name from sqlite_master where name = 't'")" ] && ok "0 rows: no table made (no schema to make it from)" || bad "a table was made from 0 rows"
expect_rc 0 "0 rows appended to an existing table" "$S" cat empty.csv -o 'sqlite:t.db?table=sales'
[ "$(sqlite3 t.db "select count(*) from sales")" = 7 ] && ok "0 rows: table unchanged" || bad "0 rows changed the table"

# ---- many batches, with and without the batch stage ----
{ echo id,v; seq 1 25000 | awk '{print $1 "," $1 * 2}'; } > many.csv
expect_rc 0 "25000 rows in batches of 1000" "$S" 'batch 1000 | write sqlite:m.db?table=t' many.csv
[ "$(sqlite3 m.db "select count(*), count(distinct id), sum(v) from t")" = "25000|25000|625025000" ] && ok "every row once" || bad "many batches: $(sqlite3 m.db "select count(*), sum(v) from t")"
expect_rc 0 "25000 rows with -o (a transaction per 10000)" "$S" cat many.csv -o 'sqlite:m2.db?table=t' --stats=stats.json
[ "$(sqlite3 m2.db "select count(*), sum(v) from t")" = "25000|625025000" ] && grep -q '"rows_committed":25000' stats.json \
  && ok "-o DBNAME, --stats rows_committed" || bad "-o sqlite: $(sqlite3 m2.db "select count(*) from t"), $(cat stats.json)"

# an input error after some transactions: the committed rows stay and are told
{ echo id,v; seq 1 15000 | awk '{print $1 "," $1}'; echo '15001,"x'; } > badtail.csv
expect_rc 65 "a CSV error after 15000 rows" "$S" cat badtail.csv -o 'sqlite:bt.db?table=t'
n=$(sed -n 's/^sluice: \([0-9]*\) rows were committed to the database output before the error.*/\1/p' err.txt)
[ -n "$n" ] && [ "$n" -ge 10000 ] && [ "$n" -lt 15000 ] && [ "$(sqlite3 bt.db "select count(*) from t")" = "$n" ] \
  && ok "the report names the $n rows committed, which the table holds" || bad "committed report: $(cat err.txt)"

# ---- modes ----
expect_rc 0 "mode=append (default) adds" "$S" cat in.csv -o 'sqlite:t.db?table=sales'
[ "$(sqlite3 t.db "select count(*) from sales")" = 14 ] && ok "append" || bad "append: $(sqlite3 t.db "select count(*) from sales")"
expect_rc 74 "mode=fail on an existing table" "$S" cat in.csv -o 'sqlite:t.db?table=sales&mode=fail'
grep -q 'already exists (mode=fail' err.txt && [ "$(sqlite3 t.db "select count(*) from sales")" = 14 ] && ok "mode=fail: message, table untouched" || bad "mode=fail: $(cat err.txt)"
printf 'a,b\nx,1\n' > other.csv
expect_rc 0 "mode=replace recreates from the records" "$S" cat other.csv -o 'sqlite:t.db?table=sales&mode=replace'
[ "$(sqlite3 t.db "select group_concat(name) from pragma_table_info('sales')")|$(sqlite3 t.db "select count(*) from sales")" = "a,b|1" ] \
  && ok "replace: new columns, new rows" || bad "replace"
expect_rc 0 "mode=replace with 0 rows empties" "$S" cat empty.csv -o 'sqlite:t.db?table=sales&mode=replace'
[ "$(sqlite3 t.db "select count(*) from sales")" = 0 ] && ok "replace with 0 rows: empty table" || bad "replace 0 rows"
expect_rc 74 "create=no with no table" "$S" cat in.csv -o 'sqlite:t.db?table=nope&create=no'
grep -q 'no table "nope" (create=no)' err.txt && ok "create=no says so" || bad "create=no: $(cat err.txt)"

# ---- a failing batch is rolled back and follows --on-error ----
sqlite3 u.db "create table t (id integer primary key, v integer not null)"
{ echo id,v; seq 1 300 | awk '{print $1 "," ($1 == 150 ? "" : $1)}'; } > nn.csv
expect_rc 65 "a NOT NULL violation with --on-error stop" "$S" 'batch 100 | write sqlite:u.db?table=t' nn.csv
[ "$(sqlite3 u.db "select count(*), max(id) from t")" = "100|100" ] && ok "batch 2 rolled back, batch 1 kept" || bad "rollback: $(sqlite3 u.db "select count(*), max(id) from t")"
grep -q 'nn.csv:151: .*NOT NULL constraint failed.*batch 2; 100 rows committed' err.txt && ok "the message names the record, the batch and the rows committed" || bad "message: $(cat err.txt)"
sqlite3 u.db "delete from t"
expect_rc 3 "the same with --on-error skip" "$S" 'batch 100 | write sqlite:u.db?table=t' nn.csv --on-error skip
[ "$(sqlite3 u.db "select count(*) from t")" = 299 ] && ok "skip: only the bad row left out" || bad "skip: $(sqlite3 u.db "select count(*) from t")"
expect_rc 74 "a table whose columns do not match" "$S" cat other.csv -o 'sqlite:u.db?table=t'
grep -q 'cannot prepare the INSERT' err.txt && ok "column mismatch explained" || bad "mismatch: $(cat err.txt)"

# ---- join and cat from SQLite ----
sqlite3 ref.db "create table users (uid integer, name text, tier text); insert into users values (1,'Ann','pro'),(2,'Bob','free'),(2,'Bob2','free'),(4,NULL,'x')"
printf 'order,user_id\n10,1\n11,2\n12,3\n13,4\n' > orders.csv
got=$("$S" 'join sqlite:ref.db?table=users on user_id=uid' orders.csv)
want='order,user_id,name,tier
10,1,Ann,pro
11,2,Bob,free
11,2,Bob2,free
13,4,,x'
[ "$got" = "$want" ] && ok "join from a table" || bad "join table: $got"
got=$("$S" 'join sqlite:ref.db?query=SELECT+uid,+upper(name)+AS+name+FROM+users+WHERE+tier%3D%27pro%27 on user_id=uid --left' orders.csv)
want='order,user_id,name
10,1,ANN
11,2,
12,3,
13,4,'
[ "$got" = "$want" ] && ok "join --left from a query (+ and %XX decoded)" || bad "join query: $got"
# --lookup per-key: the same records as loading the table, in bounded memory
sqlite3 big.db "create table u (uid integer primary key, name text); with recursive n(i) as (select 1 union all select i + 1 from n where i < 500) insert into u select i, 'user' || i from n"
{ echo id,user_id; seq 1 20000 | awk '{print $1 "," ($1 * 7919) % 700}'; } > clicks.csv
"$S" 'join sqlite:big.db?table=u on user_id=uid --left' clicks.csv > load.csv 2> err.txt
"$S" 'join sqlite:big.db?table=u on user_id=uid --left --lookup per-key' clicks.csv > perkey.csv 2>> err.txt
"$S" 'join sqlite:big.db?table=u on user_id=uid --left --lookup per-key --cache 10' clicks.csv > perkey10.csv 2>> err.txt
[ "$(wc -l < load.csv)" = 20001 ] && cmp -s load.csv perkey.csv && cmp -s load.csv perkey10.csv && [ ! -s err.txt ] \
  && ok "--lookup per-key (with and without a small --cache) gives what loading gives" || bad "per-key differs: $(diff load.csv perkey.csv | head -3) $(cat err.txt)"
got=$(printf 'user_id\n01\n7\n' | "$S" 'join sqlite:big.db?table=u on user_id=uid --lookup per-key')
[ "$got" = "$(printf 'user_id,name\n01,user1\n7,user7')" ] && ok "per-key compares as the database does (01 finds 1)" || bad "per-key 01: $got"
expect_rc 64 "per-key on a file" "$S" 'join orders.csv on user_id --lookup per-key' orders.csv
expect_rc 0 "cat a query to CSV" "$S" cat 'sqlite:ref.db?query=SELECT uid, name FROM users ORDER BY uid DESC LIMIT 2' -o q.csv
[ "$(cat q.csv)" = "$(printf 'uid,name\n4,\n2,Bob')" ] && ok "query as input" || bad "query input: $(cat q.csv)"
expect_rc 66 "a missing table as input" "$S" cat 'sqlite:ref.db?table=nope'
grep -q 'sqlite: sqlite:ref.db?table=nope: no such table: nope' err.txt && ok "missing table named" || bad "missing table: $(cat err.txt)"
expect_rc 64 "two columns of the same name" "$S" cat 'sqlite:ref.db?query=SELECT uid, uid FROM users'
grep -q "two columns are named 'uid'" err.txt && ok "duplicate column names refused" || bad "dup: $(cat err.txt)"
expect_rc 64 "a name without table or query" "$S" cat 'sqlite:ref.db'
grep -q 'names no table' err.txt && ok "usage error for a bare name" || bad "bare: $(cat err.txt)"
finish
