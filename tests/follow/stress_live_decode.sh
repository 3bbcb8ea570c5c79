#!/usr/bin/env bash
# -d with live streams, proved by pmverify: numbered records of 8
# producers (some longer than the 128 KiB buffer), each compressed in
# another format (or left plain) behind a FIFO, merged with -j 2 -u line
# under several locks.  The stream thread decodes them all at once, from
# whole files written at once and from compressors that write as their
# producer goes; no record may be torn, lost, duplicated or reordered.  In
# the TSan build this is also the data-race check of that path.
#
# Usage: stress_live_decode.sh PMGEN PMVERIFY
# Needs gzip, zstd, xz, bzip2 and lz4; exits 77 (skip) without.
set -uo pipefail

PMERGE=${PMERGE:-pmerge}
pmgen=$1
pmverify=$2
# shellcheck source=tests/decode/testlib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/../decode/testlib.sh"
need gzip zstd xz bzip2 lz4
enter_scratch

count=3000
formats=(gzip zstd xz bzip2 lz4 plain gzip zstd)
srcs=()
fifos=()

# pack FORMAT: standard input compressed to standard output.
pack() {
	case $1 in
	plain) cat ;;
	lz4) lz4 -q -c ;;
	*) "$1" -q -c ;;
	esac
}

for i in "${!formats[@]}"; do
	"$pmgen" -s "$i" -n $count -S $((i + 1)) -M 300000 -L 0.005 |
		pack "${formats[$i]}" >"in$i"
	srcs+=("$i:$count")
	fifos+=("f$i")
done

fresh_fifos() {
	rm -f -- "${fifos[@]}"
	mkfifo -- "${fifos[@]}"
}

for lock in mutex sem:2 spin; do
	fresh_fifos
	for i in "${!formats[@]}"; do
		(cat "in$i" >"f$i" &)
	done
	"$PMERGE" -d -j2 -l "$lock" -u line "${fifos[@]}" >out
	check "FIFOs -l $lock: exit status" test $? -eq 0
	check "FIFOs -l $lock" "$pmverify" -q -i out "${srcs[@]}"
done

# Live compressors: each producer writes bursts with pauses, and its
# compressor passes on whatever it has, frames cut anywhere.
fresh_fifos
for i in "${!formats[@]}"; do
	("$pmgen" -s "$i" -n $count -S $((i + 1)) -M 3000 -b 300 -d 2000 |
		pack "${formats[$i]}" >"f$i" &)
done
"$PMERGE" -d -j2 -u line --tag "${fifos[@]}" >out
check "live compressors: exit status" test $? -eq 0
check "live compressors" "$pmverify" -q --tag -i out "${srcs[@]}"

finish
