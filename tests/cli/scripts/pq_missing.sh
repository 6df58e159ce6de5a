#!/usr/bin/env bash
# libpq is loaded only when a postgres:// name is used (src/io/pq.h): a run
# without one does not map it at all, and a libpq that cannot be loaded is a
# clear error with the exit code of the side it was needed on.
. "$(dirname "$0")/lib.sh"
printf 'a\n1\n' > in.csv
if command -v ldd > /dev/null; then
  ldd "$SLUICE" | grep -q 'libpq' && bad "the binary links libpq" || ok "the binary does not link libpq"
fi
# a run that names no database never loads it
LD_DEBUG=files "$SLUICE" cat in.csv 2> ld.txt > /dev/null
grep -q 'libpq' ld.txt && bad "libpq was loaded by a run without a database" || ok "a run without a database does not load libpq"
# a libpq.so.5 that is not libpq: output side 74, input side 66, the same message
command -v cc > /dev/null || { echo "no C compiler"; exit 77; }
mkdir fake && printf 'int not_libpq(void) { return 0; }\n' > fake/x.c && cc -shared -fPIC -o fake/libpq.so.5 fake/x.c
LD_LIBRARY_PATH=$PWD/fake "$SLUICE" cat in.csv -o 'postgres://u@localhost/db?table=t' 2> err1.txt; rc=$?
[ "$rc" = 74 ] && grep -q 'lacks PQclear' err1.txt && ok "writing: exit 74, $(cat err1.txt)" || bad "writing: exit $rc: $(cat err1.txt)"
LD_LIBRARY_PATH=$PWD/fake "$SLUICE" cat 'postgres://u@localhost/db?table=t' 2> err2.txt > /dev/null; rc=$?
[ "$rc" = 66 ] && grep -q 'lacks PQclear' err2.txt && ok "reading: exit 66" || bad "reading: exit $rc: $(cat err2.txt)"
LD_LIBRARY_PATH=$PWD/fake "$SLUICE" 'join postgres://u@localhost/db?table=t on a --lookup per-key' in.csv 2> err3.txt > /dev/null; rc=$?
[ "$rc" = 66 ] && grep -q 'lacks PQclear' err3.txt && ok "per-key join: exit 66" || bad "per-key join: exit $rc: $(cat err3.txt)"
finish
