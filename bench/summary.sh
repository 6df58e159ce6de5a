#!/usr/bin/env bash
# Summarises a results directory of bench/run.sh and bench/memory.sh as one markdown table:
# every row of $RES/medians.tsv (latest measurement per workload and tool), plus, for sluice's rows,
# the ratio of its MB/s to the fastest single-thread peer of the same workload.
#
#   bench/summary.sh /tmp/sluice-bench.XXXXXX
#
# MB/s is input bytes / median wall time, as the shared harness reports it; "CPU MB/s" is input
# bytes / median (user+sys) time, which is less sensitive to other load on the machine (for a
# pipeline it includes every process, e.g. the generator in W7).
# Single-thread peers: every peer except duckdb2, polars2 (two threads), gen_only (the generator
# alone) and rows whose note says the answer is wrong (mawk_naive in W6).
# load1: mean 1-minute load average at the end of the timed runs (from raw.tsv); on 2 cores,
# anything much above 1 means something else was running.
set -u
RES=${1:-${RES:-}}
if [ -z "$RES" ] || [ ! -s "$RES/medians.tsv" ]; then
  echo "usage: bench/summary.sh RESULTS_DIR (with medians.tsv)" >&2; exit 64
fi
awk -F'\t' '
  FILENAME ~ /raw.tsv$/ { if ($3 != "v") { split($11, l, "="); ls[$1 "\t" $2] += l[2]; ln[$1 "\t" $2]++ } next }
  { k = $1 "\t" $2; if (!(k in row)) order[++n] = k; row[k] = $0 }
  END {
    for (i = 1; i <= n; i++) {
      split(row[order[i]], f, "\t"); w = f[1]; p = f[2]
      cand = (f[8] ~ /candidate/); single = (p != "duckdb2" && p != "polars2" && p != "gen_only" && f[8] !~ /naive/)
      if (!cand && single && f[4] + 0 > best[w] + 0) { best[w] = f[4]; bestp[w] = p }
      if (!cand && single && f[6] > 0 && f[3] / 1e6 / f[6] > bestc[w] + 0) { bestc[w] = f[3] / 1e6 / f[6]; bestcp[w] = p }
    }
    print "| workload | tool | input MB | MB/s (wall) | CPU MB/s | peak RSS MiB | sluice / fastest 1-thread peer (wall) | (CPU) | load1 | note |"
    print "|---|---|---:|---:|---:|---:|---|---|---:|---|"
    for (i = 1; i <= n; i++) {
      split(row[order[i]], f, "\t"); w = f[1]; p = f[2]
      cpu = (f[6] > 0) ? sprintf("%.1f", f[3] / 1e6 / f[6]) : "NA"
      r = ""; rc = ""
      if (f[8] ~ /candidate/ && best[w] > 0) {
        r = sprintf("%.2fx %s", f[4] / best[w], bestp[w])
        rc = sprintf("%.2fx %s", (f[3] / 1e6 / f[6]) / bestc[w], bestcp[w])
      }
      k = w "\t" p; load = (ln[k] > 0) ? sprintf("%.1f", ls[k] / ln[k]) : ""
      printf "| %s | %s | %.0f | %s | %s | %s | %s | %s | %s | %s |\n", w, p, f[3] / 1e6, f[4], cpu, f[7], r, rc, load, f[8]
    }
  }' "$RES/raw.tsv" "$RES/medians.tsv"
