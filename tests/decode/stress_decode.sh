#!/usr/bin/env bash
# -d with parallel workers, for the integrity (and, in the TSan build, the
# data-race) checks: numbered records of 8 producers, each input compressed
# in a different format (or left plain, or behind a FIFO), merged with
# -j 4 under every lock and order, also recompressed with -Z, and proved
# whole by pmverify.
#
# Usage: stress_decode.sh PMGEN PMVERIFY
# Needs gzip, zstd, xz, bzip2 and lz4; exits 77 (skip) without.
set -uo pipefail

PMERGE=${PMERGE:-pmerge}
pmgen=$1
pmverify=$2
# shellcheck source=tests/decode/testlib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/testlib.sh"
need gzip zstd xz bzip2 lz4 cmp
enter_scratch

count=4000
srcs=()
files=()
formats=(gzip zstd xz bzip2 lz4 plain gzip zstd)
for i in 0 1 2 3 4 5 6 7; do
	# Some records longer than the 128 KiB pipe buffer, most short.
	"$pmgen" -s "$i" -n $count -S $((i + 1)) -M 300000 -L 0.005 -o "s$i"
	f=${formats[$i]}
	case $f in
	plain) cp "s$i" "in$i" ;;
	lz4) lz4 -q -c "s$i" >"in$i" ;;
	*) "$f" -q -c "s$i" >"in$i" ;;
	esac
	srcs+=("$i:$count")
	files+=("in$i")
done
cat s0 s1 s2 s3 s4 s5 s6 s7 >ref

for lock in mutex rlock sem:4 spin; do
	"$PMERGE" -d -j4 -l "$lock" -u line "${files[@]}" >out
	check "line/arrival -l $lock" "$pmverify" -q -i out "${srcs[@]}"
	"$PMERGE" -d -j4 -l "$lock" -u line --order=input "${files[@]}" >out
	check "line/input -l $lock" "$pmverify" -q --in-order -i out "${srcs[@]}"
	"$PMERGE" -d -j4 -l "$lock" -o out "${files[@]}"
	check "file/input -o -l $lock" cmp -s out ref
	"$PMERGE" -d -j4 -l "$lock" --order=arrival "${files[@]}" | wc -c >n
	check "file/arrival -l $lock: bytes" test "$(cat n)" -eq "$(wc -c <ref)"
done
# Recompressed in parallel (the compressor threads, under TSan too).
for fmt in gzip zstd; do
	"$PMERGE" -d -j4 -Z $fmt -o out.z "${files[@]}"
	"$fmt" -dc out.z | cmp -s - ref
	check "-d -Z $fmt -j4" test $? -eq 0
	"$PMERGE" -d -j4 -Z $fmt -u line "${files[@]}" | "$fmt" -dc >out
	check "-d -Z $fmt -u line" "$pmverify" -q -i out "${srcs[@]}"
done
# Two inputs behind FIFOs among the files.
mkfifo f1 f2
(cat in1 >f1 &)
(cat in3 >f2 &)
"$PMERGE" -d -j4 -u line in0 f1 in2 f2 in4 in5 in6 in7 >out
check "line/arrival with FIFOs" "$pmverify" -q -i out "${srcs[@]}"

finish
