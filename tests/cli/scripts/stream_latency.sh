#!/usr/bin/env bash
# Records written slowly into stdin appear on stdout at once (within 100 ms),
# for CSV and lines input, with and without a selecting stage.
. "$(dirname "$0")/lib.sh"
N=0
# One measurement.  A busy machine can stall any process for a moment, so a
# check that misses the bound is measured once more before it counts.
check() {
  local before=$FAILS
  measure "$@"
  if [ "$FAILS" != "$before" ]; then
    FAILS=$before
    echo "     (measuring again)"
    measure "$@"
  fi
}
measure() {
  local what=$1 from=$2 stages=$3 header=$4
  N=$((N + 1))
  local fifo=fifo$N sent=sent$N got=got$N
  mkfifo $fifo
  # writer: a header, then 5 records, one every 300 ms, logging when each is written
  ( [ -n "$header" ] && printf '%s\n' "$header"
    for i in 1 2 3 4 5; do sleep 0.3; now_ms >> $sent; printf '%s,x\n' "$i"; done ) > $fifo &
  "$SLUICE" "$stages" --from "$from" < $fifo | while IFS= read -r line; do echo "$(now_ms) $line"; done > $got
  wait
  local worst=0 k=0 t
  while read -r t; do
    k=$((k + 1))
    arrived=$(awk -v k="$k" '$2 == k || index($2, k ",") == 1 {print $1; exit}' $got)
    if [ -z "$arrived" ]; then bad "$what: record $k never came out: $(cat $got)"; return; fi
    d=$((arrived - t))
    [ $d -gt $worst ] && worst=$d
  done < $sent
  if [ $worst -le 100 ]; then ok "$what: worst latency ${worst} ms"; else bad "$what: a record took ${worst} ms to appear"; fi
}
check "csv cat" csv "cat" "id,v"
check "csv select" csv "select id" "id,v"
check "lines" lines "cat" ""
finish
