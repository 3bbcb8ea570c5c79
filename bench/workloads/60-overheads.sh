# What --progress=always and --stats cost, in CPU time (user + system):
# wall time on a shared machine is too noisy to see 1 %.
bench_overheads() {
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
	cpu stats-small \
		-n plain "$PM -o $O/s.out small/*" \
		-n stats "$PM --stats -o $O/s.out small/* 2>/dev/null"
	rm -f "$outdir/p.out" "$outdir/s.out"
	cpu_claim progress-big "--progress=always costs at most 1 % CPU: large files" \
		progress-big always never 1.01
	cpu_claim progress-small "--progress=always costs at most 1 % CPU: small files" \
		progress-small always never 1.01
	cpu_claim stats-lines "--stats (hold-time histograms) costs at most 2 % CPU: line mode" \
		stats-lines stats plain 1.02
	cpu_claim stats-small "--stats (hold-time histograms) costs at most 2 % CPU: small files" \
		stats-small stats plain 1.02
	section "Progress and statistics overhead" \
		"CPU time (user + system of pmerge, from wait4) over $cpu_runs runs of each command, the commands interleaved so that a change in the machine's load touches both alike; outputs on the disk, page cache warm. --progress=always prints one line a second on a non-terminal; --stats times every hold of the lock, without it only contended waits are timed."
	subsection "--progress, large files"
	cpu_table progress-big never
	subsection "--progress, small files"
	cpu_table progress-small never
	subsection "--stats, line mode"
	cpu_table stats-lines plain
	subsection "--stats, small files"
	cpu_table stats-small plain
}
