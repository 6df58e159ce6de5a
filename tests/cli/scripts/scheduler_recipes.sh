#!/usr/bin/env bash
# The cron and Airflow recipes of docs/cookbook.md, run the way their
# schedulers run them (docs/examples/crontab, docs/examples/
# airflow_sales_summary.py; doc_examples.sh checks that the cookbook quotes
# them verbatim).  recipes.py reads them as cron and Airflow do.
#
# cron: the crontab entry's command, after cron's % processing, runs under
#   `env -i` with cron's environment (SHELL=/bin/sh, PATH=/usr/bin:/bin,
#   HOME, LOGNAME) plus the crontab's own assignments, through `sh -c`, in
#   HOME, with the %-part as standard input.  The crontab's absolute paths
#   (/usr/local/bin, /srv/sales) are moved into a scratch tree, where
#   usr/local/bin holds the binary under test.  Clean data: exit 0, nothing
#   printed (cron mails nothing), the output and stats files of the day.
#   Bad data over the --max-errors budget: the failure is printed (cron
#   mails it) with exit status 65, and no output file.  Within the budget:
#   exit status 3 printed, output published, the record in the reject file.
#
# Airflow: each BashOperator's bash_command is rendered with Jinja2 for a
#   logical date and run with bash in a scratch directory, as Airflow's
#   BashOperator does; the task's outcome follows from the exit status and
#   skip_on_exit_code.  The situations the DAG relies on: a valid job passes
#   check_job (0) and a broken one fails it (64); the day's input turns into
#   Parquet (0); a missing input is 66, which the DAG skips; bad data over
#   budget is 65, a failure with no retry; rejects within budget are 3,
#   which the command turns into success; an output that cannot be written
#   is 74, tried again by the command (and a success once the directory is
#   back); Airflow's timeout (SIGTERM to the task's process group) is 143
#   with nothing published.
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
. "$(dirname "$0")/lib.sh"
EX=$ROOT/docs/examples
RECIPES="python3 $ROOT/tests/cli/scripts/recipes.py"

# ---- cron ----
mkdir -p cron/root/usr/local/bin cron/home && ln -s "$SLUICE" cron/root/usr/local/bin/sluice
(cd cron && $RECIPES crontab "$EX/crontab" root) || { bad "cannot read $EX/crontab"; finish; }
[ -f cron/job1.cmd ] && [ ! -f cron/job2.cmd ] && ok "the crontab has one entry: $(cat cron/job1.schedule)" \
  || bad "expected one crontab entry"
grep -q '\\%' cron/job1.cmd && bad "a \\% survived cron's processing: $(cat cron/job1.cmd)"
[ ! -s cron/job1.stdin ] && ok "no unescaped % in the entry (its standard input is empty)" \
  || bad "the entry has an unescaped %: its standard input would be: $(cat cron/job1.stdin)"
# the crontab's assignments, under cron's own minimal environment
mapfile -t cron_env < cron/env.sh
eval "cron_env=(${cron_env[*]@Q})"
sales=$(sed -n 's/^SALES=//p' cron/env.sh); sales=${sales//\'/}
[ -n "$sales" ] || bad "the crontab sets no SALES directory"
mkdir -p "$sales/rejects" "$sales/stats" "$sales/out"
cp "$EX/daily_sales.sluice" "$EX/sales.csv" "$sales/"

run_cron() {
  (cd cron/home && env -i HOME="$WORK/cron/home" LOGNAME="$(id -un)" SHELL=/bin/sh PATH=/usr/bin:/bin \
    "${cron_env[@]}" /bin/sh -c "$(cat ../job1.cmd)" < ../job1.stdin > ../mail.txt 2>&1)
}

day1=$(env -i /bin/date +%F)  # in cron's environment: no TZ
run_cron
rc=$?
day=$(env -i /bin/date +%F)
[ "$day" = "$day1" ] || { echo "the date changed during the run; skipping"; exit 77; }
[ "$rc" = 0 ] && [ ! -s cron/mail.txt ] && ok "cron, clean data: exit 0, nothing to mail" \
  || bad "cron, clean data: exit $rc, output: $(head -c 300 cron/mail.txt)"
"$SLUICE" -f "$EX/daily_sales.sluice" --var region=emea --var limit=1000 "$EX/sales.csv" > want.csv
zstd -q -d -c "$sales/out/emea-$day.csv.zst" 2> /dev/null | cmp -s - want.csv \
  && ok "cron: out/emea-$day.csv.zst holds the day's extract" || bad "cron: out/emea-$day.csv.zst missing or wrong"
jq -e ".exit == 0 and .records_out == $(($(wc -l < want.csv) - 1))" "$sales/stats/$day.json" > /dev/null 2>&1 \
  && ok "cron: stats/$day.json records exit 0 and $(($(wc -l < want.csv) - 1)) records written" \
  || bad "cron: stats/$day.json: $(head -c 300 "$sales/stats/$day.json" 2>&1)"
[ ! -s "$sales/rejects/$day.ndjson" ] && ok "cron: nothing rejected" || bad "cron: rejects: $(head -c 300 "$sales/rejects/$day.ndjson")"

# two bad records in 202: over 0.1%
rm -f "$sales/out/emea-$day.csv.zst"
{ head -n 50 "$EX/sales.csv"; echo '999,2024-01-01T00:00:00Z,1,emea,completed,1.0'; tail -n +51 "$EX/sales.csv"; echo '1000,x'; } > "$sales/sales.csv"
run_cron
grep -q 'daily_sales: sluice failed with exit status 65' cron/mail.txt \
  && ok "cron, bad data over budget: the mail says exit status 65" || bad "cron, over budget: mail: $(head -c 400 cron/mail.txt)"
grep -q 'too many bad records' cron/mail.txt && ok "cron: the mail has sluice's message" || bad "cron: no message in: $(cat cron/mail.txt)"
[ ! -e "$sales/out/emea-$day.csv.zst" ] && ok "cron: no output published after exit 65" || bad "cron: output published after exit 65"
[ -z "$(ls -A "$sales/out")" ] || bad "cron: left in out/: $(ls -A "$sales/out")"
jq -e '.exit == 65' "$sales/stats/$day.json" > /dev/null 2>&1 && ok "cron: stats record exit 65" || bad "cron: stats after 65: $(head -c 300 "$sales/stats/$day.json")"

# one bad record in 2001: within 0.1%
{ cat "$EX/sales.csv"; for _ in 1 2 3 4 5 6 7 8 9; do tail -n +2 "$EX/sales.csv"; done; echo '1000,x'; } > "$sales/sales.csv"
run_cron
grep -q 'daily_sales: sluice failed with exit status 3' cron/mail.txt \
  && ok "cron, one bad record within budget: the mail says exit status 3" || bad "cron, within budget: mail: $(head -c 400 cron/mail.txt)"
[ -s "$sales/out/emea-$day.csv.zst" ] && ok "cron: output published after exit 3" || bad "cron: no output after exit 3"
[ "$(wc -l < "$sales/rejects/$day.ndjson")" = 1 ] && grep -q '"raw":"1000,x"' "$sales/rejects/$day.ndjson" \
  && ok "cron: the bad record is in rejects/$day.ndjson" || bad "cron: rejects: $(head -c 300 "$sales/rejects/$day.ndjson")"

# ---- Airflow ----
DAG=$EX/airflow_sales_summary.py
data=$WORK/af/srv/sales jobs=$WORK/af/opt/sluice/jobs
mkdir -p "$data/in" "$data/out" "$data/stats" "$data/rejects" "$jobs" af/bin
ln -s "$SLUICE" af/bin/sluice
cp "$EX/sales_summary.sluice" "$jobs/"
render() { # DS: the DAG's commands for that logical date, in af/DS/
  mkdir -p "af/$1" && (cd "af/$1" && $RECIPES airflow "$DAG" "$1" data="$data" jobs="$jobs" retry_seconds=1)
}
# run_task DS TASK: run it as BashOperator does; sets rc and outcome
run_task() {
  local dir=$WORK/af/$1 tmp
  tmp=$(mktemp -d)
  (cd "$tmp" && PATH="$WORK/af/bin:$PATH" bash -c "$(cat "$dir/$2.cmd")" > "$dir/$2.out" 2> "$dir/$2.err")
  rc=$?
  rm -rf "$tmp"
  if [ "$rc" = 0 ]; then outcome=success
  elif grep -qx "$rc" "$dir/$2.skip"; then outcome=skipped
  elif [ "$(cat "$dir/$2.retries")" -gt 0 ]; then outcome=up_for_retry
  else outcome=failed; fi
}
expect_task() { # DS TASK RC OUTCOME WHAT
  run_task "$1" "$2"
  if [ "$rc" = "$3" ] && [ "$outcome" = "$4" ]; then ok "airflow $2 ($1), $5: exit $rc, $outcome"
  else bad "airflow $2 ($1), $5: exit $rc, $outcome; expected exit $3, $4; stderr: $(head -c 300 "af/$1/$2.err")"; fi
}

render 2024-03-01 || { bad "cannot render $DAG"; finish; }
[ "$(cat af/2024-03-01/tasks | tr '\n' ' ')" = "check_job summary " ] && ok "the DAG has the BashOperators check_job and summary" \
  || bad "tasks: $(cat af/2024-03-01/tasks)"
grep -q 'in/sales-2024-03-01.csv.gz -o out/summary-20240301.parquet' af/2024-03-01/summary.cmd \
  && ok "ds and ds_nodash rendered" || bad "rendered: $(cat af/2024-03-01/summary.cmd)"

expect_task 2024-03-01 check_job 0 success "a valid job"
gzip -c "$EX/sales.csv" > "$data/in/sales-2024-03-01.csv.gz"
expect_task 2024-03-01 summary 0 success "the day's input"
[ "$(head -c 4 "$data/out/summary-20240301.parquet" 2> /dev/null)" = PAR1 ] && ok "airflow: out/summary-20240301.parquet is Parquet" \
  || bad "airflow: no Parquet output"
jq -e '.exit == 0 and .records_in == 200' "$data/stats/2024-03-01.json" > /dev/null 2>&1 && ok "airflow: stats of the day" \
  || bad "airflow: stats: $(head -c 300 "$data/stats/2024-03-01.json")"

render 2024-03-02
expect_task 2024-03-02 summary 66 skipped "no input for the day"
[ ! -e "$data/out/summary-20240302.parquet" ] || bad "airflow: an output for a day without input"

render 2024-03-03
{ head -n 50 "$EX/sales.csv"; echo '999,x'; tail -n +51 "$EX/sales.csv"; echo '1000,x'; } | gzip -c > "$data/in/sales-2024-03-03.csv.gz"
expect_task 2024-03-03 summary 65 failed "bad data over budget (no retry)"
[ ! -e "$data/out/summary-20240303.parquet" ] && ok "airflow: nothing published after 65" || bad "airflow: output after 65"
grep -q '"exit":65' "af/2024-03-03/summary.err" && ok "airflow: the task log has the JSON error line" \
  || bad "airflow: task log: $(head -c 300 af/2024-03-03/summary.err)"

render 2024-03-04
{ cat "$EX/sales.csv"; for _ in 1 2 3 4 5 6 7 8 9; do tail -n +2 "$EX/sales.csv"; done; echo '1000,x'; } | gzip -c > "$data/in/sales-2024-03-04.csv.gz"
expect_task 2024-03-04 summary 0 success "one record rejected within budget (sluice's 3)"
grep -q 'some records were rejected' af/2024-03-04/summary.err && [ "$(wc -l < "$data/rejects/2024-03-04.ndjson")" = 1 ] \
  && ok "airflow: the warning and the reject file" || bad "airflow: after 3: $(head -c 300 af/2024-03-04/summary.err)"
[ -s "$data/out/summary-20240304.parquet" ] || bad "airflow: no output after 3"

# 74: the output directory is gone; the command tries again; the directory
# comes back during the first pause
render 2024-03-05
gzip -c "$EX/sales.csv" > "$data/in/sales-2024-03-05.csv.gz"
mv "$data/out" "$data/out.away"
( for _ in $(seq 1 100); do grep -q 'attempt 1:' af/2024-03-05/summary.err 2> /dev/null && break; sleep 0.05; done
  mv "$data/out.away" "$data/out" ) &
helper=$!
expect_task 2024-03-05 summary 0 success "the output directory back after a 74"
wait $helper
grep -c '"exit":74' af/2024-03-05/summary.err | grep -qx 1 && ok "airflow: one 74, then a success" \
  || bad "airflow: log: $(head -c 400 af/2024-03-05/summary.err)"
[ -s "$data/out/summary-20240305.parquet" ] || bad "airflow: no output after the retry"
# and when it does not come back: three tries, then the 74 fails the task
mv "$data/out" "$data/out.away"
expect_task 2024-03-05 summary 74 failed "the output cannot be written, three times"
[ "$(grep -c '"exit":74' af/2024-03-05/summary.err)" = 3 ] && ok "airflow: tried three times" \
  || bad "airflow: tries: $(grep -c '"exit":74' af/2024-03-05/summary.err)"
mv "$data/out.away" "$data/out"

# Airflow's execution_timeout: SIGTERM to the task's process group while
# sluice waits for its input
render 2024-03-06
mkfifo "$data/in/sales-2024-03-06.csv.gz"
# the task in a process group of its own, as Airflow starts it; its leader
# writes its pid, which is the group's id
(cd af && PATH="$WORK/af/bin:$PATH" setsid bash -c 'echo $$ > 2024-03-06/task.pid; exec bash -c "$0"' \
  "$(cat 2024-03-06/summary.cmd)" > 2024-03-06/summary.out 2> 2024-03-06/summary.err) &
tpid=$!
pgid=
for _ in $(seq 1 100); do
  [ -s af/2024-03-06/task.pid ] && pgid=$(cat af/2024-03-06/task.pid) && pgrep -g "$pgid" -x sluice > /dev/null && break
  sleep 0.05
done
running=$(pgrep -g "${pgid:-0}" -x sluice)
if [ -n "$running" ]; then
  kill -TERM -- "-$pgid"
  wait $tpid 2> /dev/null
  rc=$?
  [ "$rc" = 143 ] && ok "airflow timeout (SIGTERM to the group): exit 143, a failure" || bad "after SIGTERM: exit $rc"
else
  bad "sluice did not start: $(head -c 300 af/2024-03-06/summary.err)"
  exec 3> "$data/in/sales-2024-03-06.csv.gz"; exec 3>&-
  wait $tpid 2> /dev/null
fi
[ -z "$(ls -A "$data/out" | grep 20240306)" ] && ok "airflow: nothing published after SIGTERM" \
  || bad "airflow: left after SIGTERM: $(ls -A "$data/out")"

# 64: a broken job file fails check_job, which summary waits for
sed -i 's/group region:/group regoin:/; s/sum(price/summ(price/' "$jobs/sales_summary.sluice"
expect_task 2024-03-01 check_job 64 failed "a broken job file"
grep -q "unknown aggregate 'summ'" af/2024-03-01/check_job.err && ok "airflow: check_job says what is wrong" \
  || bad "check_job: $(cat af/2024-03-01/check_job.err)"
finish
