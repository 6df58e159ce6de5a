#!/usr/bin/env bash
# External sort of a 2 GiB generated sales CSV under --memory-limit 64M: time, peak RSS,
# correctness against GNU sort, spill-directory hygiene, and SIGTERM in the middle of a run.
#
#   sluice 'sort region, -price' --memory-limit 64M --temp-dir SPILL IN -o OUT
#
# region (column 4) is text, price (column 6) a number with two decimals: the text key
# first, then the numeric key descending.  Steps:
#   1  the input: $DATA, generated with `gen sales --bytes $SIZE` unless it already exists
#   2  GNU sort, timed (the peer row) and kept as the reference:
#        head -n 1 IN > REF
#        tail -n +2 IN | LC_ALL=C sort -s -t, -k4,4 -k6,6gr -S 64M -T GNUTMP --parallel=1 >> REF
#      (one thread, like sluice; /usr/bin/time measures sort alone, not tail)
#   3  the sluice command above REPS times: wall, user, sys, peak RSS (/usr/bin/time -f);
#      after each run: exit 0, OUT byte-identical to REF (cmp), SPILL empty, and no
#      temporary output (.OUT.sluice-XXXXXX) beside OUT.  The run files are unlinked as soon
#      as sluice creates them, so SPILL always looks empty; a probe polls
#      /proc/PID/fd once a second to count the open (deleted) run files in SPILL and their bytes,
#      which shows that the spill went where --temp-dir says.
#   4  SIGTERM: the same command, killed with kill -TERM (a) in the spill phase (after
#      TERM_AFTER seconds, with at least 2 run files open and nothing written to OUT's temporary
#      file yet) and (b) in the merge phase (OUT's temporary file has grown past 64 MiB: only the
#      last merge writes output).  Checks: exit status 143 (and that sluice exited with it, not
#      died of the signal), SPILL empty, neither OUT nor its temporary file exists.
#
# Why a line sort is a valid reference here: in gen.c's sales data only `note`, the last of
# the 9 columns, is ever quoted (5% hold ", ", 1% hold ""-escaped quotes), no field holds a
# newline, and columns 1-8 hold neither commas nor quotes.  So -t, finds columns 4 and 6
# exactly, one line is one record, and the note's quoting never reaches a key.  Step 1 checks
# that claim on the data (every line must match ^([^",]*,){8}).  sluice writes quotes only
# where a field needs them, which is what the generator does, so the whole output is compared
# byte for byte, not a projection.  Key semantics agree on this data: region is never
# numeric (sluice compares it byte-wise, like LC_ALL=C), price is always a number (-g, r),
# no key is empty (sluice puts nulls last), and -s keeps ties in input order, as sluice does.
#
#   bench/sort.sh
#   REPS=1  PEER_REPS=1 (GNU sort runs, default REPS)  SIZE=2G  MEM=64M  TERM_AFTER=3
#   DATA=path (default $PEERS_ROOT/data/sales_$SIZE.csv; removed at the end if this script
#   generated it, unless KEEP_DATA=1)  SLUICE=...  RES=...
# Results: $RES/sort.txt (log and table), $RES/sort_table.md, $RES/sort_raw.tsv (every run).
# Disk: about 4 x SIZE at once (input, reference, output, run files), all under /tmp.
set -u
. "$(dirname "$0")/common.sh"
bench_check
bench_res
GEN=$PEERS_ROOT/gen
REPS=${REPS:-3}
PEER_REPS=${PEER_REPS:-$REPS}
SIZE=${SIZE:-2G}
MEM=${MEM:-64M}
TERM_AFTER=${TERM_AFTER:-3}
KEEP_DATA=${KEEP_DATA:-0}
DATA=${DATA:-$PEERS_ROOT/data/sales_$SIZE.csv}
KEYS='region, -price'
GNU_KEYS=('-k4,4' '-k6,6gr')
RSS_LIMIT_MB=100   # the target: peak RSS < 100 MB (10^6 bytes)

LOG=$RES/sort.txt
RAW=$RES/sort_raw.tsv
WORK=$(realpath -m "$RES/sort")
SPILL=$WORK/spill         # sluice --temp-dir
GNUTMP=$WORK/gnutmp       # GNU sort -T
OUTDIR=$WORK/out
OUT=$OUTDIR/sorted.csv
REF=$OUTDIR/reference.csv
mkdir -p "$SPILL" "$GNUTMP" "$OUTDIR"

say() { echo "$*" | tee -a "$LOG"; }
median() { sort -g | awk '{a[NR]=$1} END{ if(NR==0){print "NA"; exit} if(NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }
now_ns() { date +%s%N; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
mib() { awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }
mb() { awk -v k="$1" 'BEGIN{printf "%.1f", k*1024/1e6}'; }
# what is in a directory (names), or "empty"
listing() { local l; l=$(ls -A "$1" 2>/dev/null | tr '\n' ' '); echo "${l:-empty}"; }
# the temporary output files the sink makes beside OUT (.NAME.sluice-XXXXXX)
tmp_outs() { local f; for f in "$OUTDIR"/."$(basename "$1")".sluice-*; do [ -e "$f" ] && echo "$f"; done; }
# the single child of a process (sluice under /usr/bin/time), waiting for it to appear
child_of() {
  local c _
  for _ in $(seq 1 200); do
    c=$(awk '{print $1}' "/proc/$1/task/$1/children" 2>/dev/null)
    [ -n "$c" ] && { echo "$c"; return; }
    kill -0 "$1" 2>/dev/null || return
    sleep 0.01
  done
}
# spill_probe PID -> "count bytes" of the run files PID holds open in SPILL (already unlinked)
spill_probe() {
  local fds; fds=$(find "/proc/$1/fd" -lname "$SPILL/sluice-sort-*" 2>/dev/null)
  if [ -z "$fds" ]; then echo "0 0"; return; fi
  # shellcheck disable=SC2086
  stat -L -c %s $fds 2>/dev/null | awk '{n++; b+=$1} END{print n+0, b+0}'
}
# size of the newest temporary output file beside $1, 0 if none
tmp_out_size() { local f s=0; for f in $(tmp_outs "$1"); do s=$(stat -c %s "$f" 2>/dev/null || echo 0); done; echo "$s"; }

echo "results: $RES"
say "== bench/sort.sh $(date -Is)"
say "  sluice: $SLUICE ($("$SLUICE" --version 2>&1 | head -n 1)), sha256 $(sha256sum "$SLUICE" | cut -c1-16)"
say "  repo: $(git -C "$REPO" rev-parse --short HEAD)$(git -C "$REPO" diff --quiet HEAD -- src include 2>/dev/null || echo ' (+ uncommitted changes in src/ or include/)')"
say "  machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(free -g | awk '/^Mem:/{print $2}') GiB, $(. /etc/os-release 2>/dev/null; echo "${PRETTY_NAME:-?}")"
say "  GNU sort: $(sort --version | head -n 1)"
say "  uptime at start: $(uptime)"

# ---------- 1. the input ----------
made_data=0
if [ -s "$DATA" ]; then
  say "== 1. input: reusing $DATA"
else
  say "== 1. input: $GEN sales --bytes $SIZE > $DATA"
  mkdir -p "$(dirname "$DATA")"
  t0=$(now_ns)
  if ! { "$GEN" sales --bytes "$SIZE" > "$DATA.part" && mv "$DATA.part" "$DATA"; }; then
    say "  !! generator failed"; rm -f "$DATA.part"; exit 1
  fi
  made_data=1
  say "  generated in $(awk -v a="$t0" -v b="$(now_ns)" 'BEGIN{printf "%.1f", (b-a)/1e9}') s"
fi
BYTES=$(stat -c %s "$DATA")
LINES=$(wc -l < "$DATA")
ROWS=$((LINES - 1))
BAD=$(grep -cvE '^([^",]*,){8}' "$DATA")
QUOTED=$(grep -c '"' "$DATA")
say "  $BYTES bytes ($(awk -v b="$BYTES" 'BEGIN{printf "%.2f GiB, %.1f MB", b/2^30, b/1e6}')), $ROWS rows + header, $QUOTED lines with a quoted note"
say "  lines whose first 8 columns hold a quote or a comma (must be 0 for the line-sort reference): $BAD"
[ "$BAD" = 0 ] || { say "  !! the data does not fit the reference's assumption; stopping"; exit 1; }

printf 'what\trep\twall_s\tuser_s\tsys_s\tmaxrss_kib\tstatus\tload\tnote\n' >> "$RAW"

# ---------- 2. GNU sort: peer row and reference ----------
say "== 2. GNU sort (reference and peer): tail -n +2 IN | LC_ALL=C sort -s -t, ${GNU_KEYS[*]} -S $MEM -T GNUTMP --parallel=1"
gw=(); gu=(); gs=(); gm=()
for r in $(seq 1 "$PEER_REPS"); do
  tf=$(mktemp); l=$(load)
  head -n 1 "$DATA" > "$REF"
  tail -n +2 "$DATA" | /usr/bin/time -f '%e %U %S %M %x' -o "$tf" \
    env LC_ALL=C sort -s -t, "${GNU_KEYS[@]}" -S "$MEM" -T "$GNUTMP" --parallel=1 >> "$REF"
  st="${PIPESTATUS[*]}"
  read -r w u s m x < <(tail -n 1 "$tf"); rm -f "$tf"
  gw+=("$w"); gu+=("$u"); gs+=("$s"); gm+=("$m")
  say "  run $r: wall=${w}s user=${u}s sys=${s}s maxrss=${m} KiB ($(mib "$m") MiB) pipestatus(tail,sort)=${st// /,} load=$l; -T dir after: $(listing "$GNUTMP")"
  printf 'gnu_sort\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n' "$r" "$w" "$u" "$s" "$m" "$x" "$l" >> "$RAW"
done
say "  reference: $(wc -l < "$REF") lines, $(stat -c %s "$REF") bytes"

# ---------- 3. sluice, timed ----------
say "== 3. sluice '$KEYS' --memory-limit $MEM --temp-dir SPILL IN -o OUT   (SPILL=$SPILL)"
sw=(); su=(); ss=(); sm=(); fails=0; maxruns=0; maxspill=0
for r in $(seq 1 "$REPS"); do
  rm -f "$OUT"
  [ "$(listing "$SPILL")" = empty ] || say "  !! SPILL not empty before run $r: $(listing "$SPILL")"
  tf=$(mktemp); pf=$(mktemp); l=$(load)
  /usr/bin/time -f '%e %U %S %M %x' -o "$tf" \
    "$SLUICE" "sort $KEYS" --memory-limit "$MEM" --temp-dir "$SPILL" "$DATA" -o "$OUT" &
  tpid=$!
  spid=$(child_of "$tpid")
  # the probe: most run files open at once, and their bytes at that moment
  ( pn=0; pb=0
    while [ -n "$spid" ] && kill -0 "$spid" 2>/dev/null; do
      read -r n b < <(spill_probe "$spid")
      if [ "$n" -gt "$pn" ] || { [ "$n" -eq "$pn" ] && [ "$b" -gt "$pb" ]; }; then pn=$n; pb=$b; echo "$pn $pb" > "$pf"; fi
      sleep 1
    done ) &
  ppid_=$!
  wait "$tpid"; rc=$?
  wait "$ppid_" 2>/dev/null
  read -r w u s m x < <(tail -n 1 "$tf"); rm -f "$tf"
  read -r pn pb < <(cat "$pf" 2>/dev/null || echo "0 0"); rm -f "$pf"
  pn=${pn:-0}; pb=${pb:-0}
  [ "$pn" -gt "$maxruns" ] && maxruns=$pn
  [ "$pb" -gt "$maxspill" ] && maxspill=$pb
  if cmp -s "$OUT" "$REF"; then same="identical to the reference"; else same="DIFFERENT from the reference"; fails=$((fails + 1)); fi
  sp=$(listing "$SPILL"); to=$(tmp_outs "$OUT" | tr '\n' ' ')
  [ "$rc" = 0 ] || fails=$((fails + 1))
  [ "$sp" = empty ] || fails=$((fails + 1))
  [ -z "$to" ] || fails=$((fails + 1))
  sw+=("$w"); su+=("$u"); ss+=("$s"); sm+=("$m")
  say "  run $r: wall=${w}s user=${u}s sys=${s}s maxrss=${m} KiB ($(mib "$m") MiB, $(mb "$m") MB) exit=$rc load=$l"
  say "         output $(wc -l < "$OUT") lines, $same; SPILL after: $sp; temporary output left: ${to:-none}; run files seen open in SPILL: up to $pn, $pb bytes"
  printf 'sluice\t%s\t%s\t%s\t%s\t%s\t%s\t%s\truns=%s spill_bytes=%s %s\n' "$r" "$w" "$u" "$s" "$m" "$rc" "$l" "$pn" "$pb" "${same%% *}" >> "$RAW"
done

# ---------- 4. SIGTERM ----------
# term_run PHASE: start the sort, kill -TERM it in PHASE (spill or merge), check what is left
term_fails=0
term_run() {
  local phase=$1 out=$OUTDIR/term.csv tf t0 tpid spid n b osz el hit="" tk
  rm -f "$out"
  tf=$(mktemp); t0=$(now_ns)
  /usr/bin/time -f '%x' -o "$tf" \
    "$SLUICE" "sort $KEYS" --memory-limit "$MEM" --temp-dir "$SPILL" "$DATA" -o "$out" &
  tpid=$!
  spid=$(child_of "$tpid")
  while [ -n "$spid" ] && kill -0 "$spid" 2>/dev/null; do
    read -r n b < <(spill_probe "$spid")
    osz=$(tmp_out_size "$out")
    el=$(awk -v a="$t0" -v b="$(now_ns)" 'BEGIN{printf "%.1f", (b-a)/1e9}')
    if [ "$phase" = spill ] && [ "$osz" = 0 ] && [ "$n" -ge 2 ] && awk -v e="$el" -v t="$TERM_AFTER" 'BEGIN{exit !(e >= t)}'; then hit=1
    elif [ "$phase" = merge ] && [ "$osz" -ge $((64 << 20)) ]; then hit=1; fi
    if [ -n "$hit" ]; then
      tk=$(now_ns); kill -TERM "$spid"; break
    fi
    sleep 0.1
  done
  wait "$tpid"; local rc=$?
  local gone; gone=$(awk -v a="${tk:-0}" -v b="$(now_ns)" 'BEGIN{printf "%.3f", (b-a)/1e9}')
  local how; how=$(grep -h 'Command' "$tf" | head -n 1); rm -f "$tf"
  if [ -z "$hit" ]; then
    say "  ($phase) !! sluice ended (exit $rc) before the $phase phase could be caught; not killed"
    term_fails=$((term_fails + 1)); rm -f "$out"; return
  fi
  local sp to ok=yes; sp=$(listing "$SPILL"); to=$(tmp_outs "$out" | tr '\n' ' ')
  [ "$rc" = 143 ] || ok=no
  case $how in *"terminated by signal"*) ok=no ;; esac
  [ "$sp" = empty ] || ok=no
  [ -e "$out" ] && ok=no
  [ -z "$to" ] || ok=no
  kill -0 "$spid" 2>/dev/null && ok=no
  [ $ok = yes ] || term_fails=$((term_fails + 1))
  say "  ($phase) kill -TERM at ${el}s with $n run files open in SPILL ($b bytes) and ${osz} bytes in OUT's temporary file"
  say "          exit status $rc (${how:-?}), gone ${gone}s after the signal; SPILL after: $sp; OUT exists: $([ -e "$out" ] && echo yes || echo no); temporary output left: ${to:-none}  => $([ $ok = yes ] && echo pass || echo FAIL)"
  printf 'sigterm_%s\t1\t%s\t\t\t\t%s\t%s\truns_open=%s spill_bytes=%s out_tmp_bytes=%s exit_after=%ss %s\n' "$phase" "$el" "$rc" "$(load)" "$n" "$b" "$osz" "$gone" "$ok" >> "$RAW"
  rm -f "$out"
}
say "== 4. SIGTERM during the run (same command, -o $OUTDIR/term.csv)"
term_run spill
term_run merge

# ---------- table ----------
# row NAME RUNS WALLS USERS SYSS RSSS (the last four: space-separated values, split on purpose)
# shellcheck disable=SC2086
row() {
  local name=$1 runs=$2 w u s m
  w=$(printf '%s\n' $3 | median); u=$(printf '%s\n' $4 | median); s=$(printf '%s\n' $5 | median); m=$(printf '%s\n' $6 | median)
  printf '| %s | %s | %s | %s | %s | %s | %s (%s MB) | %s |\n' "$name" "$runs" "$w" \
    "$(awk -v b="$BYTES" -v w="$w" 'BEGIN{printf "%.1f", b/1e6/w}')" "$u" "$s" "$(mib "$m")" "$(mb "$m")" "$(printf '%s ' $3)"
}
smed=$(printf '%s\n' "${sm[@]}" | median); smax=$(printf '%s\n' "${sm[@]}" | sort -g | tail -n 1)
{
  echo "Sort of $(awk -v b="$BYTES" 'BEGIN{printf "%.2f GiB (%d bytes)", b/2^30, b}' ), $ROWS rows, by region then -price, --memory-limit $MEM; medians (load at the start of each run in $RAW):"
  echo
  echo "| tool | runs | wall s | MB/s (wall) | user s | sys s | peak RSS MiB | wall of each run |"
  echo "|---|---:|---:|---:|---:|---:|---:|---|"
  row "sluice 'sort $KEYS' --memory-limit $MEM" "$REPS" "${sw[*]}" "${su[*]}" "${ss[*]}" "${sm[*]}"
  row "GNU sort -s -S $MEM --parallel=1 (reference)" "$PEER_REPS" "${gw[*]}" "${gu[*]}" "${gs[*]}" "${gm[*]}"
  echo
  echo "| check | result |"
  echo "|---|---|"
  echo "| peak RSS < $RSS_LIMIT_MB MB (every run) | highest $(mb "$smax") MB ($(mib "$smax") MiB), median $(mb "$smed") MB: $(awk -v k="$smax" -v l="$RSS_LIMIT_MB" 'BEGIN{print (k*1024 < l*1e6) ? "met" : "NOT met"}') |"
  echo "| output = GNU sort reference, exit 0, SPILL empty, no temporary output (every run) | $([ $fails = 0 ] && echo "yes, $REPS of $REPS runs" || echo "NO: $fails failed checks, see the log") |"
  echo "| run files open at once in SPILL (1 s probe, most of any run) | $maxruns, $maxspill bytes |"
  echo "| SIGTERM in the spill phase and in the merge phase: 143, nothing left | $([ $term_fails = 0 ] && echo "yes, both" || echo "NO: $term_fails failed, see the log") |"
} > "$RES/sort_table.md"
say "== results"
tee -a "$LOG" < "$RES/sort_table.md"
say "  uptime at the end: $(uptime)"

# ---------- cleanup: nothing large stays on disk ----------
rm -f "$OUT" "$REF"
rmdir "$SPILL" "$GNUTMP" "$OUTDIR" "$WORK" 2>/dev/null
if [ "$made_data" = 1 ] && [ "$KEEP_DATA" != 1 ]; then rm -f "$DATA"; say "  removed $DATA (KEEP_DATA=1 keeps it)"; fi
echo "log: $LOG"
[ $fails = 0 ] && [ $term_fails = 0 ]
