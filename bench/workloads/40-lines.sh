# Line mode: whole records from all inputs, into a pipe and into a file.
bench_lines() {
	local lines_bytes
	gen lines count=4 lines="$line_count"
	lines_bytes=$(cat lines/* | wc -c)
	hf lines-pipe \
		-n cat "cat lines/* | cat > /dev/null" \
		-n "pmerge -u line" "$PM -u line lines/* | cat > /dev/null" \
		-n parcat "parcat lines/* | cat > /dev/null" \
		-n "parallel --line-buffer" \
		"parallel -j4 --line-buffer cat ::: lines/* | cat > /dev/null"
	ratio_claim lines-pipe-cat "line mode into a pipe: 0.6 × cat" \
		lines-pipe "pmerge -u line" cat 0.60
	ratio_claim lines-pipe-parcat "line mode into a pipe: 1.5 × faster than parcat" \
		lines-pipe "pmerge -u line" parcat 0.667
	ratio_claim lines-pipe-parallel "line mode into a pipe: 2 × faster than parallel --line-buffer" \
		lines-pipe "pmerge -u line" "parallel --line-buffer" 0.50

	hf lines-file \
		-n cat "cat lines/* > $O/lines-cat.out" \
		-n "pmerge -u line" "$PM -u line -o $O/lines-pmerge.out lines/*" \
		-n parcat "parcat lines/* > $O/lines-parcat.out" \
		-n "parallel --line-buffer" \
		"parallel -j4 --line-buffer cat ::: lines/* > $O/lines-parallel.out"
	same_lines "$outdir/lines-cat.out" "$outdir/lines-pmerge.out" "pmerge -u line"
	rm -f "$outdir"/lines-*.out
	ratio_claim lines-file-cat "line mode into a file: 0.7 × cat" \
		lines-file "pmerge -u line" cat 0.70
	ratio_claim lines-file-parcat "line mode into a file: 1.5 × faster than parcat" \
		lines-file "pmerge -u line" parcat 0.667
	ratio_claim lines-file-parallel "line mode into a file: 2 × faster than parallel --line-buffer" \
		lines-file "pmerge -u line" "parallel --line-buffer" 0.50
	section "Line mode" \
		"4 × $line_count records of 10–90 bytes ($(bytes "$lines_bytes")) on the disk, page cache warm, whole lines from all inputs interleaved; cat is the floor (it keeps no line whole across inputs, it need not)."
	subsection "Into a pipe"
	table lines-pipe cat
	subsection "Into a regular file"
	table lines-file cat
}
