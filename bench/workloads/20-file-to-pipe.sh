# Large files into a pipe: splice against cat's read/write and pv's splice.
bench_file_to_pipe() {
	gen big count=2 size="$big_size"
	hf file-to-pipe \
		-n cat "cat big1 big2 | cat > /dev/null" \
		-n pv "pv -q big1 big2 | cat > /dev/null" \
		-n pmerge "$PM big1 big2 | cat > /dev/null"
	cmp -s <("$pm" big1 big2) <(cat big1 big2) || die "pmerge to a pipe: output differs"
	ratio_claim file-to-pipe "2 large files into a pipe: as fast as cat" \
		file-to-pipe pmerge cat 1.00
	section "Large files into a pipe" \
		"The same files (on the disk, page cache warm) read by \`cat > /dev/null\` at the other end of a pipe; pv and pmerge use splice."
	table file-to-pipe cat
}
