#!/usr/bin/env bash
# One run per documented exit status, checking the status and the message.
. "$(dirname "$0")/lib.sh"
printf 'id,price\n1,2.5\n2,3.5\n' > good.csv
printf 'id,price\n1,2.5\n2,3.5,9\n3,1\n' > ragged.csv

expect_rc 0 "success" "$SLUICE" cat good.csv
[ ! -s err.txt ] && ok "success prints nothing on stderr" || bad "success printed: $(cat err.txt)"

expect_rc 3 "bad record skipped within the budget" "$SLUICE" cat ragged.csv --on-error skip
grep -q "1 bad record skipped" err.txt && ok "the skip count is reported" || bad "no skip count: $(cat err.txt)"
[ "$(wc -l < out.txt)" = 3 ] && ok "the good records are written" || bad "output: $(cat out.txt)"

expect_rc 3 "bad record rejected to a file" "$SLUICE" cat ragged.csv --on-error reject=rej.ndjson
grep -q '"line":3' rej.ndjson && grep -q '"raw":"2,3.5,9"' rej.ndjson && grep -q 'expected 2 fields' rej.ndjson \
  && ok "the reject file has line, raw text and reason" || bad "reject file: $(cat rej.ndjson)"

expect_rc 65 "over the --max-errors budget" "$SLUICE" cat ragged.csv --on-error skip --max-errors 0
grep -q "too many bad records" err.txt && ok "budget message" || bad "message: $(cat err.txt)"
expect_rc 65 "over a percentage budget" "$SLUICE" cat ragged.csv --on-error skip --max-errors 10%
expect_rc 3 "within a percentage budget" "$SLUICE" cat ragged.csv --on-error skip --max-errors 50%

expect_rc 64 "usage: unknown option" "$SLUICE" cat --nope
expect_rc 64 "usage: unknown stage" "$SLUICE" 'nosuchstage' good.csv
expect_rc 64 "usage: unknown field" "$SLUICE" 'select nosuch' good.csv
expect_rc 65 "bad data with --on-error stop" "$SLUICE" cat ragged.csv
grep -q "ragged.csv:3" err.txt && ok "bad data names file and line" || bad "message: $(cat err.txt)"
expect_rc 66 "input cannot be opened" "$SLUICE" cat missing.csv
expect_rc 74 "output cannot be written (/dev/full)" sh -c "\"$SLUICE\" cat good.csv > /dev/full"
grep -q "/dev/full" err.txt && ok "disk-full message names the path" || bad "message: $(cat err.txt)"
mkdir ro && chmod 555 ro
if [ "$(id -u)" != 0 ]; then
  expect_rc 74 "output directory not writable" "$SLUICE" cat good.csv -o ro/out.csv
fi
# a closed pipe with SIGPIPE ignored is an output error, not silence
bash -c "trap '' PIPE; yes 'a,b' | head -c 20000000 | \"$SLUICE\" cat --from csv 2> pipe_err.txt | head -c 10 > /dev/null; exit \${PIPESTATUS[2]}"
rc=$?
[ "$rc" = 74 ] && grep -q "broken pipe" pipe_err.txt && ok "EPIPE with SIGPIPE ignored gives 74" || bad "EPIPE: exit $rc, $(cat pipe_err.txt)"

# signals: 128+n, partial output removed
for sig in INT TERM HUP; do
  # an endless input, so the signal always lands mid-run
  yes '1,2' | "$SLUICE" cat --from csv -o sig.csv 2> err.txt &
  pid=$!
  sleep 0.3
  kill -s "$sig" "$pid"
  wait "$pid"
  rc=$?
  n=$(kill -l "$sig" >/dev/null 2>&1; case $sig in INT) echo 2;; TERM) echo 15;; HUP) echo 1;; esac)
  [ "$rc" = $((128 + n)) ] && ok "SIG$sig gives $((128 + n))" || bad "SIG$sig gave $rc"
  ls -A | grep -q 'sig.csv' && bad "SIG$sig left $(ls -A | grep sig.csv)" || ok "SIG$sig left no output or temp file"
done
finish
