# What --progress=always and --stats cost, in CPU time (user + system):
# wall time on a shared machine is too noisy to see 1 %.  Twice the usual
# runs, and each ratio with its confidence interval, because the targets
# (1 %, 2 %) are as small as the spread between runs.
bench_overheads() {
	local cpu_runs=$((cpu_runs * 2))
	gen big count=2 size="$big_size"
	gen small count="$small_count" max=16384
	gen lines count=4 lines="$line_count"
	cpu progress-big \
		-n never "$PM --progress=never -o $O/p.out big1 big2" \
		-n always "$PM --progress=always -o $O/p.out big1 big2"
	cpu progress-small \
		-n never "$PM --progress=never -o $O/p.out small/*" \
		-n always "$PM --progress=always -o $O/p.out small/*"
	cpu stats-lines \
		-n plain "$PM -u line -o $O/s.out lines/*" \
		-n stats "$PM --stats -u line -o $O/s.out lines/* 2>/dev/null"
	cpu stats-lines-tag \
		-n plain "$PM --tag -u line -o $O/s.out lines/*" \
		-n stats "$PM --stats --tag -u line -o $O/s.out lines/* 2>/dev/null"
	cpu stats-small \
		-n plain "$PM -o $O/s.out small/*" \
		-n stats "$PM --stats -o $O/s.out small/* 2>/dev/null"
	rm -f "$outdir/p.out" "$outdir/s.out"
	cpu_claim progress-big "--progress=always costs at most 1 % CPU: large files" \
		progress-big always never 1.01
	cpu_claim progress-small "--progress=always costs at most 1 % CPU: small files" \
		progress-small always never 1.01
	cpu_claim stats-lines "--stats (hold-time histograms and the record count) costs at most 2 % CPU: line mode" \
		stats-lines stats plain 1.02
	cpu_claim stats-lines-tag "--stats (hold-time histograms) costs at most 2 % CPU: line mode, records read either way (--tag)" \
		stats-lines-tag stats plain 1.02
	cpu_claim stats-small "--stats (hold-time histograms) costs at most 2 % CPU: small files" \
		stats-small stats plain 1.02
	section "Progress and statistics overhead" \
		"CPU time (user + system of pmerge, from wait4) over $cpu_runs runs of each command, the commands interleaved so that a change in the machine's load touches both alike; outputs on the disk, page cache warm. --progress=always prints one line a second on a non-terminal; --stats times every hold of the lock, without it only contended waits are timed; in line mode it also counts the records, so that plain regular inputs, which otherwise go to the output unread, are read (with --tag they are read either way, which leaves the statistics alone in the difference)."
	subsection "--progress, large files"
	cpu_table progress-big never
	subsection "--progress, small files"
	cpu_table progress-small never
	subsection "--stats, line mode"
	cpu_table stats-lines plain
	subsection "--stats, line mode with --tag"
	cpu_table stats-lines-tag plain
	subsection "--stats, small files"
	cpu_table stats-small plain
}
