#!/usr/bin/env bash
# filter and map evaluate numeric expressions a batch of rows at a time
# (src/expr/vec.c) and leave every other row to the interpreter.  Through
# the binary, on data with every shape a field takes (numbers, integers past
# 2^53, empty, text, quoted numbers in NDJSON, true/false), each pipeline
# must give the same bytes, messages, reject file and exit code as with
# SLUICE_EXPR_ROWWISE=1 (every record through the interpreter alone).
. "$(dirname "$0")/lib.sh"
awk 'BEGIN { srand(7); print "id,c,q,w";
  for (i = 1; i <= 12000; i++) {
    r = rand();
    if (r < 0.55) c = sprintf("%.1f", (rand() - 0.3) * 200);
    else if (r < 0.7) c = int((rand() - 0.5) * 300);
    else if (r < 0.75) c = "";
    else if (r < 0.78 && i > 6000) c = "n/a";                  # text: only in the second half
    else if (r < 0.8) c = "9007199254740993";
    else if (r < 0.82) c = "1e308";
    else c = sprintf("%.3f", rand() * 90);
    q = (rand() < 0.1) ? 0 : sprintf("%.2f", rand() * 10);
    w = (rand() < 0.5) ? int(rand() * 100) : sprintf("%.17g", rand());
    printf "%d,%s,%s,%s\n", i, c, q, w }
}' > in.csv
awk -F, 'NR > 1 { c = $2; if (c == "") c = "null"; else if (c == "n/a") c = "\"n/a\""; else if (NR % 7 == 0) c = "\"" c "\"";
  printf "{\"id\":%s,\"c\":%s,\"q\":%s,\"w\":%s%s}\n", $1, c, $3, $4, (NR % 11 == 0) ? ",\"b\":true" : "" }' in.csv > in.ndjson
n=0
check() { # INPUT PIPELINE [OPTIONS...]
  local in=$1 p=$2; shift 2
  "$SLUICE" "$p" "$in" "$@" > a.out 2> a.err; local ra=$?
  [ -f rej.ndjson ] && mv rej.ndjson a.rej
  SLUICE_EXPR_ROWWISE=1 "$SLUICE" "$p" "$in" "$@" > b.out 2> b.err; local rb=$?
  [ -f rej.ndjson ] && mv rej.ndjson b.rej
  n=$((n + 1))
  if [ $ra = $rb ] && cmp -s a.out b.out && cmp -s a.err b.err && { [ ! -f a.rej ] || cmp -s a.rej b.rej; }; then
    ok "$in: '$p' $*: the same (exit $ra, $(wc -l < a.out) lines)"
  else
    bad "$in: '$p' $*: exit $ra vs $rb; $(diff a.out b.out | head -4) $(diff a.err b.err | head -4)"
  fi
  rm -f a.rej b.rej
}
for in in in.csv in.ndjson; do
  check $in 'filter c >= -40 and c <= 85 | map f = c * 9 / 5 + 32'
  check $in 'filter c >= -40 and c <= 85 | map f = round(c * 9 / 5 + 32, 2), g = f - c, h = w // 3, k = q % 2'
  check $in 'map r = c / q, s = -c, t = c * 1e300, u = c + 9223372036854775807, v = pow(q, 2) + sqrt(abs(c))'
  check $in 'filter not (c > 10) or q == 0 | map c = c * 2, d = c + 1'
  check $in 'map f = c * 9 / 5 + 32' --on-error skip
  check $in 'map f = c * 9 / 5 + 32, g = f / q' --on-error reject=rej.ndjson
  check $in 'filter c * 2 > 50' --on-error skip
  check $in 'filter c > 9007199254740992 or c < -100'
  check $in 'map f = c * 9 / 5 + 32 | filter f > 100 | map g = f * 2'
  check $in 'map f = c * 9 / 5 + 32, k = id % 5 | group k: s = sum(f), n = count(f), m = max(f) | sort k' --on-error skip
  # what a filter read is left on the batch for the map after it (sl_batch.parsed)
  check $in 'filter c > -50 | map f = c * 2, g = f + c, c = c - 1, h = c * 3' --on-error skip
  check $in 'filter c > -50 and w < 50 | select id, w, c | map f = c * 2 + w' --on-error skip
  check $in 'filter c > -50 | rename c:d | map f = d / 3' --on-error reject=rej.ndjson
  check $in 'filter c > -50 | filter q < 9 | map f = c * q | filter f > 10 | map g = f - c' --on-error skip
  check $in 'filter not (c < 0) | head 5000 | map f = -c, g = abs(c) + round(q, 1)'
  # batches of more rows than one call of the batch form takes (1024)
  check $in 'filter c >= -40 and c <= 85 | map f = c * 9 / 5 + 32, g = f - c' --batch-rows 3000 --on-error skip
  check $in 'filter c > 0 | filter q < 9 | map f = c * q | filter f > 10 | map g = f - c' --batch-rows 5000 --on-error skip
  # an input column read as a number by an assignment before the one that sets it
  check $in 'map a = 1, b = a + c * 2, c = 5, d = c + a' --on-error skip
  check $in 'map f = c * 9 / 5 + 32 | map a = 2, g = a * f, f = 0, h = f + g' --on-error skip
done
# the first text value stops the run at its line, as before
check in.csv 'map f = c * 2'
grep -q '^sluice: map: in.csv:[0-9]*: setting f: .*"n/a" is not a number' a.err && ok "the stopping error names its line: $(head -c 160 a.err)" || bad "no line in: $(cat a.err)"
finish
