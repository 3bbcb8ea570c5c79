# Large files into a regular file, on every file system of --fs: into a
# fresh file, and replacing an existing one (the common case: a merge run
# again), against cat and the other tools that write a whole output before
# it replaces FILE.
bench_file_to_file() {
	local fs d D fsync=false
	gen big count=2 size="$big_size"
	need_fs
	[[ $("$pm" --help) == *--fsync* ]] && fsync=true
	section "Large files into a regular file" \
		"2 × $(bytes "$big_size") of random data, page cache warm, a sync before every run. *Fresh*: the output is removed (and synced) before each run. *Replace*: the output exists (the previous run's, of the same size) and is replaced. cat 9.x and pmerge use copy_file_range; \`sponge\` (moreutils) and \`sort -m -o\` also write their whole output before they touch FILE (sort -m merges the inputs as lines: the same bytes, another order). *pmerge -o --fsync* flushes the data and then the directory before it exits (crash-safe); *cat + sync* is cat followed by \`sync\` of the file. On XFS and btrfs, copy_file_range within one file system shares the blocks (a reflink), so cat and pmerge copy no data there and may be too fast for hyperfine to time (–)."
	for fs in "${fs_list[@]}"; do
		d=$(fs_dir "$fs")
		D=$(q "$d")
		big_inputs "$fs"
		hf "fresh-$fs" \
			--prepare "rm -f $D/out; sync" -n cat "cat $B1 $B2 > $D/out" \
			--prepare "rm -f $D/out; sync" -n "pmerge -o" "$PM -o $D/out $B1 $B2"
		cat "$data/big1" "$data/big2" >"$d/out"
		local cmds=(
			-n cat "cat $B1 $B2 > $D/out"
			-n pv "pv -q $B1 $B2 > $D/out"
			-n "pmerge >" "$PM $B1 $B2 > $D/out"
			-n "pmerge -o" "$PM -o $D/out $B1 $B2"
			-n sponge "cat $B1 $B2 | sponge $D/out"
			-n "sort -m -o" "LC_ALL=C sort -m -o $D/out $B1 $B2"
		)
		if $fsync; then
			cmds+=(-n "cat + sync" "cat $B1 $B2 > $D/out && sync $D/out"
				-n "pmerge -o --fsync" "$PM --fsync -o $D/out $B1 $B2")
		fi
		hf "replace-$fs" "${cmds[@]}"
		"$pm" -o "$d/out" "$data/big1" "$data/big2"
		cmp -s "$d/out" <(cat "$data/big1" "$data/big2") ||
			die "pmerge -o on $fs: output differs"
		rm -f "$d/out"
		ratio_claim "replace-$fs" "2 large files replacing an existing file on $fs: as fast as cat" \
			"replace-$fs" "pmerge -o" cat 1.00
		if $fsync; then
			info_claim "fsync-$fs" "--fsync (data, then the directory, on stable storage) replacing 2 large files on $fs" \
				"replace-$fs" "pmerge -o --fsync" "pmerge -o"
			info_claim "fsync-cat-$fs" "pmerge -o --fsync against cat and sync of the file on $fs" \
				"replace-$fs" "pmerge -o --fsync" "cat + sync"
		fi
		ratio_claim "fresh-$fs" "2 large files into a fresh file on $fs: within 5% of cat" \
			"fresh-$fs" "pmerge -o" cat 1.05
		subsection "On $(fs_where "$fs"): fresh output"
		table "fresh-$fs" cat
		subsection "On $(fs_where "$fs"): replacing an existing output"
		table "replace-$fs" cat
	done
}
