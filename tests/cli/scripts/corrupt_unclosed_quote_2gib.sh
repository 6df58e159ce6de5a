#!/usr/bin/env bash
# A 2 GiB stream whose second record opens a quote that never closes:
#   { printf 'a,b\n1,"'; yes x | head -c 2G; } | sluice cat --from csv
# must fail (exit 65) as soon as the quoted field passes --max-field-bytes
# (16 MiB), with the position of the opening quote (line 2, column 3), in
# bounded memory: under 64 MB peak RSS (/usr/bin/time -f %M), with both
# parsers.  Neither reads the 2 GiB: they stop at the limit.
. "$(dirname "$0")/lib.sh"
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time"; exit 77; }
asan=0
if nm "$SLUICE" 2> /dev/null | grep -q __asan_init; then asan=1; fi
for parser in fast libcsv; do
  t0=$(now_ms)
  { printf 'a,b\n1,"'; yes x | head -c 2G; } |
    /usr/bin/time -f %M -o rss.txt "$SLUICE" cat --from csv --csv-parser $parser > out.txt 2> err.txt
  rc=${PIPESTATUS[1]}
  ms=$(($(now_ms) - t0))
  rss=$(tail -1 rss.txt)
  echo "$parser: exit $rc, peak RSS $rss KB, $ms ms: $(cat err.txt)"
  [ "$rc" = 65 ] || bad "$parser: exit $rc, expected 65"
  grep -q '^sluice: csv: (stdin):2:3: quoted field opened at line 2, column 3 is longer than 16777216 bytes' err.txt ||
    bad "$parser: the message does not give the opening quote: $(cat err.txt)"
  [ "$(wc -l < err.txt)" = 1 ] || bad "$parser: more than one line on stderr"
  [ -s out.txt ] && bad "$parser: wrote output"
  if [ "$asan" = 1 ]; then
    ok "$parser: peak RSS not checked under AddressSanitizer (shadow memory)"
  elif [ "$rss" -lt 65536 ]; then
    ok "$parser: peak RSS $rss KB < 64 MB"
  else
    bad "$parser: peak RSS $rss KB, expected under 65536 KB"
  fi
  [ "$ms" -lt 60000 ] || bad "$parser: took $ms ms"
done
finish
