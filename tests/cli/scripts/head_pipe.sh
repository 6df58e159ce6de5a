#!/usr/bin/env bash
# `sluice ... | head -1` on a large input ends at once, silently; `head 3`
# on an endless stream returns at once.
. "$(dirname "$0")/lib.sh"
yes 'a,b,c,d,e,f,g,h,i,j' | head -c 300000000 > big.csv
t0=$(now_ms)
"$SLUICE" cat big.csv 2> err.txt | head -1 > /dev/null
t=$(( $(now_ms) - t0 ))
[ $t -lt 1000 ] && ok "| head -1 ended after $t ms" || bad "| head -1 took $t ms"
[ ! -s err.txt ] && ok "nothing on stderr" || bad "stderr: $(cat err.txt)"
t0=$(now_ms)
n=$(yes '1,2' | "$SLUICE" 'head 3' --from csv --no-header | wc -l)
t=$(( $(now_ms) - t0 ))
[ "$n" = 4 ] && [ $t -lt 1000 ] && ok "head 3 on an endless stream: $n lines in $t ms" || bad "head 3: $n lines in $t ms"
finish
