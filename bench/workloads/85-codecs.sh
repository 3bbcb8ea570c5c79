# Compressed data: -d on rotated logs against each format's own decoder
# (and the parallel ways of running it), -Z against gzip -6 and zstd -3,
# into a pipe and into a file on the disk, with the peak memory of each.
bench_codecs() {
	local n=8 size=$((40 * 1000 * 1000)) i f d=$data/codecs
	$smoke && size=$((1000 * 1000))
	mkdir -p "$d"
	if [[ ! -f $d/app.log.$n.gz || $(stat -c %s "$d/base.log") -lt $size ]]; then
		python3 - "$d/base.log" "$size" <<'PY'
import random, sys
r = random.Random(13)
paths = ["/api/v1/users", "/api/v1/orders", "/static/app.js", "/login", "/health"]
with open(sys.argv[1], "w") as f:
    t = 0
    while f.tell() < int(sys.argv[2]):
        t += r.randrange(1, 40)
        f.write("2026-11-%02dT%02d:%02d:%02d.%03dZ web-%d nginx[%d]: %s %s %d %dms ua=%s\n" % (
            1 + t // 86400000 % 28, t // 3600000 % 24, t // 60000 % 60,
            t // 1000 % 60, t % 1000, r.randrange(8), r.randrange(1000, 9999),
            r.choice(["GET", "POST", "PUT"]), r.choice(paths),
            r.choice([200, 200, 200, 304, 404, 500]), r.randrange(1, 900),
            "%08x" % r.getrandbits(32)))
PY
		for i in $(seq 1 $n); do
			sed "s/^2026-11-/2026-$((i % 12 + 1))-/" "$d/base.log" >"$d/app.log.$i"
			gzip -6 -c "$d/app.log.$i" >"$d/app.log.$i.gz"
		done
		for i in 1 2 3 4; do
			zstd -q -3 -c "$d/app.log.$i" >"$d/app.log.$i.zst"
			xz -1 -T1 -c "$d/app.log.$i" >"$d/app.log.$i.xz"
			bzip2 -c "$d/app.log.$i" >"$d/app.log.$i.bz2"
			lz4 -q -c "$d/app.log.$i" >"$d/app.log.$i.lz4"
		done
		# A rotated set as logrotate leaves it: plain, then compressed.
		cp "$d/app.log.1" "$d/mixed.log"
		cp "$d/app.log.2" "$d/mixed.log.1"
		cp "$d/app.log.3.gz" "$d/mixed.log.2.gz"
		cp "$d/app.log.4.zst" "$d/mixed.log.3.zst"
		cp "$d/app.log.1.xz" "$d/mixed.log.4.xz"
		cp "$d/app.log.2.lz4" "$d/mixed.log.5.lz4"
	fi
	local D G Z
	D=$(q "$d")
	G=$(for i in $(seq 1 $n); do printf '%s ' "$D/app.log.$i.gz"; done)
	local mixed="$D/mixed.log.5.lz4 $D/mixed.log.4.xz $D/mixed.log.3.zst $D/mixed.log.2.gz $D/mixed.log.1 $D/mixed.log"
	cat $(for i in $(seq 1 $n); do printf '%s ' "$d/app.log.$i"; done) >"$outdir/codecs.ref"

	section "Compressed data (-d, -Z)" \
		"$n rotated gzip logs (gzip -6) of $(bytes "$size") each decoded (nginx-like lines), page cache warm; the zstd (-3), xz (-1), bzip2 (-9) and lz4 sets are the first 4 of them; the mixed set is the rotated series plain, plain, .gz, .zst, .xz, .lz4. Into a pipe: \`| cat >/dev/null\`; into a file: on the disk, replacing the previous output. pmerge runs with its defaults (the default -j). **The machine was loaded** by other work while these ran: the ratios are side by side in one run, the absolute times are not comparable with other sections."

	hf codecs-gzip-pipe \
		-n zcat "zcat $G | cat >/dev/null" \
		-n "igzip -dc" "igzip -dc $G | cat >/dev/null" \
		-n "pigz -dc" "pigz -dc $G | cat >/dev/null" \
		-n "parallel -k -j2 zcat" "parallel -k -j2 zcat ::: $G | cat >/dev/null" \
		-n "pmerge -d" "$PM -d $G | cat >/dev/null"
	hf codecs-gzip-file \
		-n zcat "zcat $G > $O/codecs.out" \
		-n "igzip -dc" "igzip -dc $G > $O/codecs.out" \
		-n "pigz -dc" "pigz -dc $G > $O/codecs.out" \
		-n "pmerge -d -o" "$PM -d -o $O/codecs.out $G"
	"$pm" -d -o "$outdir/codecs.out" $(for i in $(seq 1 $n); do printf '%s ' "$d/app.log.$i.gz"; done)
	same "$outdir/codecs.out" "$outdir/codecs.ref" "pmerge -d (gzip set)"
	ratio_claim codecs-gz-pipe "-d on 8 rotated .gz logs into a pipe: ≤ 0.2 × zcat" codecs-gzip-pipe "pmerge -d" zcat 0.2
	ratio_claim codecs-gz-pipe-isal "-d on 8 rotated .gz logs into a pipe: ≤ 0.6 × igzip -dc" codecs-gzip-pipe "pmerge -d" "igzip -dc" 0.6
	ratio_claim codecs-gz-file "-d on 8 rotated .gz logs into a file: ≤ 0.2 × zcat" codecs-gzip-file "pmerge -d -o" zcat 0.2
	ratio_claim codecs-gz-file-isal "-d on 8 rotated .gz logs into a file: ≤ 0.6 × igzip -dc" codecs-gzip-file "pmerge -d -o" "igzip -dc" 0.6
	subsection "8 rotated .gz logs into a pipe"
	table codecs-gzip-pipe zcat
	subsection "8 rotated .gz logs into a file on the disk"
	table codecs-gzip-file zcat

	local fmt tool
	for fmt in zst:zstdcat xz:xzcat bz2:bzcat lz4:lz4cat; do
		f=${fmt%%:*}
		tool=${fmt#*:}
		Z="$D/app.log.1.$f $D/app.log.2.$f $D/app.log.3.$f $D/app.log.4.$f"
		local cat4=$tool
		[[ $tool == lz4cat ]] && cat4="lz4 -dc -m"
		hf "codecs-$f" \
			-n "$tool" "$cat4 $Z | cat >/dev/null" \
			-n "pmerge -d" "$PM -d $Z | cat >/dev/null"
		"$pm" -d "$d/app.log."{1,2,3,4}".$f" >"$outdir/codecs.out"
		cat "$d/app.log."{1,2,3,4} >"$outdir/codecs.ref4"
		same "$outdir/codecs.out" "$outdir/codecs.ref4" "pmerge -d ($f set)"
		info_claim "codecs-$f" "-d on 4 .$f logs into a pipe, against $tool" "codecs-$f" "pmerge -d" "$tool"
		subsection "4 .$f logs into a pipe"
		table "codecs-$f" "$tool"
	done
	hf codecs-mixed \
		-n "zstdcat -f" "zstdcat -f $mixed | cat >/dev/null" \
		-n "pmerge -d" "$PM -d $mixed | cat >/dev/null"
	info_claim codecs-mixed "-d on a mixed rotated set into a pipe, against zstdcat -f" codecs-mixed "pmerge -d" "zstdcat -f"
	subsection "A mixed rotated set (plain, .gz, .zst, .xz, .lz4) into a pipe"
	table codecs-mixed "zstdcat -f"

	# -Z: the same merge compressed, against the single-threaded tools.
	local R=$(q "$outdir/codecs.ref")
	hf codecs-zgzip \
		-n "gzip -6" "gzip -6 -c $R > $O/codecs.z" \
		-n "pigz -6" "pigz -6 -c $R > $O/codecs.z" \
		-n "pmerge -Z gzip" "$PM -Z gzip -o $O/codecs.z $R"
	hf codecs-zzstd \
		-n "zstd -3 -T1" "zstd -q -3 -T1 -c $R > $O/codecs.z" \
		-n "pmerge -Z zstd" "$PM -Z zstd -o $O/codecs.z $R"
	local gz_size pz_size zs_size pzs_size
	gzip -6 -c "$outdir/codecs.ref" | wc -c >"$work/gz.size"
	"$pm" -Z gzip "$outdir/codecs.ref" | tee >(wc -c >"$work/pgz.size") | gzip -dc | cmp -s - "$outdir/codecs.ref" ||
		die "pmerge -Z gzip: round trip differs"
	zstd -q -3 -T1 -c "$outdir/codecs.ref" | wc -c >"$work/zs.size"
	"$pm" -Z zstd "$outdir/codecs.ref" | tee >(wc -c >"$work/pzs.size") | zstd -dc | cmp -s - "$outdir/codecs.ref" ||
		die "pmerge -Z zstd: round trip differs"
	sleep 1
	gz_size=$(cat "$work/gz.size")
	pz_size=$(cat "$work/pgz.size")
	zs_size=$(cat "$work/zs.size")
	pzs_size=$(cat "$work/pzs.size")
	ratio_claim codecs-zgzip "-Z gzip: ≥ 1.8 × as fast as gzip -6 (≤ 0.556 × its time)" codecs-zgzip "pmerge -Z gzip" "gzip -6" 0.556
	ratio_claim codecs-zzstd "-Z zstd: ≥ 1.6 × as fast as zstd -3 -T1 (≤ 0.625 × its time)" codecs-zzstd "pmerge -Z zstd" "zstd -3 -T1" 0.625
	local v
	v=$(python3 -c "print('met' if $pz_size <= 1.02 * $gz_size else 'not met')")
	claim codecs-zgzip-size "-Z gzip output within 2 % of gzip -6" "$pz_size B vs $gz_size B ($(python3 -c "print('%+.2f %%' % (100.0 * $pz_size / $gz_size - 100))"))" "≤ +2 %" "$v"
	v=$(python3 -c "print('met' if $pzs_size <= 1.02 * $zs_size else 'not met')")
	claim codecs-zzstd-size "-Z zstd output within 2 % of zstd -3 -T1" "$pzs_size B vs $zs_size B ($(python3 -c "print('%+.2f %%' % (100.0 * $pzs_size / $zs_size - 100))"))" "≤ +2 %" "$v"
	subsection "-Z gzip: the 8 logs merged, compressed into a file"
	table codecs-zgzip "gzip -6"
	subsection "-Z zstd: the same"
	table codecs-zzstd "zstd -3 -T1"

	if $have_time; then
		local name kib worst=0
		/usr/bin/time -v -o "$work/rss-d-gz.txt" "$pm" -d $(for i in $(seq 1 $n); do printf '%s ' "$d/app.log.$i.gz"; done) | cat >/dev/null
		/usr/bin/time -v -o "$work/rss-d-mixed.txt" "$pm" -d "$d"/mixed.log* | cat >/dev/null
		/usr/bin/time -v -o "$work/rss-d-file.txt" "$pm" -d -o "$outdir/codecs.out" "$d"/app.log.*.gz
		/usr/bin/time -v -o "$work/rss-z-gzip.txt" "$pm" -Z gzip -o "$outdir/codecs.z" "$outdir/codecs.ref"
		/usr/bin/time -v -o "$work/rss-z-zstd.txt" "$pm" -Z zstd -o "$outdir/codecs.z" "$outdir/codecs.ref"
		printf '| workload | peak RSS |\n|---|---:|\n' >>"$report"
		for name in d-gz d-mixed d-file z-gzip z-zstd; do
			kib=$(python3 "$here/report.py" rss "$work/rss-$name.txt")
			((kib > worst)) && worst=$kib
			printf '| %s | %s KiB |\n' "$name" "$kib" >>"$report"
		done
		printf '\n' >>"$report"
		claim codecs-rss "peak RSS of -d and -Z runs" "$worst KiB" "≤ 65536 KiB" \
			"$( ((worst <= 65536)) && echo met || echo 'not met')"
	fi
	rm -f "$outdir/codecs.out" "$outdir/codecs.ref" "$outdir/codecs.ref4" "$outdir/codecs.z"
}
