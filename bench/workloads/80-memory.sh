# Peak memory of every pmerge workload against the bound of jobs × buffer
# plus a constant.
bench_memory() {
	local rss_limit_kib worst worst_name name kib verdict v
	gen big count=2 size="$big_size"
	gen small count="$small_count" max=16384
	gen lines count=4 lines="$line_count"
	gen onerec size="$onerec_size"
	# The bound is jobs × buffer plus a constant: the default -j times 1 MiB of
	# buffers; the rest is the program, libc, libuv and thread stacks in use.
	rss_limit_kib=$((32 * 1024))
	section "Peak memory" \
		"Maximum resident set size from GNU time -v for each pmerge workload (default -j $default_jobs, default buffers: 1 MiB for a file output, 128 KiB for a pipe), against a bound of $((rss_limit_kib / 1024)) MiB; the single-record input is one $(bytes "$onerec_size") line in line mode."
	if $have_time; then
		rss() {
			local name=$1
			shift
			/usr/bin/time -v -o "$work/rss-$name.txt" "$@"
		}
		rss cat-file-to-file cat big1 big2 >"$outdir/m.out"
		rss file-to-file "$pm" -o "$outdir/m.out" big1 big2
		rss file-to-pipe "$pm" big1 big2 | cat >/dev/null
		rss small-files "$pm" -o "$outdir/m.out" small/*
		rss lines-pipe "$pm" -u line lines/* | cat >/dev/null
		rss lines-file "$pm" -u line -o "$outdir/m.out" lines/*
		rss lines-stats "$pm" --stats -u line -o "$outdir/m.out" lines/* 2>/dev/null
		rss single-record "$pm" -u line -o "$outdir/m.out" onerec
		same onerec "$outdir/m.out" "pmerge -u line, single record"
		rm -f "$outdir/m.out"
		printf '| workload | peak RSS | within %s MiB |\n|---|---:|---|\n' \
			"$((rss_limit_kib / 1024))" >>"$report"
		worst=0
		worst_name=
		for name in cat-file-to-file file-to-file file-to-pipe small-files \
			lines-pipe lines-file lines-stats single-record; do
			kib=$(python3 "$here/report.py" rss "$work/rss-$name.txt")
			if [[ $name == cat-* ]]; then
				verdict="(reference)"
			elif ((kib <= rss_limit_kib)); then
				verdict=yes
			else
				verdict=NO
			fi
			if [[ $name != cat-* ]] && ((kib > worst)); then
				worst=$kib
				worst_name=$name
			fi
			printf '| %s | %s KiB | %s |\n' "$name" "$kib" "$verdict" >>"$report"
		done
		printf '\n' >>"$report"
		((worst <= rss_limit_kib)) && v=PASS || v=FAIL
		claim memory "peak RSS bounded whatever the input sizes and line lengths" \
			"$worst KiB ($worst_name)" "≤ $((rss_limit_kib / 1024)) MiB" "$v"
	else
		claim memory "peak RSS bounded" "–" "≤ $((rss_limit_kib / 1024)) MiB" \
			"skipped (/usr/bin/time is not installed)"
		printf 'Skipped: /usr/bin/time is not installed (Debian package "time").\n\n' \
			>>"$report"
	fi
}
