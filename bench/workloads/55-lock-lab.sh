# The lock laboratory: every strategy at several -j, from pmerge's own
# hyperfine-format export, with the fairness of each; charted when
# matplotlib is there.
bench_lock_lab() {
	local jobs verified v ok lab_chart
	gen lines count=4 lines="$line_count"
	# Each input twice: eight inputs, so that up to eight workers contend.
	jobs=1,2,4,8
	$smoke && jobs=1,2
	lab_chart=${chart%lock-strategies.png}lock-lab.png
	note "pmerge --bench=$runs --bench-jobs=$jobs on the line-mode workload"
	ok=true
	"$pm" --bench="$runs" --bench-jobs="$jobs" --stats=json -u line -B 64K \
		--export-json="$work/lock-lab-export.json" \
		--export-markdown="$work/lock-lab-hf.md" \
		lines/* lines/* >"$work/lock-lab.json" || ok=false
	[[ -s $work/lock-lab.json && -s $work/lock-lab-export.json ]] ||
		die "pmerge --bench --export-json gave no results"
	if python3 -c 'import matplotlib' 2>/dev/null; then
		python3 "$here/report.py" locklab "$work/lock-lab-export.json" \
			"$work/lock-lab.json" "$lab_chart" >"$work/lock-lab.md"
	else
		lab_chart=
		python3 "$here/report.py" locklab "$work/lock-lab-export.json" \
			"$work/lock-lab.json" - >"$work/lock-lab.md"
	fi
	verified=$(tail -n 1 "$work/lock-lab.md")
	[[ $verified == ok ]] || ok=false
	$ok && v=PASS || v=FAIL
	claim lock-lab "every lock strategy verified at -j $jobs" \
		"$verified" "all ok" "$v"
	section "Lock laboratory" \
		"\`pmerge --bench=$runs --bench-jobs=$jobs -u line -B 64K\` on the line-mode data given twice (eight inputs; 64 KiB buffers, so that the lock is taken often): median wall time and Jain's fairness index over the workers' acquisitions (median run), from pmerge's \`--export-json\` and \`--stats=json\`."
	sed '$d' "$work/lock-lab.md" >>"$report"
	printf '\n' >>"$report"
	if [[ -n $lab_chart ]]; then
		printf '![lock laboratory](%s)\n\n' "$(basename "$lab_chart")" >>"$report"
	else
		printf 'Chart: skipped (python3 has no matplotlib).\n\n' >>"$report"
	fi
}
