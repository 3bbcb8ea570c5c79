# The figures the default -j is chosen from (README, "Choosing -j and the
# buffer"): small files with several -j, warm and cold, and the default
# (no -j: $default_jobs workers, of which one more than the processors read
# while nothing waits for the device).
jobs_set() {
	local set=$1 tag=$2 j r best
	local jobs_list=(1 2 3 4 8 16) cmds=() names=("pmerge")
	[[ " ${jobs_list[*]} " == *" $default_jobs "* ]] || jobs_list+=("$default_jobs")
	cmds+=(-n "pmerge" "$PM -o $O/j.out $set/*")
	for j in "${jobs_list[@]}"; do
		cmds+=(-n "pmerge -j $j" "$PM -j $j -o $O/j.out $set/*")
		names+=("pmerge -j $j")
	done
	cmds+=(-n cat "cat $set/* > $O/j-cat.out")
	if [[ $tag == cold ]]; then
		hf "jobs-$set-$tag" --prepare "$cold_prepare" "${cmds[@]}"
	else
		hf "jobs-$set-$tag" "${cmds[@]}"
	fi
	read -r r best < <(python3 "$here/report.py" best "$work/jobs-$set-$tag.json" \
		"${names[@]}")
	# Not a target: what the default is chosen from.
	claim "jobs-$set-$tag" "default -j against the best -j, $set files, $tag" \
		"$r × best ($best)" "–" "info"
	subsection "$set files, $tag cache"
	table "jobs-$set-$tag" "pmerge"
}

bench_jobs() {
	local set tag
	gen small count="$small_count" max=16384
	gen tiny count="$tiny_count"
	section "Choosing -j" \
		"Small files into a regular file (-o, replaced) with several -j, cat beside them; \`pmerge\` is the default: $default_jobs workers, one more than the processors reading while no read waits for the device."
	for set in small tiny; do
		jobs_set "$set" warm
		if $drop_caches; then
			jobs_set "$set" cold
		else
			claim "jobs-$set-cold" "default -j against the best -j, $set files, cold" \
				"–" "–" "skipped ($no_cold_why)"
		fi
	done
	rm -f "$outdir/j.out" "$outdir/j-cat.out"
}
