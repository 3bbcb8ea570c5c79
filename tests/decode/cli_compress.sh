#!/usr/bin/env bash
# -Z through the binary: round trips through gzip -dc, zstd -dc and
# pmerge -d, levels, empty output, every unit and order, atomic -o, a pipe
# that closes early, an input that is the output, recompressing rotated
# logs with -d, and bad usage.
# Needs gzip, zstd and python3; exits 77 (skip) without.
set -uo pipefail

PMERGE=${PMERGE:-pmerge}
# shellcheck source=tests/decode/testlib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/testlib.sh"
need gzip zstd python3 cmp
enter_scratch

python3 - <<'EOF2'
import random
r = random.Random(7)
for name, n in (("a.log", 60000), ("b.log", 25000)):
    with open(name, "w") as f:
        for i in range(n):
            f.write("%s %06d %s\n" % (name, i, "z" * r.randrange(0, 120)))
with open("c.bin", "wb") as f:
    f.write(bytes(r.randrange(256) for _ in range(3000000)))
EOF2
cat a.log b.log c.bin >ref

for fmt in gzip zstd; do
	for lvl in "" :1 :9; do
		z=out.$fmt
		"$PMERGE" -Z "$fmt$lvl" -o "$z" a.log b.log c.bin
		check "-Z $fmt$lvl: exit 0" test $? -eq 0
		"$fmt" -dc "$z" | cmp -s - ref
		check "-Z $fmt$lvl: $fmt -dc gives the merge" test $? -eq 0
		"$fmt" -t "$z" 2>/dev/null
		check "-Z $fmt$lvl: $fmt -t" test $? -eq 0
	done
	"$PMERGE" -Z $fmt a.log b.log c.bin | "$PMERGE" -d >out
	check "-Z $fmt | pmerge -d" cmp -s out ref
	"$PMERGE" -Z $fmt -j1 a.log b.log c.bin | "$fmt" -dc >out
	check "-Z $fmt -j1 to a pipe" cmp -s out ref
	: | "$PMERGE" -Z $fmt >empty.z
	check "-Z $fmt: empty merge, valid stream" \
		test "$("$fmt" -dc empty.z | wc -c)" -eq 0 -a -s empty.z
	"$PMERGE" -Z $fmt -u line --order=input a.log b.log | "$fmt" -dc >out
	cat a.log b.log | cmp -s - out
	check "-Z $fmt -u line --order=input" test $? -eq 0
	"$PMERGE" -Z $fmt -j4 -l sem:3 -u line a.log b.log | "$fmt" -dc |
		sort >out
	cat a.log b.log | sort | cmp -s - out
	check "-Z $fmt -u line arrival -l sem:3" test $? -eq 0
	# -o stays all or nothing.
	printf 'old\n' >target
	"$PMERGE" -Z $fmt -o target a.log missing 2>err
	check "-Z $fmt -o with a failed input: exit 1" test $? -eq 1
	check "-Z $fmt -o: target untouched" test "$(cat target)" = old
	check "-Z $fmt -o: nothing left behind" \
		test "$(ls -A | grep -c '^\.target')" -eq 0
	# The reader goes away: pmerge ends by SIGPIPE, like cat.
	"$PMERGE" -Z $fmt c.bin c.bin c.bin c.bin | head -c 100 >/dev/null
	st=${PIPESTATUS[0]}
	check "-Z $fmt: SIGPIPE when the reader goes away ($st)" \
		test "$st" -eq 141
	# -a appends another member or frame: still one valid stream.
	"$PMERGE" -Z $fmt -o app.z a.log
	"$PMERGE" -Z $fmt -a -o app.z b.log
	"$fmt" -dc app.z | cmp -s - <(cat a.log b.log)
	check "-Z $fmt -a" test $? -eq 0
	# The output is an input: refused like cat, though the merge writes
	# into the compressor's pipe (the rest is merged, exit 1).
	for how in "-j1" "-j4" "-m"; do
		cp b.log f
		"$PMERGE" -Z $fmt $how a.log f >f 2>err
		check "-Z $fmt $how a f > f: exit 1" test $? -eq 1
		check "-Z $fmt $how a f > f: message" \
			test "$(cat err)" = "pmerge: f: input file is output file"
		"$fmt" -dc f | cmp -s - a.log
		check "-Z $fmt $how a f > f: the rest merged" test $? -eq 0
	done
	cp b.log f
	"$PMERGE" -Z $fmt -a -o f a.log f 2>err
	check "-Z $fmt -a -o f a f: exit 1" test $? -eq 1
	check "-Z $fmt -a -o f a f: message" \
		test "$(cat err)" = "pmerge: f: input file is output file"
	n=$(wc -c <b.log)
	head -c "$n" f | cmp -s - b.log &&
		tail -c +$((n + 1)) f | "$fmt" -dc | cmp -s - a.log
	check "-Z $fmt -a -o f a f: the rest appended" test $? -eq 0
done

# Rotated .gz logs into one .zst in one pass.
gzip -c a.log >a.log.1.gz
gzip -c b.log >a.log.2.gz
"$PMERGE" -d -Z zstd -o all.zst a.log.2.gz a.log.1.gz c.bin
zstd -dc all.zst | cmp -s - <(cat b.log a.log c.bin)
check "-d -Z zstd recompresses" test $? -eq 0

# Bad usage.
"$PMERGE" -Z lzma a.log >/dev/null 2>err
check "-Z lzma: exit 2" test $? -eq 2
check "-Z lzma: valid values named" grep -q "(valid: gzip, zstd)" err
"$PMERGE" -Z gzip:13 a.log >/dev/null 2>err
check "-Z gzip:13: exit 2" test $? -eq 2
"$PMERGE" -Z zstd:0 a.log >/dev/null 2>err
check "-Z zstd:0: exit 2" test $? -eq 2
"$PMERGE" --bench=1 -Z zstd a.log >/dev/null 2>err
check "--bench -Z: exit 2" test $? -eq 2
finish
