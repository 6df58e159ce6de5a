#!/usr/bin/env bash
# Runs the shared peer workloads with sluice as the candidate column.
#
#   bench/run.sh                     w6 w4 w1, then the CSV->NDJSON rows (bench/csv_to_ndjson.sh)
#   bench/run.sh w6                  only W6
#   bench/run.sh w4 csv2ndjson       W4 and the CSV->NDJSON rows
#   SLUICE=/path/to/sluice RES=/tmp/mydir ONLY=sluice,duckdb1 bench/run.sh w6
#
# The workload scripts, the peers and the measurement are those of ../shared/bench/peers
# (run_all.sh, lib.sh: medians of REPS=3 runs, one core, warm cache, peak RSS).
# Results: $RES/table.md (RES defaults to a fresh /tmp/sluice-bench.XXXXXX).
# W1 is run only when the binary has the filter and map stages.
set -u
. "$(dirname "$0")/common.sh"
bench_check
bench_res

args=("$@"); [ ${#args[@]} -eq 0 ] && args=(w6 w4 w1 csv2ndjson)
ws=(); ndjson=0
for a in "${args[@]}"; do
  case $a in
    csv2ndjson) ndjson=1 ;;
    w[0-9]) ws+=("$a") ;;
    *) echo "run.sh: unknown workload '$a' (w0..w7 or csv2ndjson)" >&2; exit 64 ;;
  esac
done

export CAND_NAME=sluice
# Command strings are run by the harness with bash -c; IN and OUT come from the workload scripts.
export CAND_W6='"$SLUICE" "select id,price,note" "$IN" --to csv > "$OUT"'
# OUT has no .ndjson.zst suffix, hence the explicit format and compression.
export CAND_W4='"$SLUICE" cat "$IN" -o "$OUT" --to ndjson --compress zstd --level 3'
if "$SLUICE" --help 2>&1 | grep -q '^ *filter ' && "$SLUICE" --help 2>&1 | grep -q '^ *map '; then
  export CAND_W1='"$SLUICE" "filter celsius >= -40 and celsius <= 85 | map fahrenheit = celsius * 9 / 5 + 32" "$IN" > "$OUT"'
else
  for w in "${ws[@]}"; do
    [ "$w" = w1 ] && echo "run.sh: $SLUICE has no filter/map stage: W1 runs without sluice" >&2
  done
fi

# W2, W3, W5 need group, sort and join
if "$SLUICE" --help 2>&1 | grep -q '^ *group ' && "$SLUICE" --help 2>&1 | grep -q '^ *join '; then
  export CAND_W2='"$SLUICE" "filter status == \"approved\" | map adjusted = price * quantity * 1.2 | group user_id: total = sum(adjusted) | sort -total" "$IN" > "$OUT"'
  export CAND_W3='"$SLUICE" "filter level == \"ERROR\" | group service: n = count(), mean_latency = mean(latency_ms) | sort service" "$IN" --to csv > "$OUT"'
  export CAND_W5='"$SLUICE" "join \"$U\" on user_id | select id,user_id,name,tier,price" "$IN" > "$OUT"'
fi

echo "results: $RES"
if [ ${#ws[@]} -gt 0 ]; then
  bash "$PEERS_DIR/run_all.sh" "${ws[@]}"
fi
if [ $ndjson = 1 ]; then
  bash "$BENCH_DIR/csv_to_ndjson.sh"     # appends to the same $RES and rewrites table.md
fi
echo "table: $RES/table.md"
