#!/usr/bin/env bash
# Runs one end-to-end case: tests/cli/cases/NAME/ holds
#   cmd              shell text run with bash in a scratch copy of the case
#                    directory; $SLUICE is the binary under test and
#                    $SLUICE_ROOT the source tree
#   stdin            (optional) fed to standard input, else /dev/null
#   expected_stdout  exact standard output
#   expected_stderr  (optional) exact standard error; absent = not checked
#                    except that it must be empty when expected_rc is 0
#   expected_rc      exit status (default 0)
#   expected_files   (optional) lines "PATH" whose content must equal
#                    expected_files.d/PATH after the run
# REGEN=1 rewrites expected_stdout/expected_stderr/expected_rc from the
# current binary (review the diff before committing).
set -u
SLUICE=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
case_dir=$(cd "$2" && pwd)
SLUICE_ROOT=$(cd "$(dirname "$0")/../.." && pwd)   # the source tree (docs/examples/...)
export SLUICE SLUICE_ROOT LC_ALL=C TZ=UTC
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$case_dir"/. "$work"/
cd "$work" || exit 2
stdin=/dev/null
[ -f stdin ] && stdin=stdin
bash ./cmd < "$stdin" > "$work/.out" 2> "$work/.err"
rc=$?
if [ "${REGEN:-0}" = 1 ]; then
  cp "$work/.out" "$case_dir/expected_stdout"
  if [ -f "$case_dir/expected_stderr" ] || [ -s "$work/.err" ]; then cp "$work/.err" "$case_dir/expected_stderr"; fi
  echo "$rc" > "$case_dir/expected_rc"
  echo "regenerated $(basename "$case_dir")"
  exit 0
fi
want_rc=0
[ -f "$case_dir/expected_rc" ] && want_rc=$(cat "$case_dir/expected_rc")
fail=0
if [ "$rc" != "$want_rc" ]; then echo "exit status $rc, expected $want_rc"; fail=1; fi
if ! cmp -s "$work/.out" "$case_dir/expected_stdout"; then
  echo "stdout differs:"; diff -u "$case_dir/expected_stdout" "$work/.out" | head -40; fail=1
fi
if [ -f "$case_dir/expected_stderr" ]; then
  if ! cmp -s "$work/.err" "$case_dir/expected_stderr"; then
    echo "stderr differs:"; diff -u "$case_dir/expected_stderr" "$work/.err" | head -40; fail=1
  fi
elif [ "$want_rc" = 0 ] && [ -s "$work/.err" ]; then
  echo "unexpected stderr:"; head -20 "$work/.err"; fail=1
fi
if [ -f "$case_dir/expected_files" ]; then
  while IFS= read -r f; do
    [ -n "$f" ] || continue
    if ! cmp -s "$work/$f" "$case_dir/expected_files.d/$f"; then echo "file $f differs"; fail=1; fi
  done < "$case_dir/expected_files"
fi
exit $fail
