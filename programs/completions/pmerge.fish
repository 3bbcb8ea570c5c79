# fish completion for pmerge(1).
#
# Installed as "pmerge.fish" in fish's vendor_completions.d.  Every option of
# "pmerge --help" is listed here; tests/completions checks that none is
# missing and that the values offered are the ones pmerge accepts.

# The comma-separated strategy list of --lock: each strategy is completed
# after the ones already given, and "sem:" waits for its writer count.
function __fish_pmerge_lock
    set -l list (string replace -r -- '^(--lock=|-l)' '' (commandline -ct))
    set -l given (string match -r -- '^.*,' $list)
    for strategy in mutex rlock sem: spin ticket mcs adaptive
        printf '%s%s\n' "$given" $strategy
    end
end

complete -c pmerge -s o -l output -r -F -d 'Write to FILE instead of standard output'
complete -c pmerge -l files0-from -r -F -d 'Read the input names, each ended by NUL, from F'
complete -c pmerge -s a -l append -d 'With -o, append to FILE instead of replacing it'
complete -c pmerge -l fsync -d 'Flush the data, then the directory entry, to stable storage before success'
complete -c pmerge -s u -l unit -x -a 'file line' -d 'What stays whole'
complete -c pmerge -s z -l zero-terminated -d 'With --unit=line, records end with NUL'
complete -c pmerge -l tag -d 'With --unit=line, prefix each record with its input name'
complete -c pmerge -s d -l decompress -d 'Decode gzip, zstd, xz, bzip2 and lz4 inputs'
complete -c pmerge -s Z -l compress -x -a 'gzip zstd' -d 'Compress the output (FMT[:LEVEL])'
complete -c pmerge -l order -x -a 'input arrival' -d 'The order of the inputs in the output'
complete -c pmerge -s j -l jobs -x -d 'Worker threads, 1..1024'
complete -c pmerge -s l -l lock -x -a '(__fish_pmerge_lock)' -d 'Lock strategy guarding the output'
complete -c pmerge -s B -l buffer-size -x -d 'Bytes per worker buffer (K and M suffixes)'
complete -c pmerge -l progress -f -a 'auto always never' -d 'Progress on standard error'
complete -c pmerge -s q -l quiet -l silent -d 'No progress and no warnings'
complete -c pmerge -s v -l verbose -d 'Print a one-line summary at the end'
complete -c pmerge -l stats -f -a 'text json' -d 'Print merge and lock statistics when done'
complete -c pmerge -l stats-file -r -F -d 'Write the statistics to FILE'
complete -c pmerge -l bench -f -d 'Run the merge RUNS times under each lock strategy'
complete -c pmerge -s m -l sorted -d 'Merge sorted inputs into one sorted output'
complete -c pmerge -s k -l key -x -d 'Sort by a key, as sort does'
complete -c pmerge -s t -l field-separator -x -d 'Fields end at SEP, not at blanks'
complete -c pmerge -s n -l numeric-sort -d 'Compare by numeric value'
complete -c pmerge -s r -l reverse -d 'The inputs are sorted in reverse'
complete -c pmerge -l by-time -f -d 'Order records by their timestamps'
complete -c pmerge -l since -x -d 'Only records at or after TIME'
complete -c pmerge -l until -x -d 'Only records before TIME'
complete -c pmerge -l check-order -d 'An input out of order is an error'
complete -c pmerge -l bench-jobs -x -d 'With --bench: every strategy at each job count in LIST'
complete -c pmerge -l export-json -r -F -d 'With --bench: write the results as hyperfine JSON'
complete -c pmerge -l export-csv -r -F -d 'With --bench: write the results as hyperfine CSV'
complete -c pmerge -l export-markdown -r -F -d 'With --bench: write the results as a Markdown table'
complete -c pmerge -s F -l follow -d 'Keep reading each input as it grows, by name'
complete -c pmerge -l poll-interval -x -d 'With -F, also look at every input each SECONDS'
complete -c pmerge -l tail -x -d 'Start each regular input N lines before its end'
complete -c pmerge -l label -x -d 'Comma-separated names that --tag shows'
complete -c pmerge -l color -f -a 'auto always never' -d "Colour each input's tag"
complete -c pmerge -s h -l help -d 'Display help and exit'
complete -c pmerge -s V -l version -d 'Output version information and exit'
