#!/usr/bin/env bash
# Fault injection: every malloc, read, write, fsync and rename of a run fails
# in turn (tests/fault/inject.c, LD_PRELOAD), and the run must fail cleanly:
#   - the documented exit status: 71 for memory, 66 for a read, 74 for a
#     write, fsync or rename (70, an internal error, is tolerated; 0 only
#     when the output is complete and right anyway);
#   - exactly one line on standard error (the error, not a cascade);
#   - no crash (no 134/139), and neither the output file nor a temporary
#     file left behind.
# K, the number of calls of each kind, is counted by the interposer in a
# clean run (SLUICE_COUNT).  Two pipelines: CSV with expressions to a gzip
# file, and gzip CSV to an NDJSON file; malloc failures also once more with
# SLUICE_FAIL_STICKY (every allocation from the N-th on fails).  Then a few
# failing runs under valgrind must show no leak (definite or indirect).
# Needs the interposer, built beside the binary when the build is not a
# sanitizer build (ASan owns malloc there): otherwise skipped (77).
. "$(dirname "$0")/lib.sh"
LIB=$(dirname "$SLUICE")/libsluice_inject.so
[ -f "$LIB" ] || { echo "no $LIB (a sanitizer build?)"; exit 77; }

awk 'BEGIN { srand(7); print "id,name,amount";
             for (i = 1; i <= 60000; i++) printf "%d,name%d,%.2f\n", i, int(rand() * 1000), rand() * 100 }' > in.csv
gzip -c in.csv > in.csv.gz
P1='filter amount > 10 | map x = amount * 2, tag = concat(name, "-", id) | select id,x,tag'
P2='head 50000 | drop name'
runs=0

# expected exit status for a failing call of kind $1
want_for() {
  case $1 in malloc) echo 71 ;; read) echo 66 ;; *) echo 74 ;; esac
}

# scenario NAME PIPELINE INPUT OUTPUT
scenario() {
  local sname=$1 pipe=$2 input=$3 output=$4
  rm -f ref.out counts.txt
  SLUICE_COUNT=counts.txt LD_PRELOAD=$LIB "$SLUICE" "$pipe" "$input" -o "$output" 2> err.txt
  local rc=$?
  [ "$rc" = 0 ] || { bad "$sname: clean run under the interposer fails ($rc): $(cat err.txt)"; return; }
  mv "$output" ref.out
  echo "$sname: calls in a clean run: $(tr '\n' ' ' < counts.txt)"
  local kind k n sticky
  for kind in malloc read write fsync rename; do
    k=$(awk -v k=$kind '$1 == k { print $2 }' counts.txt)
    [ "$k" -gt 0 ] || { bad "$sname: no $kind calls counted"; continue; }
    for sticky in 0 1; do
      [ "$sticky" = 1 ] && [ "$kind" != malloc ] && continue
      local fails=0 exits=""
      for ((n = 1; n <= k; n++)); do
        local var=SLUICE_FAIL_${kind^^}
        env "$var=$n" SLUICE_FAIL_STICKY=$sticky LD_PRELOAD="$LIB" "$SLUICE" "$pipe" "$input" -o "$output" \
          > /dev/null 2> err.txt
        rc=$?
        runs=$((runs + 1))
        exits+=" $rc"
        local what="$sname: $kind #$n/$k${sticky/1/ (sticky)}"
        local left
        left=$(ls -A | grep -v -x -e in.csv -e in.csv.gz -e ref.out -e err.txt -e counts.txt -e "$output")
        [ -z "$left" ] || { bad "$what: left behind: $left"; rm -f -- $left; }
        if [ "$rc" = 0 ]; then
          # the failure was absorbed: then the output must be complete
          cmp -s "$output" ref.out || bad "$what: exit 0 with a different output"
          [ -s err.txt ] && bad "$what: exit 0 with messages: $(head -c 200 err.txt)"
        else
          [ -e "$output" ] && bad "$what: $output left after exit $rc"
          [ "$rc" = "$(want_for $kind)" ] || [ "$rc" = 70 ] || {
            bad "$what: exit $rc, expected $(want_for $kind): $(head -c 300 err.txt)"; fails=$((fails + 1)); }
          [ "$(wc -l < err.txt)" = 1 ] || bad "$what: $(wc -l < err.txt) lines on stderr: $(head -c 300 err.txt)"
        fi
        rm -f "$output"
      done
      echo "  $kind${sticky/1/ sticky}: $k runs, exits:$(tr ' ' '\n' <<< "$exits" | sort | uniq -c | awk 'NF { printf " %s x%s", $2, $1 }')"
    done
  done
}

scenario csv-to-gz "$P1" in.csv out.csv.gz
scenario gz-to-ndjson "$P2" in.csv.gz out.ndjson
echo "$runs fault-injection runs"

# valgrind: failing runs must not leak
if command -v valgrind > /dev/null; then
  vg() {
    env "$@" LD_PRELOAD="$LIB" valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
      --error-exitcode=99 "$SLUICE" "$P1" in.csv -o out.csv.gz > /dev/null 2> vg.txt
    local rc=$?
    runs=$((runs + 1))
    if [ "$rc" = 99 ] || grep -q "definitely lost: [1-9]\|indirectly lost: [1-9]\|Invalid" vg.txt; then
      bad "valgrind $*: exit $rc: $(grep -m5 -e lost -e Invalid vg.txt | tr '\n' ' ')"
    else
      ok "valgrind $*: exit $rc, no leak"
    fi
    rm -f out.csv.gz vg.txt
  }
  vg SLUICE_FAIL_MALLOC=0
  for n in 5 20 40 60 80 100 115; do vg SLUICE_FAIL_MALLOC=$n; done
  vg SLUICE_FAIL_MALLOC=30 SLUICE_FAIL_STICKY=1
  vg SLUICE_FAIL_READ=2
  vg SLUICE_FAIL_WRITE=2
  vg SLUICE_FAIL_FSYNC=1
  vg SLUICE_FAIL_RENAME=1
else
  echo "valgrind not installed: leak runs skipped"
fi
finish
