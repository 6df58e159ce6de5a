#!/usr/bin/env bash
# Memory and early-exit checks of sluice on generated streams (nothing stored on disk).
#
#   a  peak RSS of sluice alone (/usr/bin/time -f %M, not the generator) in
#        gen sales --bytes 1G  | sluice 'select id,price,note' --to ndjson > /dev/null
#        gen sales --bytes 50M | (same)
#      targets: 1G run <= 20 MiB, and within 10% of the 50M run
#   b  wall time of  gen sales --bytes 10G | sluice 'head 3'  (target < 1 s); the generator
#      must die of SIGPIPE once sluice exits, or the pipeline would run for the whole 10 GiB
#   c  shared workload W7 (1 GiB and 10 GiB streams through filter status=="approved",
#      peers and sluice, peak RSS of the largest process) via ../shared/bench/peers/run_all.sh w7
#
#   bench/memory.sh            a b c
#   bench/memory.sh a b        only these parts
#   REPS=3 (a, b)  SLUICE=...  RES=...  W7_BYTES=10G  ONLY=sluice,mawk (c)
set -u
. "$(dirname "$0")/common.sh"
bench_check
bench_res
GEN=$PEERS_ROOT/gen
REPS=${REPS:-3}
parts=("$@"); [ ${#parts[@]} -eq 0 ] && parts=(a b c)
LOG=$RES/memory.txt
say() { echo "$*" | tee -a "$LOG"; }
median() { sort -g | awk '{a[NR]=$1} END{ if(NR==0){print "NA"; exit} if(NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }
now_ns() { date +%s%N; }

# select_rss SIZE -> "rss_kib wall_s status" for one run; sluice alone is measured
select_rss() {
  local tf t0 t1 st; tf=$(mktemp)
  t0=$(now_ns)
  env --default-signal=PIPE "$GEN" sales --bytes "$1" |
    /usr/bin/time -f %M -o "$tf" "$SLUICE" 'select id,price,note' --to ndjson > /dev/null
  st="${PIPESTATUS[*]}"
  t1=$(now_ns)
  echo "$(tail -n 1 "$tf") $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", (b-a)/1e9}') ${st// /,}"
  rm -f "$tf"
}

part_a() {
  say "== (a) peak RSS of sluice 'select id,price,note' --to ndjson on a generated stdin stream"
  local size r rss wall st
  declare -A med
  for size in 50M 1G; do
    local rs=()
    for r in $(seq 1 "$REPS"); do
      read -r rss wall st < <(select_rss "$size")
      say "  $size run $r: maxrss_kib=$rss wall=${wall}s pipestatus(gen,sluice)=$st"
      [ "${st#*,}" = 0 ] || say "  !! sluice exited with status ${st#*,}"
      rs+=("$rss")
    done
    med[$size]=$(printf '%s\n' "${rs[@]}" | median)
  done
  local big=${med[1G]} small=${med[50M]}
  say "  median peak RSS: 50M stream ${small} KiB ($(awk -v k="$small" 'BEGIN{printf "%.2f", k/1024}') MiB), 1G stream ${big} KiB ($(awk -v k="$big" 'BEGIN{printf "%.2f", k/1024}') MiB), ratio 1G/50M = $(awk -v a="$big" -v b="$small" 'BEGIN{printf "%.3f", a/b}')"
  say "  target <= 20 MiB: $(awk -v k="$big" 'BEGIN{print (k <= 20*1024) ? "met" : "NOT met"}');  target within 10%: $(awk -v a="$big" -v b="$small" 'BEGIN{d=a/b-1; if (d<0) d=-d; print (d <= 0.10) ? "met" : "NOT met"}')"
}

part_b() {
  say "== (b) gen sales --bytes 10G | sluice 'head 3': time until the pipeline returns"
  local out r t0 t1 st ws=(); out=$(mktemp)
  for r in $(seq 1 "$REPS"); do
    t0=$(now_ns)
    # the guard timeout (whole process group) only matters if the pipeline does not end by itself
    st=$(timeout 120 bash -c 'env --default-signal=PIPE "$0" sales --bytes 10G | "$1" "head 3" > "$2"; echo "${PIPESTATUS[*]}"' "$GEN" "$SLUICE" "$out")
    local trc=$?
    t1=$(now_ns)
    local w; w=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", (b-a)/1e9}')
    ws+=("$w")
    say "  run $r: wall=${w}s pipestatus(gen,sluice)=${st:-killed by guard timeout (rc $trc)} output_lines=$(wc -l < "$out")"
  done
  say "  first output lines: $(head -n 2 "$out" | tr '\n' ' ')"
  local m; m=$(printf '%s\n' "${ws[@]}" | median)
  say "  median wall ${m}s; target < 1 s: $(awk -v t="$m" 'BEGIN{print (t < 1) ? "met" : "NOT met"}')  (gen status 141 = killed by SIGPIPE)"
  rm -f "$out"
}

part_c() {
  say "== (c) shared W7 with sluice 'filter status == \"approved\"' as the candidate"
  # the answer first, on a small stream: sluice's filter against mawk (status is field 5; the only
  # quoted field, note, is the last one, so the naive split is right for this test)
  local a b
  a=$("$GEN" sales --bytes 50M | "$SLUICE" 'filter status == "approved"' | md5sum | cut -c1-12)
  b=$("$GEN" sales --bytes 50M | mawk -F, 'NR==1 || $5=="approved"' | md5sum | cut -c1-12)
  say "  50M check: md5 sluice=$a mawk=$b $([ "$a" = "$b" ] && echo same || echo DIFFERENT)"
  CAND_NAME=sluice \
  CAND_W7='"$GEN" sales --bytes "$GSIZE" | "$SLUICE" '\''filter status == "approved"'\'' > "$OUT"' \
    bash "$PEERS_DIR/run_all.sh" w7 2>&1 | tee -a "$LOG"
}

echo "results: $RES"
for p in "${parts[@]}"; do
  case $p in a) part_a ;; b) part_b ;; c) part_c ;; *) echo "memory.sh: unknown part '$p' (a, b or c)" >&2; exit 64 ;; esac
done
echo "log: $LOG"
