# shellcheck shell=bash
# Shared setup of the bench/ scripts: where the repository, the shared material,
# the peers' work files and the sluice binary are, and a fresh results directory.
# Sourced, not run.
#
#   SLUICE=path      sluice binary (default: build/sluice of this repository)
#   SHARED=dir       shared material (default: ../shared beside the repository)
#   PEERS_ROOT=dir   peers, generator and data from shared setup.sh (default /tmp/sluice-peers)
#   RES=dir          results directory (default: a new /tmp/sluice-bench.XXXXXX)

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(git -C "$BENCH_DIR" rev-parse --show-toplevel) || { echo "bench: not inside a git checkout" >&2; exit 2; }
SHARED=${SHARED:-$REPO/../shared}
SHARED=$(cd "$SHARED" 2>/dev/null && pwd) || { echo "bench: shared dir not found (expected $REPO/../shared)" >&2; exit 2; }
PEERS_DIR=$SHARED/bench/peers
SLUICE=${SLUICE:-$REPO/build/sluice}
case $SLUICE in /*) ;; *) SLUICE=$PWD/$SLUICE ;; esac
export PEERS_ROOT=${PEERS_ROOT:-/tmp/sluice-peers}
export SLUICE SHARED PEERS_DIR REPO

bench_check() {
  [ -x "$SLUICE" ] || { echo "bench: no sluice binary at $SLUICE (build it, or set SLUICE=)" >&2; exit 2; }
  if [ ! -x "$PEERS_ROOT/gen" ] || [ ! -d "$PEERS_ROOT/data" ]; then
    echo "bench: peers/data not found under $PEERS_ROOT; run: bash $PEERS_DIR/setup.sh" >&2; exit 2
  fi
}

# bench_res: make (or reuse, when RES is set) the results directory and record what was measured
bench_res() {
  if [ -z "${RES:-}" ]; then RES=$(mktemp -d /tmp/sluice-bench.XXXXXX); fi
  mkdir -p "$RES"; export RES
  {
    echo "date: $(date -Is)"
    echo "sluice: $SLUICE sha256=$(sha256sum "$SLUICE" | cut -c1-16) $("$SLUICE" --version 2>&1 | head -n 1)"
    echo "repo: $(git -C "$REPO" rev-parse --short HEAD)$(git -C "$REPO" diff --quiet HEAD -- src include 2>/dev/null || echo ' (+ uncommitted changes in src/ or include/)')"
    echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'), $(free -g | awk '/^Mem:/{print $2}') GiB"
  } >> "$RES/about.txt"
}
