#!/usr/bin/env bash
# pmerge -d through the binary, against each format's own tool: identity
# with "TOOL -dc" for every format (several members and frames, empty and
# one-byte streams, misleading names), stdin and FIFOs, every unit, order
# and lock with --tag, and bad data of every kind (message, exit status,
# -o left alone, the rest merged to standard output).
#
# Usage: cli_decode.sh [--slow] [NO_ISAL_PRELOAD]
#   --slow            only the slow cases (the 2 GiB zstd bomb)
#   NO_ISAL_PRELOAD   a preload library that hides libisal: the run-time
#                     zlib fallback is checked with it
# Needs gzip, zstd, xz, bzip2, lz4 and python3; exits 77 (skip) without.
set -uo pipefail

PMERGE=${PMERGE:-pmerge}
slow=false
if [[ ${1:-} == --slow ]]; then
	slow=true
	shift
fi
no_isal=${1:-}

# shellcheck source=tests/decode/testlib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/testlib.sh"
need gzip zstd xz bzip2 lz4 python3 cmp
enter_scratch

# The tools' own decoders: the reference.
declare -A ext=([gzip]=gz [zstd]=zst [xz]=xz [bzip2]=bz2 [lz4]=lz4)
formats=(gzip zstd xz bzip2 lz4)
compress() { # FORMAT < plain > compressed
	case $1 in
	lz4) lz4 -q -c ;;
	*) "$1" -q -c ;;
	esac
}
decompress() { # FORMAT < compressed > plain
	case $1 in
	lz4) lz4 -q -d -c ;;
	*) "$1" -q -d -c ;;
	esac
}

if $slow; then
	# A decompression bomb costs time, never memory: 2 GiB of zeros.
	head -c 2G /dev/zero | zstd -q -c >bomb.zst
	rss=$(python3 - "$PMERGE" <<'EOF'
import hashlib, resource, subprocess, sys
p = subprocess.Popen([sys.argv[1], "-d", "bomb.zst"], stdout=subprocess.PIPE)
h, n = hashlib.sha256(), 0
while True:
    b = p.stdout.read(1 << 20)
    if not b:
        break
    n += len(b)
    if b.count(0) != len(b):
        n = -1
        break
p.wait()
print(n if p.returncode == 0 else -2,
      resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
EOF
	)
	read -r bytes kib <<<"$rss"
	check "bomb: 2 GiB of zeros decoded ($bytes)" test "$bytes" = 2147483648
	check "bomb: peak RSS $kib KiB <= 32 MiB" test "$kib" -le 32768
	finish
fi

# ----------------------------------------------------------------- data
python3 - <<'EOF'
import random
r = random.Random(13)
with open("a.log", "w") as f:
    for i in range(20000):
        f.write("A %06d %s\n" % (i, "x" * r.randrange(0, 80)))
with open("b.log", "w") as f:
    for i in range(9000):
        f.write("B %06d %s\n" % (i, "y" * r.randrange(0, 200)))
with open("c.bin", "wb") as f:
    f.write(bytes(r.randrange(256) for _ in range(150000)))
EOF
: >empty
printf 'z' >one
for f in "${formats[@]}"; do
	e=${ext[$f]}
	for p in a.log b.log c.bin empty one; do
		compress "$f" <"$p" >"$p.$e"
	done
	# Several members / frames / streams, one of them empty.
	cat a.log.$e empty.$e b.log.$e >ab.$e
done
# pigz writes a multi-block single member; zstd's skippable frames.
command -v pigz >/dev/null && pigz -c -b 128 a.log >a.pigz.gz
printf '\x50\x2a\x4d\x18\x04\x00\x00\x00skip' >skip.bin
cat a.log.zst skip.bin b.log.zst skip.bin >skip.zst
cat skip.bin a.log.lz4 skip.bin >skip.lz4

# ------------------------------------------------- identity, every format
for f in "${formats[@]}"; do
	e=${ext[$f]}
	for z in a.log.$e b.log.$e c.bin.$e empty.$e one.$e ab.$e; do
		for j in 1 3; do
			"$PMERGE" -d -j$j "$z" >out 2>err
			decompress "$f" <"$z" >want
			check "$z -j$j: status" test $? -eq 0 -a ! -s err
			check "$z -j$j: same as $f -dc" cmp -s out want
		done
	done
done
for z in skip.zst skip.lz4 a.pigz.gz; do
	[[ -f $z ]] || continue
	"$PMERGE" -d "$z" >out
	case $z in
	*.lz4) decompress lz4 <"$z" >want ;;
	*.zst) decompress zstd <"$z" >want ;;
	*) decompress gzip <"$z" >want ;;
	esac
	check "$z: same as the tool" cmp -s out want
done

# All formats and plain inputs in one merge, in command-line order.
set -- a.log b.log.gz c.bin.zst a.log.xz one.bz2 b.log.lz4 empty.gz c.bin
"$PMERGE" -d -o all "$@"
cat a.log b.log c.bin a.log one b.log c.bin >want
check "mixed set with -o" cmp -s all want

# The content decides, never the name.
cp a.log.gz looks-like.zst
cp b.log.zst looks-like.gz
cp a.log plain.gz
"$PMERGE" -d looks-like.zst looks-like.gz plain.gz >out
cat a.log b.log a.log >want
check "misleading names" cmp -s out want
# Without -d, compressed inputs pass unchanged.
"$PMERGE" a.log.gz >out
check "no -d: bytes unchanged" cmp -s out a.log.gz
# Magic-looking prefixes shorter than a header are plain data.
printf '\x1f\x8b' >short1
printf '\x28\xb5\x2f\xfd' >short2
printf 'BZh9' >short3
"$PMERGE" -d short1 short2 short3 >out
cat short1 short2 short3 >want
check "short magic-looking inputs pass" cmp -s out want

# ------------------------------------------------------ stdin and FIFOs
"$PMERGE" -d <a.log.xz >out
check "stdin (file)" cmp -s out a.log
cat b.log.bz2 | "$PMERGE" -d - >out
check "stdin (pipe)" cmp -s out b.log
cat a.log.lz4 | "$PMERGE" -d a.log.gz - b.log.zst >out
cat a.log a.log b.log >want
check "stdin among files" cmp -s out want
mkfifo fifo1 fifo2
(cat ab.zst >fifo1 &)
(cat c.bin.gz >fifo2 &)
"$PMERGE" -d -j2 fifo1 a.log fifo2 >out
cat a.log b.log a.log c.bin >want
check "FIFOs" cmp -s out want
# A slow pipe: the first byte alone shows it is plain, nothing waits.
{ printf 'first\n'; sleep 1; printf 'second\n'; } |
	"$PMERGE" -d -u line - | head -n 1 >out
check "plain pipe is not held back" test "$(cat out)" = first

# ---------------------------------------- every unit, order, lock, --tag
inputs=(a.log.gz b.log.zst ab.xz a.log.bz2 b.log.lz4 a.log)
cat a.log b.log a.log b.log a.log b.log a.log >ref
sort ref >ref.sorted
for lock in mutex rlock sem:3 spin; do
	for j in 1 4; do
		"$PMERGE" -d -j$j -l $lock "${inputs[@]}" >out
		check "file/input -l $lock -j$j" cmp -s out ref
		"$PMERGE" -d -j$j -l $lock --order=arrival "${inputs[@]}" >out
		sort out | cmp -s - ref.sorted
		check "file/arrival -l $lock -j$j: same lines" test $? -eq 0
		"$PMERGE" -d -j$j -l $lock -u line "${inputs[@]}" | sort >out
		check "line/arrival -l $lock -j$j" cmp -s out ref.sorted
		"$PMERGE" -d -j$j -l $lock -u line --order=input \
			"${inputs[@]}" >out
		check "line/input -l $lock -j$j" cmp -s out ref
		"$PMERGE" -d -j$j -l $lock -o out.file "${inputs[@]}"
		check "-o -l $lock -j$j" cmp -s out.file ref
	done
done
# Arrival order in --unit=file keeps each decoded input whole.
"$PMERGE" -d -j4 --order=arrival a.log.gz b.log.xz c.bin.zst >out
python3 - out a.log b.log c.bin <<'EOF'
import sys
out = open(sys.argv[1], "rb").read()
parts = [open(p, "rb").read() for p in sys.argv[2:]]
for p in parts:
    i = out.find(p)
    if i < 0:
        sys.exit("an input is not whole")
    out = out[:i] + out[i + len(p):]
sys.exit(1 if out else 0)
EOF
check "file/arrival: each input whole" test $? -eq 0
"$PMERGE" -d -u line --order=input --tag a.log.gz b.log.zst >out
{ sed 's/^/a.log.gz\t/' a.log; sed 's/^/b.log.zst\t/' b.log; } >want
check "--tag with -d" cmp -s out want
# Records stay whole under NUL termination too.
tr '\n' '\0' <a.log | gzip -c >nul.gz
"$PMERGE" -d -z -u line --order=input nul.gz >out
tr '\n' '\0' <a.log | cmp -s - out
check "-z with -d" test $? -eq 0

# ------------------------------------------------------------- bad data
for f in "${formats[@]}"; do
	e=${ext[$f]}
	z=a.log.$e
	size=$(stat -c %s "$z")
	head -c $((size - 9)) "$z" >trunc.$e
	{ cat "$z"; printf 'trailing garbage\n'; } >garbage.$e
	python3 - "$z" corrupt.$e <<'EOF'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
d[len(d) // 2] ^= 0xff
open(sys.argv[2], "wb").write(d)
EOF
	for kind in trunc garbage corrupt; do
		name=$kind.$e
		"$PMERGE" -d b.log "$name" one >out 2>err
		st=$?
		check "$name: exit 1" test $st -eq 1
		check "$name: message" grep -q "^pmerge: $name: $f: " err
		check "$name: one line" test "$(wc -l <err)" -eq 1
		# Stdout: the other inputs merged around it.
		python3 - out b.log one <<'EOF'
import sys
out = open(sys.argv[1], "rb").read()
head, tail = open(sys.argv[2], "rb").read(), open(sys.argv[3], "rb").read()
sys.exit(0 if out.startswith(head) and out.endswith(tail) else 1)
EOF
		check "$name: the rest merged to stdout" test $? -eq 0
		# -o: all or nothing.
		printf 'old\n' >target
		"$PMERGE" -d -o target b.log "$name" 2>err
		check "$name -o: exit 1" test $? -eq 1
		check "$name -o: target untouched" test "$(cat target)" = old
		check "$name -o: nothing left behind" \
			test "$(ls -A | grep -c '^\.\?target.')" -eq 0
	done
	# --unit=line too: the same error, the rest merged.
	"$PMERGE" -d -u line --order=input a.log corrupt.$e one >out 2>err
	check "corrupt.$e -u line: exit 1" test $? -eq 1
	check "corrupt.$e -u line: message" grep -q "^pmerge: corrupt.$e: $f: " err
done
# The zstd window cap.
head -c 300000 /dev/urandom | zstd -q -c --long=28 >wide.zst
"$PMERGE" -d wide.zst >out 2>err
check "window cap: exit 1" test $? -eq 1
check "window cap: message" grep -q \
	"^pmerge: wide.zst: zstd: frame needs more memory than allowed" err


# ------------------------------------ decoding ahead, statistics, progress
# Input 0 is a FIFO whose writer waits: the second worker decodes input 1
# before its turn, into an unnamed spill file (in the output's directory,
# or TMPDIR for a pipe), which is copied in at its turn (copy_file_range
# into a file, splice into a pipe) before the rest is decoded.
mkfifo slow
big=(a.log b.log a.log b.log a.log b.log a.log b.log)
cat "${big[@]}" "${big[@]}" | gzip -c >big.gz
{ printf 'first\n'; gzip -dc big.gz; } >want
for into in file pipe; do
	rm -f merged outp
	if [ $into = file ]; then
		"$PMERGE" -d -j2 -o merged slow big.gz 2>err &
	else
		mkfifo outp
		cat outp >merged &
		TMPDIR=$PWD "$PMERGE" -d -j2 slow big.gz 2>err >outp &
	fi
	pid=$!
	exec 7>slow
	spilled=no
	for _ in $(seq 1 100); do
		if ls -l /proc/$pid/fd 2>/dev/null | grep -q "$PWD/#.*(deleted)"; then
			spilled=yes
			break
		fi
		sleep 0.1
	done
	printf 'first\n' >&7
	exec 7>&-
	wait $pid
	check "decoded ahead into a $into: exit 0" test $? -eq 0 -a ! -s err
	wait
	check "decoded ahead into a $into: spilled beside the output" \
		test $spilled = yes
	check "decoded ahead into a $into: output" cmp -s merged want
	check "decoded ahead into a $into: no spill left behind" \
		test "$(ls -A | grep -c '^#')" -eq 0
done
rm -f outp

"$PMERGE" -d --stats=json --stats-file=stats.json -o /dev/null \
	a.log.gz b.log.zst a.log missing 2>/dev/null
python3 - stats.json <<'EOF2'
import json, os, sys
d = json.load(open(sys.argv[1]))["decoded"]
want = [("a.log.gz", "gzip", os.path.getsize("a.log.gz"), os.path.getsize("a.log")),
        ("b.log.zst", "zstd", os.path.getsize("b.log.zst"), os.path.getsize("b.log")),
        ("a.log", "plain", os.path.getsize("a.log"), os.path.getsize("a.log")),
        ("missing", None, 0, 0)]
got = [(e["name"], e["codec"], e["compressed"], e["decoded"]) for e in d]
sys.exit(0 if got == want else "%r != %r" % (got, want))
EOF2
check "--stats=json: compressed and decoded bytes per input" test $? -eq 0
"$PMERGE" -d --stats -o /dev/null a.log.xz 2>stats.txt
check "--stats: a line per input" \
	grep -q "^  input a.log.xz: xz, .* read, .* decoded$" stats.txt
# The progress line counts input bytes: its share never passes 100%.
"$PMERGE" -d --progress=always -o /dev/null big.gz ab.xz a.log 2>prog
python3 - prog <<'EOF2'
import re, sys
shares = [int(m) for m in re.findall(r"\((\d+)%\)", open(sys.argv[1]).read())]
sys.exit(0 if shares and max(shares) <= 100 and shares[-1] == 100 else
         "shares %r" % shares)
EOF2
check "progress: the share stays true" test $? -eq 0

# ------------------------------------------------------ gzip back ends
"$PMERGE" --version >ver
check "--version names the gzip decoder" grep -q '^decoders: gzip (' ver
if [[ -n $no_isal ]]; then
	# A sanitizer runtime would otherwise refuse a preload before it.
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
	LD_PRELOAD=$no_isal "$PMERGE" --version >ver
	check "libisal hidden: zlib" grep -q '^decoders: gzip (zlib)' ver
	for z in a.log.gz ab.gz c.bin.gz empty.gz corrupt.gz; do
		LD_PRELOAD=$no_isal "$PMERGE" -d "$z" >out 2>err
		st=$?
		if [[ $z == corrupt.gz ]]; then
			check "zlib: $z fails" test $st -eq 1
			check "zlib: $z message" grep -q "^pmerge: $z: gzip: " err
		else
			decompress gzip <"$z" >want
			check "zlib: $z" cmp -s out want
		fi
	done
fi
finish
