#!/usr/bin/env bash
# The Slurm recipe of docs/sharding.md (docs/examples/slurm) on a real,
# single-node Slurm started here on localhost: munged with its own key and
# socket, slurmctld and slurmd with a slurm.conf in the scratch directory.
# The sales summary as a 4-task job array plus a dependent merge job must
# give byte for byte what one run over the same inputs gives.
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
. "$(dirname "$0")/lib.sh" "$1"
for b in munged slurmctld slurmd sbatch squeue sinfo; do
  command -v "$b" > /dev/null || [ -x "/usr/sbin/$b" ] || { echo "skip: $b is not installed (tests/deps.sh installs it)"; exit 77; }
done
[ "$(id -u)" = 0 ] || { echo "skip: a private Slurm runs its daemons as root here"; exit 77; }
export PATH="$PATH:/usr/sbin"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null; done
  sleep 0.5
  for p in "${PIDS[@]}"; do kill -9 "$p" 2> /dev/null; done
  cd / && rm -rf "$WORK"
}
trap cleanup EXIT
show_logs() { for f in munged.log slurmctld.log slurmd.log; do echo "--- $f"; tail -20 "$WORK/$f" 2> /dev/null; done; }

# munge: its own key, socket, pid and log in the scratch directory
dd if=/dev/urandom of=munge.key bs=1024 count=1 status=none && chmod 400 munge.key
munged --key-file="$WORK/munge.key" --socket="$WORK/munge.sock" --pid-file="$WORK/munged.pid" \
  --log-file="$WORK/munged.log" --seed-file="$WORK/munged.seed" --force 2> munged.err \
  || { bad "munged did not start: $(cat munged.err)"; finish; }
for _ in $(seq 50); do [ -s munged.pid ] && break; sleep 0.1; done
PIDS+=("$(cat munged.pid)")

NODE=$(uname -n | cut -d. -f1)
PORT=$((20000 + RANDOM % 20000))
CPUS=$(nproc)
mkdir -p state spool
cat > slurm.conf <<CONF
ClusterName=sluicetest
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$WORK/munge.sock
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/slurmctld.log
SlurmdLogFile=$WORK/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
SchedulerType=sched/builtin
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$WORK/slurm.conf
slurmctld -D -i -f "$SLURM_CONF" > slurmctld.out 2>&1 &
PIDS+=($!)
slurmd -D -f "$SLURM_CONF" -N "$NODE" > slurmd.out 2>&1 &
PIDS+=($!)
up=0
for _ in $(seq 300); do
  case "$(sinfo -h -o %T 2> /dev/null)" in idle*) up=1; break;; esac
  sleep 0.1
done
[ $up = 1 ] && ok "single-node Slurm is up (node $NODE idle)" || { bad "Slurm did not come up: $(sinfo 2>&1 | head -3)"; show_logs; cat slurmctld.out slurmd.out; finish; }

# the recipe, as docs/examples/slurm has it, with sluice on PATH
mkdir bin && ln -s "$SLUICE" bin/sluice
export PATH="$WORK/bin:$PATH"
mkdir job && cp "$ROOT"/docs/examples/slurm/* job/ && cd job || exit 1
mkdir data
tail -n +2 "$ROOT/docs/examples/sales.csv" > body.txt
split -n l/6 -d body.txt chunk
for f in chunk*; do { head -1 "$ROOT/docs/examples/sales.csv"; cat "$f"; } > "data/sales-${f#chunk}.csv"; done
rm -f chunk* body.txt
merge_job=$(bash submit.sh 2> submit.err) || { bad "sbatch failed: $(cat submit.err)"; show_logs; finish; }
ok "submitted the array and the merge job $merge_job"
done_ok=0
for _ in $(seq 600); do
  [ -z "$(squeue -h 2> /dev/null)" ] && { done_ok=1; break; }
  sleep 0.2
done
[ $done_ok = 1 ] && ok "the jobs finished" || { bad "the jobs did not finish: $(squeue 2>&1)"; show_logs; }
ls partial/*.ndjson > /dev/null 2>&1 && [ "$(ls partial | wc -l)" = 4 ] && ok "4 partial files" || bad "partial files: $(ls partial 2>&1)"
sluice 'filter status == "approved" | map adjusted = price * quantity * 1.2 | group user_id: total_spent = sum(adjusted) | sort -total_spent' \
  data/sales-*.csv -o single.csv
if [ -s summary.csv ] && cmp -s single.csv summary.csv; then
  ok "4 array tasks + merge = one run, byte for byte ($(($(wc -l < summary.csv) - 1)) users)"
else
  bad "summary.csv differs from one run"; cat logs/*.log 2> /dev/null | head -20; diff single.csv summary.csv | head
fi
finish
