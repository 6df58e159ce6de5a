#!/usr/bin/env bash
# Truncated and corrupted compressed input.  A small CSV is compressed to
# about 2 KB as .csv.gz (gzip -n) and .csv.zst (zstd --check, so the frame
# carries a checksum of its content); each file is then
#   cut:     cut at byte offset k (every offset 1..size-1; offset 0 is the
#            empty file)
#   flipped: byte k xored with 0xff (every offset of the first 512 bytes,
#            then every 5th, and always the last 16: the trailers)
# and `sluice cat X -o out.csv` runs on it.  Every run must
#   - exit 65 (corrupt data) or 66 (input unreadable), or exit 0 only when
#     the output equals the original data (a byte that does not matter: a
#     gzip header's mtime, flags or OS byte), never anything else (no crash);
#   - on failure print exactly one line on standard error naming the input;
#   - on failure leave neither out.csv nor a temporary file behind.
# Damaged magic bytes (a gzip file cut to 2 bytes, one of its first three
# (1f 8b 08) flipped; the same for the 4 bytes of zstd) make a file sluice reads as
# plain data, by design (compression is detected from the bytes, never the
# name): those runs are counted apart and only checked not to crash and to
# leave nothing behind when they fail.
. "$(dirname "$0")/lib.sh"
command -v gzip > /dev/null && command -v zstd > /dev/null || { echo "gzip and zstd needed"; exit 77; }
# the sanitizer build is ~10x slower: test every 3rd offset there
step=1
if nm "$SLUICE" 2> /dev/null | grep -q __asan_init; then step=3; fi

awk 'BEGIN { srand(6); print "id,name,amount,note";
             for (i = 1; i <= 160; i++) printf "%d,user%d,%.2f,\"note %d, \"\"x\"\"\"\n", i, int(rand() * 1000), rand() * 1000, i }' > data.csv
gzip -n -9 -c data.csv > data.csv.gz
zstd -q --check -19 -c data.csv > data.csv.zst
echo "data.csv: $(wc -c < data.csv) bytes; data.csv.gz: $(wc -c < data.csv.gz); data.csv.zst: $(wc -c < data.csv.zst)"

shopt -s dotglob nullglob
declare -A count
keys=()
# check_run NAME KIND K MAGIC_DAMAGED: run sluice on NAME, damaged at K
check_run() {
  local name=$1 kind=$2 k=$3 plain=$4
  "$SLUICE" cat "$name" -o out.csv > /dev/null 2> err.txt
  local rc=$?
  local key="$kind, exit $rc"
  [ "$plain" = 1 ] && key="$kind (magic damaged: plain data), exit $rc"
  [ -n "${count[$key]:-}" ] || keys+=("$key")
  count[$key]=$((${count[$key]:-0} + 1))
  local f left=
  for f in *; do
    case $f in data.csv | data.csv.gz | data.csv.zst | err.txt | out.csv | byte.bin | "$name") ;; *) left+=" $f" ;; esac
  done
  if [ -n "$left" ]; then bad "$kind at $k: left behind:$left"; rm -f -- $left; fi
  if [ "$plain" = 1 ]; then
    # read as plain data: any clean outcome, nothing left when it failed
    case $rc in 0 | 65) ;; *) bad "$kind at $k (magic damaged): exit $rc" ;; esac
    if [ $rc != 0 ] && [ -e out.csv ]; then bad "$kind at $k: out.csv left after exit $rc"; fi
    [ -e out.csv ] && rm -f out.csv
    return
  fi
  local err= lines=()
  mapfile -t lines < err.txt
  err=${lines[*]:-}
  case $rc in
    0)
      if ! cmp -s out.csv data.csv; then bad "$kind at $k: exit 0 with other data"; fi
      rm -f out.csv ;;
    65 | 66)
      if [ -e out.csv ]; then bad "$kind at $k: out.csv left after exit $rc"; rm -f out.csv; fi
      if [ ${#lines[@]} != 1 ]; then bad "$kind at $k: ${#lines[@]} lines on stderr: $err"; fi
      case $err in *"$name"*) ;; *) bad "$kind at $k: stderr does not name the input: $err" ;; esac ;;
    *)
      bad "$kind at $k: exit $rc: $err"; [ -e out.csv ] && rm -f out.csv ;;
  esac
}

for src in data.csv.gz data.csv.zst; do
  size=$(wc -c < "$src")
  magic=3 # 1f 8b and the method byte 08
  [ "$src" = data.csv.zst ] && magic=4
  name=damaged.${src#data.}
  # cut at every offset
  for ((k = 1; k < size; k += step)); do
    head -c "$k" "$src" > "$name"
    check_run "$name" "${src##*.} cut" $k $((k < magic))
  done
  # flip bytes
  bytes=($(od -An -tu1 -v "$src"))
  for ((k = 0; k < size; k++)); do
    if [ $k -ge 512 ] && [ $((k % (5 * step))) != 0 ] && [ $k -lt $((size - 16)) ]; then continue; fi
    if [ $k -lt 512 ] && [ $((k % step)) != 0 ]; then continue; fi
    cp "$src" "$name"
    printf -v oct '\\%03o' $((bytes[k] ^ 255))
    printf "$oct" > byte.bin
    dd if=byte.bin of="$name" bs=1 seek="$k" conv=notrunc status=none
    check_run "$name" "${src##*.} flip" $k $((k < magic))
  done
  rm -f "$name"
done

total=0
for key in "${keys[@]}"; do
  echo "  $key: ${count[$key]}"
  total=$((total + ${count[$key]}))
done
echo "$total runs (offset step $step)"
[ "$total" -gt 1000 ] || bad "only $total runs"
finish
