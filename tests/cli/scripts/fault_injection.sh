#!/usr/bin/env bash
# Fault injection: each allocation, read, write, fsync and rename of a run
# fails in turn, and the run must fail cleanly:
#   - the documented exit status: 71 for memory, 66 for a read, 74 for a
#     write, fsync or rename (70, an internal error, is tolerated; 0 only
#     when the output is complete and right anyway);
#   - exactly one line on standard error (the error, not a cascade);
#   - no crash (no 134/139), and neither the output file nor a temporary
#     file left behind.
# Two injectors, found beside the binary (tests/CMakeLists.txt):
#   libsluice_inject.so  LD_PRELOAD: the N-th malloc/calloc/realloc, read,
#                        write, fsync or rename of the process fails
#                        (libraries included); not in a sanitizer build
#   sluice_faultwrap     sluice linked with --wrap: the N-th allocation by
#                        sluice's own code fails; works under ASan, whose
#                        LeakSanitizer then checks every failure path
# K, the number of calls of each kind, is counted in a clean run
# (SLUICE_COUNT), then N = 1..K.  Three pipelines: CSV with expressions to
# out.csv.gz, gzip CSV to NDJSON, zstd CSV to zstd CSV; allocation failures
# also with SLUICE_FAIL_STICKY (every allocation from the N-th on fails).
# Then a few failing runs under valgrind must leak nothing (definite or
# indirect): allocation failures through sluice_faultwrap (valgrind owns
# malloc, so LD_PRELOAD cannot fail it there), the others through the
# interposer.  Skipped (77) when neither injector is built.
. "$(dirname "$0")/lib.sh"
DIR=$(dirname "$SLUICE")
LIB=$DIR/libsluice_inject.so
WRAP=$DIR/sluice_faultwrap
[ -f "$LIB" ] || LIB=
[ -x "$WRAP" ] || WRAP=
[ -n "$LIB$WRAP" ] || { echo "no fault injector beside $SLUICE"; exit 77; }
asan=0
if nm "$SLUICE" 2> /dev/null | grep -q __asan_init; then asan=1; fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}

awk 'BEGIN { srand(7); print "id,name,amount";
             for (i = 1; i <= 60000; i++) printf "%d,name%d,%.2f\n", i, int(rand() * 1000), rand() * 100 }' > in.csv
gzip -c in.csv > in.csv.gz
zstd -q -c in.csv > in.csv.zst
P1='filter amount > 10 | map x = amount * 2, tag = concat(name, "-", id) | select id,x,tag'
P2='head 50000 | drop name'
P3='select id,amount'
runs=0

want_for() {
  case $1 in malloc) echo 71 ;; read) echo 66 ;; *) echo 74 ;; esac
}

# one_run WHAT KIND OUTPUT CMD...: a failing run and its checks
one_run() {
  local what=$1 kind=$2 output=$3
  shift 3
  "$@" > /dev/null 2> err.txt
  local rc=$?
  runs=$((runs + 1))
  exits+=" $rc"
  local f left=
  for f in * .[!.]*; do
    [ -e "$f" ] || continue
    case $f in in.csv | in.csv.gz | in.csv.zst | ref.out | err.txt | counts.txt | "$output") ;; *) left+=" $f" ;; esac
  done
  [ -z "$left" ] || { bad "$what: left behind:$left"; rm -f -- $left; }
  if [ "$rc" = 0 ]; then
    # the failure was absorbed: then the output must be complete
    cmp -s "$output" ref.out || bad "$what: exit 0 with a different output"
    [ -s err.txt ] && bad "$what: exit 0 with messages: $(head -c 200 err.txt)"
  else
    [ -e "$output" ] && bad "$what: $output left after exit $rc"
    [ "$rc" = "$(want_for "$kind")" ] || [ "$rc" = 70 ] || bad "$what: exit $rc, expected $(want_for "$kind"): $(head -c 300 err.txt)"
    [ "$(wc -l < err.txt)" = 1 ] || bad "$what: $(wc -l < err.txt) lines on stderr: $(head -c 500 err.txt)"
  fi
  rm -f "$output"
}

summary() {
  echo "  $1: $2 runs, exits:$(tr ' ' '\n' <<< "$exits" | grep . | sort -n | uniq -c | awk '{ printf " %s x%s", $2, $1 }')"
}

# scenario NAME PIPELINE INPUT OUTPUT
scenario() {
  local sname=$1 pipe=$2 input=$3 output=$4 kind k n sticky var
  "$SLUICE" "$pipe" "$input" -o "$output" || { bad "$sname: the clean run fails"; return; }
  mv "$output" ref.out
  if [ -n "$LIB" ]; then
    rm -f counts.txt
    SLUICE_COUNT=counts.txt LD_PRELOAD=$LIB "$SLUICE" "$pipe" "$input" -o "$output" 2> err.txt ||
      { bad "$sname: clean run under the interposer fails: $(cat err.txt)"; return; }
    rm -f "$output"
    echo "$sname (LD_PRELOAD): calls in a clean run: $(tr '\n' ' ' < counts.txt)"
    for kind in malloc read write fsync rename; do
      k=$(awk -v k=$kind '$1 == k { print $2 }' counts.txt)
      [ "$k" -gt 0 ] || { bad "$sname: no $kind calls counted"; continue; }
      var=SLUICE_FAIL_${kind^^}
      for sticky in 0 1; do
        [ "$sticky" = 1 ] && [ "$kind" != malloc ] && continue
        exits=
        for ((n = 1; n <= k; n++)); do
          one_run "$sname: $kind #$n of $k$([ $sticky = 1 ] && echo ' (sticky)')" $kind "$output" \
            env "$var=$n" SLUICE_FAIL_STICKY=$sticky LD_PRELOAD="$LIB" "$SLUICE" "$pipe" "$input" -o "$output"
        done
        summary "$kind$([ $sticky = 1 ] && echo ' sticky')" "$k"
      done
    done
  fi
  if [ -n "$WRAP" ]; then
    rm -f counts.txt
    SLUICE_COUNT=counts.txt "$WRAP" "$pipe" "$input" -o "$output" 2> err.txt ||
      { bad "$sname: clean run of sluice_faultwrap fails: $(cat err.txt)"; return; }
    rm -f "$output"
    k=$(awk '$1 == "malloc" { print $2 }' counts.txt)
    echo "$sname (sluice_faultwrap$([ $asan = 1 ] && echo ', LeakSanitizer')): $k allocations by sluice"
    for sticky in 0 1; do
      exits=
      for ((n = 1; n <= k; n++)); do
        one_run "$sname: sluice allocation #$n of $k$([ $sticky = 1 ] && echo ' (sticky)')" malloc "$output" \
          env SLUICE_FAIL_MALLOC=$n SLUICE_FAIL_STICKY=$sticky "$WRAP" "$pipe" "$input" -o "$output"
      done
      summary "allocation$([ $sticky = 1 ] && echo ' sticky')" "$k"
    done
  fi
  rm -f ref.out counts.txt
}

scenario csv-to-gz "$P1" in.csv out.csv.gz
scenario gz-to-ndjson "$P2" in.csv.gz out.ndjson
scenario zst-to-zst "$P3" in.csv.zst out.csv.zst
echo "$runs fault-injection runs"

# valgrind: failing runs leak nothing
if [ "$asan" = 0 ] && command -v valgrind > /dev/null; then
  vg() {
    local bin=$1
    shift
    env "$@" valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
      "$bin" "$P1" in.csv -o out.csv.gz > /dev/null 2> vg.txt
    local rc=$?
    runs=$((runs + 1))
    if [ "$rc" = 99 ] || grep -q "definitely lost\|indirectly lost\|Invalid\|uninitialised" vg.txt; then
      bad "valgrind $*: exit $rc: $(grep -m5 -e lost -e Invalid -e uninit vg.txt | tr '\n' ' ')"
    else
      ok "valgrind $*: exit $rc, nothing lost"
    fi
    rm -f out.csv.gz vg.txt
  }
  if [ -n "$WRAP" ]; then
    k=$(SLUICE_COUNT=- "$WRAP" "$P1" in.csv -o out.csv.gz 2>&1 | awk '$1 == "malloc" { print $2 }')
    rm -f out.csv.gz
    for n in 1 2 3 $((k / 4)) $((k / 2)) $((3 * k / 4)) $((k - 1)) "$k"; do vg "$WRAP" SLUICE_FAIL_MALLOC=$n; done
    vg "$WRAP" SLUICE_FAIL_MALLOC=$((k / 3)) SLUICE_FAIL_STICKY=1
  fi
  if [ -n "$LIB" ]; then
    for kind in READ WRITE FSYNC RENAME; do vg "$SLUICE" SLUICE_FAIL_$kind=1 LD_PRELOAD="$LIB"; done
    vg "$SLUICE" SLUICE_FAIL_WRITE=2 LD_PRELOAD="$LIB"
  fi
elif [ "$asan" = 1 ]; then
  echo "sanitizer build: LeakSanitizer checked every sluice_faultwrap run above; valgrind not used"
else
  echo "valgrind not installed: leak runs skipped"
fi
echo "$runs runs in all"
finish
