# -F: the latency from a write to a followed file to pmerge's output, the
# CPU time per 1,000 lines, and the CPU time while 1,000 files stay quiet,
# each against tail -F driven alike.  bench/pmlatency (built by meson
# beside the binary) writes the lines, reads the follower's output, and
# fails the run on a line lost, repeated, torn or fused.
bench_follow() {
	local lat=${PMLATENCY:-$(dirname "$pm")/../bench/pmlatency}
	local dir=$outdir/follow runs=3 idle_runs=2 files=200 rate=1000
	local secs=10 idle_files=1000 i name p50 p99 tp50 tp99 cpu tcpu idle
	local tidle poll v
	[[ -x $lat ]] || die "$lat: no bench/pmlatency (build it, or set PMLATENCY)"
	if $smoke; then
		runs=1 idle_runs=1 files=20 rate=200 secs=2 idle_files=50
	fi
	mkdir -p "$dir"
	# One run of the driver: follow NAME CASE I DRIVER-OPTIONS -- COMMAND.
	follow() {
		local name=$1 kind=$2 i=$3
		shift 3
		note "follow: $kind $name ($i)"
		rm -f "$dir"/f*
		sync
		(ulimit -n 4096 && "$lat" -d "$dir" \
			-o "$work/follow-$kind-$name-$i.json" "$@") ||
			die "follow: $kind run of $name failed"
	}
	for ((i = 1; i <= runs; i++)); do
		follow pmerge lat "$i" -n "$files" -r "$rate" -s "$secs" \
			-- "$pm" -F -q
		follow tail lat "$i" -n "$files" -r "$rate" -s "$secs" \
			-- tail -q -F
	done
	for ((i = 1; i <= idle_runs; i++)); do
		follow pmerge idle "$i" -n "$idle_files" -r 0 -s "$secs" \
			-- "$pm" -F -q
		follow pmerge-poll10 idle "$i" -n "$idle_files" -r 0 \
			-s "$secs" -- "$pm" -F -q --poll-interval=10
		follow tail idle "$i" -n "$idle_files" -r 0 -s "$secs" \
			-- tail -q -F
	done
	rm -rf "$dir"
	get() { python3 "$here/report.py" follow get "$1" "$work/follow-$2" "$3"; }
	p50=$(get p50 lat pmerge)
	p99=$(get p99 lat pmerge)
	tp50=$(get p50 lat tail)
	tp99=$(get p99 lat tail)
	cpu=$(get cpu1k lat pmerge)
	tcpu=$(get cpu1k lat tail)
	idle=$(get idle idle pmerge)
	poll=$(get idle idle pmerge-poll10)
	tidle=$(get idle idle tail)
	v=$(python3 -c 'import sys; print("PASS" if float(sys.argv[1]) <= 5 else "FAIL")' "$p99")
	claim follow-p99 "-F: p99 latency from write to output, $rate lines/s over $files files" \
		"$p99 ms (tail -F: $tp99 ms)" "≤ 5 ms" "$v"
	claim follow-p50 "-F: p50 latency from write to output, $rate lines/s over $files files" \
		"$p50 ms (tail -F: $tp50 ms)" "–" info
	claim follow-cpu "-F: CPU time per 1,000 lines, $rate lines/s over $files files" \
		"$cpu ms (tail -F: $tcpu ms; $(python3 -c 'import sys; print(f"{float(sys.argv[1]) / float(sys.argv[2]):.2f}")' "$cpu" "$tcpu") ×)" "–" info
	v=$(python3 -c 'import sys; print("PASS" if float(sys.argv[1]) <= 5 else "FAIL")' "$idle")
	claim follow-idle "-F: idle CPU with $idle_files quiet files (near zero: no busy loop)" \
		"$idle ms/s (--poll-interval=10: $poll ms/s; tail -F: $tidle ms/s)" \
		"≤ 5 ms/s (0.5 % of a core)" "$v"
	section "Following files (-F)" \
		"bench/pmlatency makes $files empty files on the disk, starts the follower on them (\`pmerge -F -q\`, \`tail -q -F\`; both learn of changes through inotify), appends one line to each and waits for all, then appends $rate lines a second for $secs s to the files in turn (one O_APPEND write of 100 bytes a line, each carrying its CLOCK_MONOTONIC write time) and reads the follower's output from a pipe: the latency of a line is from just before its write to its read. Every line must come out exactly once and whole, or the run fails. Runs of each follower: $runs, interleaved; the latencies of all runs are pooled. CPU time is the follower's, all threads, user + system (its process CPU clock), from the first timed write to the last line read. \"Writer behind\" is the worst delay of a write after its due time (the machine's load)."
	subsection "Latency and CPU time per 1,000 lines"
	python3 "$here/report.py" follow table "$work/follow-lat" pmerge tail >>"$report"
	printf '\n' >>"$report"
	section "Following quiet files (-F, idle)" \
		"The same driver on $idle_files files (under \`ulimit -n 4096\`): one line to each, then nothing for $secs s, during which the follower's CPU time is measured. tail -F sleeps in a read of its inotify descriptor; pmerge waits in epoll_wait and, every --poll-interval (default 1 s), stats every name and its open file and reads from its end: the fallback for file systems that send no events (NFS, FUSE) and for changes the events miss. That poll is what its idle CPU time is, and it falls with a longer --poll-interval. Runs of each: $idle_runs, interleaved."
	python3 "$here/report.py" follow table "$work/follow-idle" pmerge pmerge-poll10 tail >>"$report"
	printf '\n' >>"$report"
}
