#!/usr/bin/env bash
# SIGTERM in the middle of an external sort: exit status 143, no spill file
# left in TMPDIR, no output file (neither the final name nor the sink's
# temporary file).  The first run is checked to have spill files open (as
# unlinked descriptors of the process) when the signal lands; then 30 runs
# are killed at random moments, since a file could only be left behind if
# the signal hit the instant between its creation and its unlink.
. "$(dirname "$0")/lib.sh"
mkdir spill outdir
awk 'BEGIN { srand(3); print "id,k,s"; for (i = 1; i <= 1000000; i++) printf "%d,%d,%c%c\n", i, int(rand() * 100000), 97 + int(rand() * 26), 97 + int(rand() * 26) }' > in.csv

TMPDIR=$PWD/spill "$SLUICE" --memory-limit 1M "sort s, -k" in.csv -o outdir/out.csv 2> err.txt &
pid=$!
# wait (at most 20 s) until the sort has spill files open
spilling=0
for _ in $(seq 1 400); do
  if ls -l /proc/$pid/fd 2>/dev/null | grep -q 'sluice-sort-'; then spilling=1; break; fi
  kill -0 $pid 2>/dev/null || break
  sleep 0.05
done
[ "$spilling" = 1 ] && ok "the sort spills to TMPDIR" || bad "no spill file seen before the sort ended"
kill -TERM $pid 2>/dev/null
wait $pid
rc=$?
[ "$rc" = 143 ] && ok "exit status 143 after SIGTERM" || bad "exit status $rc, expected 143 (stderr: $(head -c 300 err.txt))"
left=$(ls -A spill | wc -l)
[ "$left" = 0 ] && ok "no spill file left in TMPDIR" || bad "$left file(s) left in TMPDIR: $(ls -A spill | head -5)"
out=$(ls -A outdir | wc -l)
[ "$out" = 0 ] && ok "no output file, no temporary output file" || bad "output directory not empty: $(ls -A outdir | head -5)"

# killed at random moments: never a file left behind
leaks=0 badrc=0 partial=0
for i in $(seq 1 30); do
  TMPDIR=$PWD/spill "$SLUICE" --memory-limit 1M "sort s, -k" in.csv -o outdir/out.csv 2>> killed_err.txt &
  pid=$!
  sleep "0.$((RANDOM % 4))$((RANDOM % 10))"
  kill -TERM $pid 2>/dev/null
  wait $pid
  rc=$?
  [ "$rc" = 143 ] || [ "$rc" = 0 ] || badrc=$((badrc + 1))
  if [ -n "$(ls -A spill)" ]; then leaks=$((leaks + 1)); rm -f spill/*; fi
  [ "$rc" = 143 ] && [ -e outdir/out.csv ] && partial=$((partial + 1))
  # the sink's own temporary file is kill_atomic.sh's business
  rm -f outdir/out.csv outdir/.out.csv.sluice-*
done
[ "$leaks" = 0 ] && ok "30 runs killed at random moments: no spill file left" || bad "$leaks of 30 killed runs left spill files"
[ "$badrc" = 0 ] && ok "30 runs killed at random moments: exit 143 (or 0 when done first)" || bad "$badrc runs exited otherwise: $(grep -v "^$" killed_err.txt | head -3)"
[ "$partial" = 0 ] && ok "no output file from a killed run" || bad "$partial killed runs left out.csv"

# the same sort left alone finishes, leaves nothing behind, and is sorted
TMPDIR=$PWD/spill "$SLUICE" --memory-limit 1M "sort s, -k" in.csv -o outdir/out.csv 2> err2.txt
rc=$?
[ "$rc" = 0 ] && ok "uninterrupted sort succeeds" || bad "uninterrupted sort: exit $rc: $(head -c 300 err2.txt)"
[ "$(ls -A spill | wc -l)" = 0 ] && ok "no spill file left after success" || bad "spill files left after success"
tail -n +2 in.csv | sort -t, -s -k3,3 -k2,2nr | cmp -s - <(tail -n +2 outdir/out.csv) && ok "output equals sort -s" \
  || bad "output differs from sort -s"
finish
