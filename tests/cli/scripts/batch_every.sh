#!/usr/bin/env bash
# batch --every: when the input is slow, a partial batch is handed out once
# DURATION has passed since its first record, instead of waiting for N.
# A writer sends a header and 8 records, one every 300 ms; batches of 100
# with --every 1s must come out as several batches while the input is still
# being written, none later than about a second after its first record, and
# together hold every record once.
. "$(dirname "$0")/lib.sh"
slow() { echo n; for i in 1 2 3 4 5 6 7 8; do sleep 0.3; now_ms >> sent; echo "$i"; done; }

# 1. to standard output: the run's writer flushes at the end of each batch
slow | "$SLUICE" 'batch 100 --every 1s' | while IFS= read -r line; do echo "$(now_ms) $line"; done > got
records=$(grep -vc ' n$' got)
if [ "$records" = 8 ]; then ok "stdout: all 8 records"; else bad "stdout: $records records: $(cat got)"; fi
worst=0; k=0
while read -r t; do
  k=$((k + 1))
  arrived=$(awk -v k="$k" '$2 == k {print $1; exit}' got)
  d=$((arrived - t)); [ $d -gt $worst ] && worst=$d
done < sent
if [ $worst -le 1500 ]; then ok "stdout: worst delay ${worst} ms (--every 1s)"; else bad "stdout: a record waited ${worst} ms"; fi
flushes=$(awk '{print int($1 / 200)}' got | sort -u | wc -l)
if [ "$flushes" -ge 2 ]; then ok "stdout: $flushes separate flushes"; else bad "stdout: everything came out at once: $(cat got)"; fi

# 2. to commands: each partial batch is its own command, run while the input
#    is still slow
rm -f sent
start=$(now_ms)
slow | "$SLUICE" 'batch 100 --every 1s | write --exec "echo $(tail -n +2 | wc -l)"' | while IFS= read -r n; do echo "$(now_ms) $n"; done > batches
end=$(now_ms)
nb=$(wc -l < batches); total=$(awk '{s += $2} END {print s}' batches)
if [ "$nb" -ge 2 ] && [ "$total" = 8 ]; then ok "exec: $nb batches holding $total records"; else bad "exec: $nb batches, $total records: $(cat batches)"; fi
first=$(head -n 1 batches | cut -d' ' -f1)
if [ -n "$first" ] && [ $((end - first)) -ge 700 ]; then ok "exec: the first batch ran $((end - first)) ms before the input ended"; else bad "exec: the first batch came only at the end"; fi
finish
