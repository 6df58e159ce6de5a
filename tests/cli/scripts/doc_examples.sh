#!/usr/bin/env bash
# Every example in docs/*.md runs as a test.  An example is a ```console
# block: lines starting with "$ " are commands (run with bash in a scratch
# copy of docs/examples, with `sluice` on PATH), the lines after a command
# are its exact standard output.  Standard error is not compared: write
# `2>&1` in the command to show it.  The commands of one block run in turn
# in the same copy, so a later one sees the files an earlier one wrote;
# each block starts from a fresh copy.
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
. "$(dirname "$0")/lib.sh"
mkdir bin && ln -s "$SLUICE" bin/sluice
export PATH="$WORK/bin:$PATH" TZ=UTC
total=0
for doc in "$ROOT"/docs/*.md; do
  awk -v doc="$(basename "$doc")" '
    /^```console/ { inblock = 1; print "@@BLOCK"; next }
    /^```/ && inblock { if (cmd != "") { print "@@END" } inblock = 0; cmd = ""; next }
    inblock && /^\$ / { if (cmd != "") print "@@END"; cmd = substr($0, 3); print "@@CMD " doc ":" NR; print cmd; next }
    inblock && cmd != "" { print }
  ' "$doc" > examples.txt
  # split into command / expected pairs
  while IFS= read -r header; do
    case "$header" in
      "@@BLOCK") rm -rf ex && cp -r "$ROOT/docs/examples" ex; continue ;;
      "@@CMD "*) ;;
      *) continue ;;
    esac
    where=${header#@@CMD }
    IFS= read -r cmd
    : > expected
    while IFS= read -r l && [ "$l" != "@@END" ]; do printf '%s\n' "$l" >> expected; done
    (cd ex && bash -c "$cmd" < /dev/null > ../actual 2> ../stderr)
    total=$((total + 1))
    if cmp -s expected actual; then ok "$where"; else bad "$where: $cmd"; diff expected actual | head -10; fi
  done < examples.txt
done
[ $total -gt 0 ] || bad "no examples found"

# A block whose info string has file=PATH (```crontab file=examples/crontab)
# quotes docs/PATH, which a test runs: it must be that file, verbatim.
quoted=0
for doc in "$ROOT"/docs/*.md; do
  rm -rf quotes && mkdir quotes
  awk -v dir=quotes '
    /^```/ && !inblock && match($0, /file=[^ ]+/) { inblock = 1; n++; out = dir "/" n; print substr($0, RSTART + 5, RLENGTH - 5) > (out ".path"); printf "" > out; next }
    /^```/ && inblock { inblock = 0; close(out); next }
    inblock { print >> out }
  ' "$doc"
  for q in quotes/*.path; do
    [ -e "$q" ] || continue
    path=$(cat "$q")
    quoted=$((quoted + 1))
    if cmp -s "${q%.path}" "$ROOT/docs/$path"; then ok "$(basename "$doc") quotes docs/$path verbatim"
    else bad "$(basename "$doc") quotes docs/$path, which differs:"; diff "${q%.path}" "$ROOT/docs/$path" | head -10; fi
  done
done
[ $quoted -gt 0 ] || bad "no quoted files found"
finish
