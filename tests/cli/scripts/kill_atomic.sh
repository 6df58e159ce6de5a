#!/usr/bin/env bash
# Kill runs writing -o at random moments, 50 times (SIGTERM and SIGKILL):
# never a partial file under the final name; after SIGTERM no temporary file
# either (SIGKILL cannot be caught, so its temporary file may remain).
. "$(dirname "$0")/lib.sh"
printf 'a,b\n' > hdr.csv
seq 1 400000 | awk '{print $1 ",x" $1}' >> hdr.csv
gzip -1 -c hdr.csv > in.csv.gz
printf 'previous contents\n' > out.csv
for i in $(seq 1 50); do
  sig=TERM; [ $((i % 2)) = 0 ] && sig=KILL
  "$SLUICE" cat in.csv.gz -o out.csv 2>/dev/null &
  pid=$!
  sleep "0.0$((RANDOM % 10))$((RANDOM % 10))"
  kill -s $sig $pid 2>/dev/null
  wait $pid
  rc=$?
  content=$(head -c 17 out.csv)
  if [ "$rc" = 0 ]; then
    # finished before the signal: the whole output must be there
    cmp -s out.csv hdr.csv || bad "run $i finished (rc 0) but out.csv is not complete"
    printf 'previous contents\n' > out.csv
  elif [ "$content" != "previous contents" ]; then
    # killed after the rename, before exiting: the file must then be whole
    cmp -s out.csv hdr.csv || bad "run $i ($sig, rc $rc): out.csv was replaced by a partial file"
    printf 'previous contents\n' > out.csv
  fi
  tmps=$(ls -A | grep -c '^\.out\.csv\.sluice-' || true)
  if [ "$sig" = TERM ] && [ "$tmps" != 0 ]; then bad "run $i: SIGTERM left a temporary file"; fi
  rm -f .out.csv.sluice-*
done
[ "$FAILS" = 0 ] && ok "50 interrupted runs: no partial output, no temp file after SIGTERM"
finish
