# Many small files, warm and cold, into a replaced -o file and into a
# redirected standard output: the per-file costs.
small_set() {
	local set=$1 what=$2 count=$3 tag cmds max
	section "Many small files: $set" \
		"$count files of $what ($(bytes "$(cat "$set"/* | wc -c)")) on the disk, into a regular file (replacing it) with \`-o\` and through a redirected standard output, with the page cache warm and, where the machine lets us drop it, cold (dropped before every run)."
	cmds=(-n cat "cat $set/* > $O/$set-cat.out"
		-n "pmerge -o" "$PM -o $O/$set-pm.out $set/*"
		-n "pmerge >" "$PM $set/* > $O/$set-pm2.out")
	for tag in warm cold; do
		if [[ $tag == cold ]] && ! $drop_caches; then
			claim "$set-cold" "$count $set files, cold cache" "–" "≤ 0.5 ×" "skipped ($no_cold_why)"
			printf '**Cold cache**: skipped (%s).\n\n' "$no_cold_why" >>"$report"
			continue
		fi
		if [[ $tag == cold ]]; then
			hf "$set-$tag" --prepare "$cold_prepare" "${cmds[@]}"
			max=0.5
		else
			hf "$set-$tag" "${cmds[@]}"
			max=0.6
		fi
		same "$outdir/$set-cat.out" "$outdir/$set-pm.out" "$set files, pmerge -o"
		same "$outdir/$set-cat.out" "$outdir/$set-pm2.out" "$set files, pmerge >"
		ratio_claim "$set-$tag-file" "$count $set files into a file (-o), $tag cache" \
			"$set-$tag" "pmerge -o" cat "$max"
		ratio_claim "$set-$tag-stdout" "$count $set files into redirected stdout, $tag cache" \
			"$set-$tag" "pmerge >" cat "$max"
		subsection "${tag^} cache"
		table "$set-$tag" cat
	done
	rm -f "$outdir/$set"-*.out
}

bench_small_files() {
	gen small count="$small_count" max=16384
	gen tiny count="$tiny_count"
	small_set small "0–16 KiB" "$small_count"
	small_set tiny "20–30 bytes of text" "$tiny_count"
}
