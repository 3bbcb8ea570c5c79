# Shared by the decoding test scripts (sourced, not run): tool checks, a
# scratch directory, and pass/fail counting with the closing line.

# need TOOL...: skip the whole script (exit 77) when one is missing.
need() {
	local tool
	for tool in "$@"; do
		if ! command -v "$tool" >/dev/null 2>&1; then
			echo "skip: $tool is not installed"
			exit 77
		fi
	done
}

# Enters a scratch directory that is removed at exit.
enter_scratch() {
	scratch=$(mktemp -d)
	trap 'rm -rf -- "$scratch"' EXIT
	cd -- "$scratch" || exit 1
}

passed=0
failed=0
# check NAME CMD...: the command must succeed.
check() {
	local name=$1
	shift
	if "$@"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		printf 'FAIL: %s\n' "$name"
	fi
}

# Prints "N passed, N failed" and exits 0 only when nothing failed.
finish() {
	printf '%d passed, %d failed\n' "$passed" "$failed"
	[[ $failed -eq 0 ]]
	exit
}
