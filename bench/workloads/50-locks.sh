# The lock strategies: pmerge --bench on the line-mode data, verified.
bench_locks() {
	local locks_ok verified v term
	gen lines count=4 lines="$line_count"
	note "pmerge --bench=$runs on the line-mode workload"
	locks_ok=true
	"$pm" --bench="$runs" --stats=json -j4 -u line lines/* >"$work/locks.json" ||
		locks_ok=false
	[[ -s $work/locks.json ]] || die "pmerge --bench gave no report"
	python3 "$here/report.py" locks "$work/locks.json" "$work/locks.dat" \
		>"$work/locks.md"
	verified=$(tail -n 1 "$work/locks.md")
	[[ $verified == ok ]] || locks_ok=false
	$locks_ok && v=PASS || v=FAIL
	claim locks "every lock strategy verified on the line-mode workload" \
		"$verified" "all ok" "$v"
	section "Lock strategies" \
		"\`pmerge --bench=$runs -j4 -u line\` on the line-mode data: the same merge under each strategy, every run verified, lock figures of the median run."
	sed '$d' "$work/locks.md" >>"$report"
	printf '\n' >>"$report"
	if $have_gnuplot; then
		term=pngcairo
		echo 'set terminal pngcairo' | gnuplot 2>/dev/null || term=png
		gnuplot <<-EOF || die "gnuplot failed"
			set terminal $term size 800,480
			set output '$chart'
			set title "pmerge -u line -j4, 4 x $line_count lines: wall time per lock strategy"
			set ylabel "milliseconds (median, ± sample stddev)"
			set yrange [0:*]
			set style data histogram
			set style histogram errorbars gap 2 lw 1
			set style fill solid 0.6 border -1
			set boxwidth 0.8
			set grid ytics
			unset key
			plot '$work/locks.dat' using 2:3:xtic(1) linecolor rgb "#4472c4"
		EOF
		printf '![lock strategies](%s)\n\n' "$(basename "$chart")" >>"$report"
	else
		printf 'Chart: skipped (gnuplot is not installed).\n\n' >>"$report"
	fi
}
