#!/usr/bin/env bash
# Numbers computed by map travel beside their text to the stages after it
# (expressions, group, normalize read the double instead of parsing the
# text): the answers must be exactly those of parsing the text.  The text
# route: the mapped records written out and read back in a second run.
. "$(dirname "$0")/lib.sh"
awk 'BEGIN { srand(11); print "k,x,y";
  for (i = 1; i <= 20000; i++) {
    r = rand();
    if (r < 0.2) x = int(rand() * 1000) * 2;                  # x * 1.5 integral: reads back as an integer
    else if (r < 0.4) x = sprintf("%.3f", rand() * 1e4);
    else if (r < 0.5) x = sprintf("%.17g", rand() * 1e16);    # products past 1e15: exponent form
    else if (r < 0.6) x = sprintf("%.17g", (rand() - 0.5) * 1e-5);
    else if (r < 0.65) x = "0";                                # 0 * -1.5: -0 written as 0
    else if (r < 0.7) x = "";
    else if (r < 0.75) x = "text";
    else x = sprintf("%.2f", (rand() - 0.5) * 2000);
    printf "%d,%s,%d\n", i % 37, x, int(rand() * 100) }
}' > in.csv
P='map a = x * 1.5, b = a * -1, c = if(a > 100, a / 7, a), s = string(a) | map d = c * 3 + b'
Q='group k: n = count(a), sa = sum(a), mb = max(b), mi = min(c), f = first(a), l = last(d), md = median(d), cd = count_distinct(c), me = mean(b), sd = stddev(d) | sort k'
F='filter a > 10 and d <= 5000 or b == -3 | map e = a + d, t = a == s'
"$SLUICE" "$P" --on-error skip -q in.csv > mid.csv; [ $? = 3 ] || bad "map alone: expected exit 3 (text records skipped)"
[ "$(wc -l < mid.csv)" -gt 15000 ] && ok "$(($(wc -l < mid.csv) - 1)) mapped records (the text ones skipped)" || bad "too few mapped records"
for part in "$Q" "$F" "normalize d --zscore | select k, d"; do
  "$SLUICE" "$P | $part" --on-error skip -q in.csv > fast.csv 2> err1.txt; [ $? = 3 ] || bad "one run: $(cat err1.txt)"
  "$SLUICE" "$part" mid.csv > text.csv 2> err2.txt || bad "over the text: $(cat err2.txt)"
  cmp -s fast.csv text.csv && ok "'${part%% *} ...' over computed numbers: the same bytes as over their text ($(wc -l < fast.csv) lines)" \
    || bad "'$part' differs: $(diff fast.csv text.csv | head -6)"
done
# fields that group reads only as numbers: map leaves no text for their
# doubles at all (src/stages/hints.h), the answers must not change
P2='map u = x * 1.5, v = x / 3'
Q2='group k: su = sum(u), mu = mean(u), sv = stddev(v), pv = percentile(v, 0.9), nu = count(u), mdv = median(v) | sort k'
"$SLUICE" "$P2" --on-error skip -q in.csv > mid2.csv
"$SLUICE" "$P2 | $Q2" --on-error skip -q in.csv > fast2.csv
"$SLUICE" "$Q2" mid2.csv > text2.csv
cmp -s fast2.csv text2.csv && ok "group reading map's numbers only as numbers: the same bytes ($(wc -l < fast2.csv) lines)" \
  || bad "number-only fields differ: $(diff fast2.csv text2.csv | head -6)"
# an integral double from 1e15 to 1e17 that needs all its digits is written
# without an exponent (6305039478318694) and reads back as an integer: a
# later stage reading the computed double must see that integer too
printf 'c,q\n9007199254740993,0.70\n9007199254740993,0.5\n123456789012345,1.5\n' > wide.csv
"$SLUICE" 'map f = c * q' wide.csv > wide_mid.csv
"$SLUICE" 'map f = c * q | filter f > 0 | map g = f - c, h = f // 7' wide.csv > wide_fast.csv
"$SLUICE" 'filter f > 0 | map g = f - c, h = f // 7' wide_mid.csv > wide_text.csv
cmp -s wide_fast.csv wide_text.csv && ok "computed 16-digit integers read as the integers their text is ($(sed -n 2p wide_fast.csv))" \
  || bad "16-digit computed integers differ: $(diff wide_fast.csv wide_text.csv | head -4)"
finish
