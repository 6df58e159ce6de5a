#!/usr/bin/env bash
# Fuzz one target with libFuzzer for a while (see tests/fuzz/README.md).
#
#   bash tests/fuzz/run.sh TARGET SECONDS [BUILD_DIR] [WORK_DIR]
#
# TARGET is csv, ndjson, compressed, expr or pipeline; BUILD_DIR a build
# configured with -DSLUICE_FUZZ=ON (default build-fuzz, built here when
# missing); WORK_DIR (default $BUILD_DIR/fuzz-work/TARGET) keeps the corpus
# the fuzzer grows, so a later run goes on from where this one stopped.  The
# checked-in seeds (tests/fuzz/corpus/TARGET) and every regression input are
# read, never written.  One process, in-process fuzzing (no -jobs): the
# machine is shared.
# Crashes land in WORK_DIR as crash-*, leak-*, timeout-*, oom-*: reproduce
# one with BUILD_DIR/fuzz/fuzz_TARGET FILE, fix the bug, then keep the file
# forever in tests/regress/TARGET/.  The last line printed is the CPU time
# used (user+sys seconds), for the record in README.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
target=${1:?target: csv ndjson compressed expr pipeline}
secs=${2:?seconds}
build=${3:-$root/build-fuzz}
work=${4:-$build/fuzz-work/$target}
if [ ! -x "$build/fuzz/fuzz_$target" ]; then
  CC=clang cmake -S "$root" -B "$build" -DSLUICE_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug > /dev/null
  cmake --build "$build" -j2 --target "fuzz_$target"
fi
mkdir -p "$work/corpus"
regress=
[ -d "$root/tests/regress/$target" ] && regress="$root/tests/regress/$target"
set +e
/usr/bin/time -f "cpu %U user %S sys" -o "$work/time.txt" \
  "$build/fuzz/fuzz_$target" "$work/corpus" "$root/tests/fuzz/corpus/$target" $regress \
  -max_total_time="$secs" -rss_limit_mb=2048 -timeout=20 -max_len=8192 \
  -artifact_prefix="$work/" -print_final_stats=1 2>&1 | tee "$work/last.log" | grep -E "^#[0-9]+ *(pulse|REDUCE|NEW)|ERROR|PROPERTY|SUMMARY|Done|stat::" | tail -30
rc=${PIPESTATUS[0]}
set -e
cat "$work/time.txt"
exit "$rc"
