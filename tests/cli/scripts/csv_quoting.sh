#!/usr/bin/env bash
# The CSV and TSV writers quote a field exactly when it holds the delimiter,
# the quote character, CR or LF.  Their check skips most fields with one
# "any byte below the largest of those" test per 8 bytes (csv_writer.c), so
# every special byte is put at every position of fields of 1 to 40 bytes,
# beside bytes just below and above the bound, and each output is read back
# by Python's csv module: every value must come back exactly, and a field
# must be quoted only when it has to be.
. "$(dirname "$0")/lib.sh"
command -v python3 > /dev/null || { echo "python3 missing"; exit 77; }
python3 - > in.ndjson <<'PY'
import json
fill = ["a", "0", "-", ".", "!", "#", "+", "\u00e9", " ", "~"]
special = [",", "\"", "\r", "\n", "\t", ";", "|", "'", "+", "-"]
n = 0
for length in range(1, 41):
    for pos in range(length):
        for sp in special:
            f = fill[(length + pos) % len(fill)]
            s = (f * length)[:pos] + sp + (f * length)[pos + 1:]
            print(json.dumps({"id": n, "v": s, "w": f * length}, ensure_ascii=False))
            n += 1
PY
cat > check.py <<'PY'
import csv, json, sys
fmt, delim, quote = sys.argv[1], sys.argv[2], sys.argv[3]
want = [json.loads(l) for l in open("in.ndjson", encoding="utf-8")]
raw = open("out.txt", encoding="utf-8", newline="").read()
rows = list(csv.reader(open("out.txt", encoding="utf-8", newline=""), delimiter=delim, quotechar=quote))
assert rows[0] == ["id", "v", "w"], rows[0]
assert len(rows) - 1 == len(want), (len(rows), len(want))
bad = 0
for r, w in zip(rows[1:], want):
    if r != [str(w["id"]), w["v"], w["w"]]:
        bad += 1
        if bad < 5: print("differs:", repr(r), repr(w))
# quoted only when needed: the quote characters in the output are exactly
# those of the fields that must be quoted (two, plus each inner one doubled)
need = lambda s: any(c in s for c in (delim, quote, "\r", "\n"))
expect = sum(2 + 2 * s.count(quote) for w in want for s in (w["v"], w["w"]) if need(s))
got = raw.count(quote)
print(f"{fmt} delim={delim!r} quote={quote!r}: {len(want)} records, {bad} differ, {got} quote characters for {expect} expected")
sys.exit(1 if bad or got != expect else 0)
PY
for spec in "csv,\"" "tsv	\"" "csv;\"" "csv|'"; do
  fmt=${spec:0:3}; d=${spec:3:1}; q=${spec:4:1}
  [ "$fmt" = tsv ] && d=$'\t'
  opts=(--to "$fmt")
  [ "$fmt" = csv ] && opts+=(--output-delimiter "$d" --quote "$q")
  if "$SLUICE" cat in.ndjson "${opts[@]}" > out.txt 2> err.txt && python3 check.py "$fmt" "$d" "$q" > res.txt; then
    ok "$(cat res.txt)"
  else
    bad "$fmt $d $q: $(cat err.txt res.txt | head -8)"
  fi
done
finish
