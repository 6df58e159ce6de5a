#!/usr/bin/env bash
# Exit status 70 (internal error) through the real binary, on a real path:
# a spill file of an external sort that reads back corrupt when the runs are
# merged.  The spill files are unlinked as soon as they are created, so
# nothing but the process can reach them, except through /proc/PID/fd: the
# test feeds the sort through a FIFO, waits until it has written a run to
# disk, overwrites the first bytes of that run through /proc, then ends the
# input.  The merge must then stop with exit 70 and a message naming the
# stage, publish no output file, and leave neither the sink's temporary
# file nor a spill file behind.  No injector and no hidden switch: this
# runs the same in the sanitizer build.
. "$(dirname "$0")/lib.sh"
[ -d /proc/self/fd ] || { echo "no /proc here"; exit 77; }
mkdir spill outdir
# 60 000 records of ~40 bytes: several runs under --memory-limit 1M
awk 'BEGIN { print "id,k,s"; for (i = 1; i <= 60000; i++) printf "%d,%d,%s\n", i, (i * 7919) % 100003, "padding-padding-padding" }' > part1.csv
# start_sort ERRFILE: the sort reading in.fifo (written through fd 3, all
# of part1.csv, left open), then wait (at most 20 s) for a spill file with
# data in it: sets pid and fd (empty when none was seen)
start_sort() {
  rm -f in.fifo && mkfifo in.fifo
  TMPDIR=$PWD/spill "$SLUICE" --memory-limit 1M 'sort k' in.fifo --from csv -o outdir/out.csv 2> "$1" &
  pid=$!
  exec 3> in.fifo
  cat part1.csv >&3
  fd=
  for _ in $(seq 1 400); do
    for f in /proc/$pid/fd/*; do
      case $(readlink "$f" 2> /dev/null) in
        *sluice-sort-*) [ "$(stat -L -c %s "$f" 2> /dev/null || echo 0)" -gt 64 ] && { fd=$f; break; } ;;
      esac
    done
    [ -n "$fd" ] && break
    kill -0 $pid 2> /dev/null || break
    sleep 0.05
  done
}
start_sort err.txt
if [ -z "$fd" ]; then
  bad "no spill file with data seen (stderr: $(head -c 300 err.txt))"
  exec 3>&-
  wait $pid
  finish
fi
ok "the sort wrote a run to a spill file ($(stat -L -c %s "$fd") bytes so far)"
# what a failing disk or a stray writer could do: 16 bytes of 0xff where the
# first record's length is
head -c 16 /dev/zero | tr '\0' '\377' | dd of="$fd" bs=16 count=1 conv=notrunc status=none \
  && ok "overwrote the start of the run through $fd" || bad "cannot write through $fd"
exec 3>&-
wait $pid
rc=$?
[ "$rc" = 70 ] && ok "exit status 70 (internal error)" || bad "exit status $rc, expected 70 (stderr: $(head -c 300 err.txt))"
grep -q '^sluice: sort: .*spill file.*corrupt' err.txt && ok "the message names the stage: $(cat err.txt)" \
  || bad "message: $(cat err.txt)"
[ "$(wc -l < err.txt)" = 1 ] && ok "one line on standard error" || bad "$(wc -l < err.txt) lines on stderr"
[ -z "$(ls -A outdir)" ] && ok "no output file published, no temporary output file left" \
  || bad "left in the output directory: $(ls -A outdir)"
[ -z "$(ls -A spill)" ] && ok "no spill file left" || bad "left in the spill directory: $(ls -A spill)"

# a run cut short at a record boundary (here: emptied) must not merge as
# fewer records: once the sort has read everything the FIFO gave it and
# waits for more, every run it spilled is complete; empty the first one
start_sort err3.txt
# all of part1 is consumed when the process sleeps and its spill files stop
# growing (checked five times in a row, 0.1 s apart)
sizes() { for f in /proc/$pid/fd/*; do case $(readlink "$f" 2> /dev/null) in *sluice-sort-*) stat -L -c %s "$f" ;; esac; done 2> /dev/null | tr '\n' ' '; }
stable=0 last=
for _ in $(seq 1 300); do
  now="$(grep '^State:' /proc/$pid/status 2> /dev/null) $(sizes)"
  if [ "$now" = "$last" ] && [[ $now == *sleeping* ]]; then stable=$((stable + 1)); else stable=0; fi
  [ $stable -ge 5 ] && break
  last=$now
  sleep 0.1
done
if [ -n "$fd" ] && truncate -s 0 "$fd"; then ok "emptied a complete run through $fd"; else bad "no run to empty"; fi
exec 3>&-
wait $pid
rc=$?
[ "$rc" = 70 ] && ok "an emptied run: exit status 70" || bad "emptied run: exit $rc, expected 70 (stderr: $(head -c 300 err3.txt))"
grep -q 'spill file.*corrupt: it ends early' err3.txt && ok "the message says the run ends early: $(cat err3.txt)" \
  || bad "message: $(cat err3.txt)"
[ -z "$(ls -A outdir)" ] && ok "no output file published" || bad "left in the output directory: $(ls -A outdir)"
[ -z "$(ls -A spill)" ] && ok "no spill file left" || bad "left in the spill directory: $(ls -A spill)"

# the same input, untouched, sorts: the 70 came from the corruption alone
TMPDIR=$PWD/spill "$SLUICE" --memory-limit 1M 'sort k' part1.csv -o outdir/out.csv 2> err2.txt
rc=$?
[ "$rc" = 0 ] && [ "$(wc -l < outdir/out.csv)" = 60001 ] && ok "the uncorrupted run sorts (exit 0, 60000 records)" \
  || bad "uncorrupted run: exit $rc: $(head -c 300 err2.txt)"
finish
