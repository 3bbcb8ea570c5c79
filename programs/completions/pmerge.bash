# bash completion for pmerge(1).
#
# Installed as "pmerge" in bash-completion's completions directory, where it
# is loaded the first time pmerge is completed.  Every option of
# "pmerge --help" is listed here; tests/completions checks that none is
# missing and that the values offered are the ones pmerge accepts.

# Completes the comma-separated strategy list of --lock: the strategy being
# typed is completed after the ones already given, and "sem:" waits for its
# writer count.
_pmerge_lock()
{
	local done_part= word=$cur
	if [[ $cur == *,* ]]; then
		done_part=${cur%,*},
		word=${cur##*,}
	fi
	if [[ $word == sem:* ]]; then
		return
	fi
	COMPREPLY=($(compgen -P "$done_part" -W 'mutex rlock sem: spin ticket mcs adaptive' \
		-- "$word"))
	if [[ ${#COMPREPLY[@]} -eq 1 && $COMPREPLY == *: ]]; then
		compopt -o nospace
	fi
	__ltrim_colon_completions "$cur"
}

_pmerge()
{
	local cur prev words cword split
	_init_completion -s -n : || return

	local i
	for ((i = 1; i < cword; i++)); do
		if [[ ${words[i]} == -- ]]; then
			_filedir
			return
		fi
	done

	case $prev in
	-o | --output | --files0-from | --stats-file | --export-json | \
		--export-csv | --export-markdown)
		_filedir
		return
		;;
	-u | --unit)
		COMPREPLY=($(compgen -W 'file line' -- "$cur"))
		return
		;;
	--order)
		COMPREPLY=($(compgen -W 'input arrival' -- "$cur"))
		return
		;;
	-Z | --compress)
		COMPREPLY=($(compgen -W 'gzip zstd' -- "$cur"))
		return
		;;
	-l | --lock)
		_pmerge_lock
		return
		;;
	-j | --jobs | -B | --buffer-size | --bench-jobs | -k | --key | -t | \
		--field-separator | --since | --until | --poll-interval | \
		--tail | --label)
		# A number, a size, a key, a separator or a time: nothing
		# to offer.
		return
		;;
	esac

	# Options whose argument is optional take it only after "=".
	if [[ $split == true ]]; then
		case $prev in
		--progress)
			COMPREPLY=($(compgen -W 'auto always never' -- "$cur"))
			;;
		--stats)
			COMPREPLY=($(compgen -W 'text json' -- "$cur"))
			;;
		--color)
			COMPREPLY=($(compgen -W 'auto always never' -- "$cur"))
			;;
		esac
		return
	fi

	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W '
			-o --output=
			--files0-from=
			-a --append
			--fsync
			-u --unit=
			-z --zero-terminated
			--tag
			-d --decompress
			-Z --compress=
			--order=
			-j --jobs=
			-l --lock=
			-B --buffer-size=
			--progress
			-q --quiet --silent
			-v --verbose
			--stats
			--stats-file=
			--bench
			-m --sorted
			-k --key=
			-t --field-separator=
			-n --numeric-sort
			-r --reverse
			--by-time
			--since=
			--until=
			--check-order
			--bench-jobs=
			--export-json= --export-csv= --export-markdown=
			-F --follow
			--poll-interval=
			--tail=
			--label=
			--color
			-h --help
			-V --version
			' -- "$cur"))
		if [[ ${#COMPREPLY[@]} -eq 1 && $COMPREPLY == *= ]]; then
			compopt -o nospace
		fi
		return
	fi

	_filedir
} &&
	complete -F _pmerge pmerge

# ex: filetype=sh
