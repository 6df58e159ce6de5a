#!/usr/bin/env bash
# sum and mean are exact and order-free: the sum of every mix of values (ones
# that fit the fast fixed-point form, tiny ones, huge ones, integers, a sum
# that leaves the fixed range) equals Python's math.fsum rounded once, and
# shuffling the records does not change a byte of the result.
. "$(dirname "$0")/lib.sh"
command -v python3 > /dev/null || { echo "no python3"; exit 77; }
python3 - <<'PY'
import random, math
random.seed(7)
groups = {
  "money":   lambda: round(random.uniform(0, 1000), 2) * random.choice([1, 1.2, 3]),
  "tiny":    lambda: random.uniform(-1, 1) * 10.0 ** random.randint(-30, -3),
  "huge":    lambda: random.uniform(-1, 1) * 10.0 ** random.randint(15, 300),
  "mixed":   lambda: random.choice([random.uniform(-1e6, 1e6), random.uniform(-1e-6, 1e-6), random.uniform(-1e20, 1e20)]),
  "cancel":  lambda: random.choice([1e16, -1e16, 0.1, 3.0, -2.5e-9]),
  "ints":    lambda: random.randint(-2**62, 2**62),
  "intdbl":  lambda: random.choice([random.randint(-10**6, 10**6), random.uniform(-1e3, 1e3)]),
  "nearmax": lambda: random.uniform(2**52, 2**53) * random.choice([1, -1]),
  "dyadic":  lambda: random.randint(-2**20, 2**20) * 2.0 ** random.randint(-78, -28),
}
rows = []
for g, f in groups.items():
    for _ in range(3000):
        rows.append((g, f()))
def fmt(v):
    return str(v) if isinstance(v, int) else repr(v)
with open("ref.csv", "w") as o:
    o.write("g,total\n")
    for g in groups:
        vals = [v for (h, v) in rows if h == g]
        if all(isinstance(v, int) for v in vals):
            o.write("%s,%d\n" % (g, sum(vals)))
        else:
            s = math.fsum(vals)
            o.write("%s,%s\n" % (g, repr(s)))
for k in range(3):
    random.shuffle(rows)
    with open("in%d.csv" % k, "w") as o:
        o.write("g,x\n")
        for g, v in rows:
            o.write("%s,%s\n" % (g, fmt(v)))
PY
for k in 0 1 2; do
  "$SLUICE" 'group g: total = sum(x) | sort g' in$k.csv > out$k.csv 2> err.txt || bad "run $k: $(cat err.txt)"
done
cmp -s out0.csv out1.csv && cmp -s out0.csv out2.csv && ok "three orders of the records give the same bytes" \
  || bad "the order changed the sums: $(diff out0.csv out1.csv | head -5)"
# compare as numbers (Python writes 1e+16 as 1e+16, integers exactly)
python3 - "$PWD" <<'PY' && ok "every sum equals math.fsum (integers: the exact integer sum)" || bad "a sum differs from math.fsum"
import csv, sys
ref = {r["g"]: r["total"] for r in csv.DictReader(open("ref.csv"))}
got = {r["g"]: r["total"] for r in csv.DictReader(open("out0.csv"))}
bad = 0
for g, v in ref.items():
    w = got.get(g)
    same = (int(v) == int(w)) if ("." not in v and "e" not in v and "inf" not in v) and ("." not in w and "e" not in w) else (float(v) == float(w))
    if not same:
        print("group %s: fsum %s, sluice %s" % (g, v, w)); bad += 1
sys.exit(1 if bad else 0)
PY
finish
