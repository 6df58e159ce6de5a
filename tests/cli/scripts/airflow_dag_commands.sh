#!/usr/bin/env bash
# docs/examples/airflow_sharded_dag.py: Airflow cannot be installed here, so
# take the DAG's two bash commands out of it, fill in the shard numbers as
# its expand() list does, run them through bash like BashOperator, and
# compare the summary with one run over the same files.
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
. "$(dirname "$0")/lib.sh" "$1"
DAG=$ROOT/docs/examples/airflow_sharded_dag.py
mkdir bin && ln -s "$SLUICE" bin/sluice
export PATH="$WORK/bin:$PATH"
grep -q 'BashOperator.partial(task_id="shard").expand(' "$DAG" && ok "the DAG maps BashOperator over the shards" || bad "no expand() in the DAG"
n=$(sed -n 's/^SHARDS = \([0-9]*\)$/\1/p' "$DAG")
[ -n "$n" ] && ok "SHARDS = $n" || bad "no SHARDS in the DAG"
command_of() { awk -v name="$1" '$0 == name " = \"\"\"" { on = 1; next } on && $0 == "\"\"\"" { exit } on { print }' "$DAG"; }
shard_cmd=$(command_of SHARD_COMMAND)
merge_cmd=$(command_of MERGE_COMMAND)
[ -n "$shard_cmd" ] && [ -n "$merge_cmd" ] || { bad "commands not found"; finish; }
mkdir -p job/data
tail -n +2 "$ROOT/docs/examples/sales.csv" > body.txt
split -n l/7 -d body.txt chunk
for f in chunk*; do { head -1 "$ROOT/docs/examples/sales.csv"; cat "$f"; } > "job/data/sales-${f#chunk}.csv"; done
fill() { local c=${1//\{dir\}/$WORK/job}; c=${c//\{n\}/$n}; printf '%s' "${c//\{i\}/$2}"; }
for ((i = 0; i < n; i++)); do
  bash -c "$(fill "$shard_cmd" "$i")" 2> err.txt && ok "shard task $i" || bad "shard task $i: $(cat err.txt)"
done
bash -c "$(fill "$merge_cmd" 0)" 2> err.txt && ok "merge task" || bad "merge task: $(cat err.txt)"
(cd job && sluice 'filter status == "approved" | map adjusted = price * quantity * 1.2 | group user_id: total_spent = sum(adjusted) | sort -total_spent' data/sales-*.csv -o single.csv)
cmp -s job/single.csv job/summary.csv && ok "the DAG's summary equals one run" || bad "summary differs"
finish
