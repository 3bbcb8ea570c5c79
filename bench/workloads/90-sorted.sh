# The sorted merge (-m): against LC_ALL=C sort -m -s on sorted text, on
# gzip-compressed inputs (-d), and --by-time on host logs against lnav -n
# and sort -m -k1,1; peak memory with 10,000 inputs under ulimit -n 256.
bench_sorted() {
	local size many_size log_size huge_size f gz_list kib
	if $smoke; then
		size=$((1 << 20))
		many_size=$((8 << 10))
		log_size=$((1 << 20))
		huge_size=256
	else
		size=$((30 << 20))
		many_size=$((1 << 20))
		log_size=$((30 << 20))
		huge_size=4096
	fi
	gen sorted count=8 size="$size"
	gen sortedmany count=256 size="$many_size"
	gen sortedhuge count=10000 size="$huge_size"
	gen timelogs count=8 size="$log_size"

	hf sorted-8 \
		-n "sort -m -s" "LC_ALL=C sort -m -s sorted8/* > $O/sorted-sort.out" \
		-n "pmerge -m" "$PM -m -o $O/sorted-pmerge.out sorted8/*"
	same "$outdir/sorted-sort.out" "$outdir/sorted-pmerge.out" "pmerge -m, 8 inputs"
	ratio_claim sorted-8 "8 sorted inputs of $(bytes "$size"): 0.55 × sort -m -s" \
		sorted-8 "pmerge -m" "sort -m -s" 0.55

	hf sorted-256 \
		-n "sort -m -s" "LC_ALL=C sort -m -s sorted256/* > $O/sorted-sort.out" \
		-n "pmerge -m" "$PM -m -o $O/sorted-pmerge.out sorted256/*"
	same "$outdir/sorted-sort.out" "$outdir/sorted-pmerge.out" "pmerge -m, 256 inputs"
	ratio_claim sorted-256 "256 sorted inputs of $(bytes "$many_size"): 0.36 × sort -m -s" \
		sorted-256 "pmerge -m" "sort -m -s" 0.36

	if "$pm" --help | grep -q -- '--decompress'; then
		mkdir -p sortedgz
		gz_list=
		for f in sorted8/*; do
			[[ -e sortedgz/${f##*/}.gz ]] || gzip -c "$f" >"sortedgz/${f##*/}.gz"
			gz_list+=" <(zcat sortedgz/${f##*/}.gz)"
		done
		hf sorted-gz \
			-n "sort -m -s <(zcat)" \
			"bash -c 'LC_ALL=C sort -m -s $gz_list > $O/sorted-sort.out'" \
			-n "pmerge -m -d" "$PM -m -d -o $O/sorted-pmerge.out sortedgz/*.gz"
		same "$outdir/sorted-sort.out" "$outdir/sorted-pmerge.out" "pmerge -m -d"
		ratio_claim sorted-gz "8 gzip inputs with -d: 0.45 × sort -m -s <(zcat …)" \
			sorted-gz "pmerge -m -d" "sort -m -s <(zcat)" 0.45
	else
		claim sorted-gz "8 gzip inputs with -d: 0.45 × sort -m -s <(zcat …)" "–" \
			"≤ 0.45 ×" "not measured: this pmerge has no -d"
	fi

	hf sorted-by-time \
		-n "lnav -n" "lnav -n timelogs/*.log > $O/bytime-lnav.out" \
		-n "sort -m (key: field 1)" "LC_ALL=C sort -m -k1,1 timelogs/*.log > $O/bytime-sort.out" \
		-n "pmerge -m --by-time" "$PM -m --by-time -o $O/bytime-pmerge.out timelogs/*.log"
	same_lines "$outdir/bytime-lnav.out" "$outdir/bytime-pmerge.out" "pmerge --by-time against lnav"
	same_lines "$outdir/bytime-sort.out" "$outdir/bytime-pmerge.out" "pmerge --by-time against sort"
	ratio_claim sorted-by-time-lnav "--by-time on 8 host logs: 20 × faster than lnav -n" \
		sorted-by-time "pmerge -m --by-time" "lnav -n" 0.05
	info_claim sorted-by-time-sort "--by-time on 8 host logs against sort -m -k1,1 (which tears stack traces)" \
		sorted-by-time "pmerge -m --by-time" "sort -m (key: field 1)"
	rm -f "$outdir"/sorted-*.out "$outdir"/bytime-*.out

	if $have_time; then
		/usr/bin/time -v -o "$work/rss-sorted-huge.txt" \
			bash -c "ulimit -n 256 && exec $PM -m -o $O/sorted-huge.out sorted10000/*"
		LC_ALL=C sort -m -s sorted10000/* >"$outdir/sorted-huge-sort.out"
		same "$outdir/sorted-huge-sort.out" "$outdir/sorted-huge.out" "pmerge -m, 10,000 inputs"
		rm -f "$outdir"/sorted-huge*.out
		kib=$(python3 "$here/report.py" rss "$work/rss-sorted-huge.txt")
		claim sorted-memory "peak RSS, 10,000 sorted inputs under ulimit -n 256" \
			"$kib KiB" "–" "info"
	else
		claim sorted-memory "peak RSS, 10,000 sorted inputs" "–" "–" \
			"skipped (/usr/bin/time is not installed)"
	fi

	section "Sorted merge" \
		"\`pmerge -m\` against \`LC_ALL=C sort -m -s\` (identical output required) on 8 inputs of $(bytes "$size") and 256 inputs of $(bytes "$many_size") of sorted text lines of 10–90 bytes, on the disk, page cache warm; \`--by-time\` on 8 host logs of $(bytes "$log_size") (ISO 8601 stamps in milliseconds, one record in 50 with a stack trace) against \`lnav -n\` and \`sort -m -k1,1\` (same lines required: sort tears the traces, lnav may order equal instants otherwise)."
	subsection "8 inputs"
	table sorted-8 "sort -m -s"
	subsection "256 inputs"
	table sorted-256 "sort -m -s"
	if [[ -e $work/sorted-gz.json ]]; then
		subsection "8 gzip inputs"
		table sorted-gz "sort -m -s <(zcat)"
	fi
	subsection "By time"
	table sorted-by-time "lnav -n"
}
