# Helpers for bench/run and its workloads (sourced, not run).
#
# A workload is a file bench/workloads/NN-NAME.sh that defines a function
# bench_NAME (dashes become underscores); bench/run sources every such file
# in order and calls the functions selected with --only.  A workload
# generates its data with gen, measures with hf (wall time, hyperfine) or
# cpu (CPU time, user + system), checks every pmerge output with same or
# same_lines, and writes its findings with claim, ratio_claim, cpu_claim,
# section and table.  Variables it may use: pm (the binary) and PM (quoted
# for a command line), data (the data directory, on the disk), outdir and
# O (outputs, on the disk), work (a scratch directory removed at the end),
# smoke (true or false), hf_runs (hyperfine's run options), runs, cpu_runs,
# drop_caches (true when the page cache can be dropped), fs_list (the file
# systems to measure on: "disk" first, then tmpfs, xfs, btrfs when made),
# and the sizes big_size, small_count, tiny_count, line_count, onerec_size.

note() { printf 'bench/run: %s\n' "$*" >&2; }
die() {
	note "$*"
	exit 1
}

q() { printf '%q' "$1"; }

# gen KIND PARAM=VALUE...: a data set of bench/gendata.py in $data.
gen() {
	python3 "$here/gendata.py" "$data" "$@"
}

# A sync, then the page cache dropped: a cold-cache run.
cold_prepare='sync; echo 3 > /proc/sys/vm/drop_caches'

# hf NAME HYPERFINE-ARGUMENTS...: one comparison, exported as NAME.json.
# Unless the arguments bring their own --prepare, every run starts after a
# sync, so that one run's dirty pages are not flushed on the next one's
# time.
hf() {
	local name=$1 prepare=(--prepare sync)
	shift
	[[ " $* " == *" --prepare "* ]] && prepare=()
	note "hyperfine: $name"
	if ! hyperfine --style basic --export-json "$work/$name.json" \
		"${prepare[@]}" "${hf_runs[@]}" "$@" >"$work/$name.log" 2>&1; then
		cat "$work/$name.log" >&2
		die "hyperfine failed: $name"
	fi
}

# cpu NAME [--prepare CMD] -n NAME1 CMD1 -n NAME2 CMD2...: CPU time (user +
# system of the command and its children, from wait4) of each command,
# $cpu_runs runs each, interleaved so that a change in the machine's load
# touches every command alike; exported as NAME.json in hyperfine's shape
# with per-run "user" and "system" lists.
cpu() {
	local name=$1
	shift
	note "cpu time: $name"
	python3 "$here/report.py" cpu "$work/$name.json" "$cpu_runs" "$@" \
		>"$work/$name.log" 2>&1 || {
		cat "$work/$name.log" >&2
		die "cpu time failed: $name"
	}
}

# claim ID WHAT MEASURED TARGET VERDICT: one row of the summary.
claim() {
	printf '%s|%s|%s|%s|%s\n' "$@" >>"$claims"
}

# ratio_claim ID WHAT NAME CAND REF MAX: CAND's median over REF's (the
# fastest of a comma-separated list) must be at most MAX.
ratio_claim() {
	local id=$1 what=$2 name=$3 cand=$4 ref=$5 max=$6 r v
	read -r r v < <(python3 "$here/report.py" claim "$work/$name.json" \
		"$cand" "$ref" "$max")
	claim "$id" "$what" "$r × ${ref//,/ or }" "≤ $max ×" "$v"
}

# cpu_claim ID WHAT NAME CAND REF MAX: the same on the medians of user +
# system time of a cpu measurement, with the ratio's 95 % confidence
# interval (report.py ci) beside it.
cpu_claim() {
	local id=$1 what=$2 name=$3 cand=$4 ref=$5 max=$6 r v lo hi
	read -r r v < <(python3 "$here/report.py" claim --cpu \
		"$work/$name.json" "$cand" "$ref" "$max")
	read -r lo hi < <(python3 "$here/report.py" ci "$work/$name.json" \
		"$cand" "$ref")
	claim "$id" "$what" "$r × $ref (CPU; 95 % CI $lo–$hi)" "≤ $max ×" "$v"
}

# info_claim ID WHAT NAME CAND REF: a ratio recorded without a target.
info_claim() {
	local id=$1 what=$2 name=$3 cand=$4 ref=$5 r v
	read -r r v < <(python3 "$here/report.py" claim "$work/$name.json" \
		"$cand" "$ref" 1e9)
	claim "$id" "$what" "$r × $ref" "–" "info"
}

# section TITLE TEXT: a heading and a paragraph of the report.
section() {
	printf '\n## %s\n\n%s\n\n' "$1" "$2" >>"$report"
}

# subsection TITLE: a bold line above a table.
subsection() {
	printf '**%s**\n\n' "$1" >>"$report"
}

# table NAME REF: wall-time rows of NAME.json (with hyperfine's mean user +
# system time beside them), ratios to REF.
table() {
	python3 "$here/report.py" table "$work/$1.json" "$2" >>"$report"
	printf '\n' >>"$report"
}

# cpu_table NAME REF: CPU-time rows of a cpu measurement.
cpu_table() {
	python3 "$here/report.py" table --cpu "$work/$1.json" "$2" >>"$report"
	printf '\n' >>"$report"
}

# Outputs must be right before their times mean anything.
same() {
	cmp -s "$1" "$2" || die "$3: output differs from the reference"
}
same_lines() {
	LC_ALL=C sort "$1" >"$work/sorted.a"
	LC_ALL=C sort "$2" >"$work/sorted.b"
	same "$work/sorted.a" "$work/sorted.b" "$3"
	rm -f "$work/sorted.a" "$work/sorted.b"
}

bytes() { numfmt --to=iec-i --suffix=B "$1"; }

# ------------------------------------------------------- file systems

# fs_dir FS: a directory on file system FS ("disk": the one bench/ is on)
# for workloads that compare file systems; fs_where FS describes it.
declare -A fs_dirs fs_desc

fs_dir() { printf '%s' "${fs_dirs[$1]}"; }
fs_where() { printf '%s' "${fs_desc[$1]}"; }

# fs_loop FS MKFS...: a file system FS made with MKFS in an image file on
# the disk and mounted through a loop device (root only).  Fails quietly
# when it cannot be made.
fs_loop() {
	local fs=$1 img=$outdir/$1.img mnt=$work/mnt-$1
	shift
	command -v "$1" >/dev/null || return 1
	[[ $(id -u) == 0 ]] || return 1
	rm -f "$img"
	# Inputs, the old output and the new, a sponge or sort copy, and room
	# for what btrfs frees only at its next commit.
	truncate -s $((10 * big_size + (2 << 30))) "$img" || return 1
	"$@" "$img" >"$work/mkfs-$fs.log" 2>&1 || return 1
	mkdir -p "$mnt"
	mount -o loop "$img" "$mnt" 2>>"$work/mkfs-$fs.log" || return 1
	mounts+=("$mnt")
	fs_dirs[$fs]=$mnt
	fs_desc[$fs]="$fs in a loop device over an image file on the disk (default mkfs and mount options)"
}

# fs_setup LIST: the file systems of LIST (comma-separated) that can be
# had; sets fs_list.
fs_setup() {
	local fs
	fs_list=()
	for fs in ${1//,/ }; do
		case $fs in
		disk)
			fs_dirs[disk]=$outdir/fs-disk
			fs_desc[disk]="$(fs_type "$outdir") (the disk bench/ is on)"
			mkdir -p "${fs_dirs[disk]}"
			;;
		tmpfs)
			local free
			free=$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }')
			if [[ $(stat -f -c %T /dev/shm 2>/dev/null) != tmpfs ]] ||
				((${free:-0} < 6 * big_size / 1024)); then
				note "no tmpfs with room at /dev/shm: no tmpfs row"
				continue
			fi
			fs_dirs[tmpfs]=$(mktemp -d /dev/shm/pmerge-bench.XXXXXX)
			mounts_rm+=("${fs_dirs[tmpfs]}")
			fs_desc[tmpfs]="tmpfs (/dev/shm): page-cached data, only the copying is measured"
			;;
		xfs)
			fs_loop xfs mkfs.xfs -q -f || {
				note "cannot make XFS (needs root, xfsprogs): no xfs row"
				continue
			}
			;;
		btrfs)
			fs_loop btrfs mkfs.btrfs -q -f || {
				note "cannot make btrfs (needs root, btrfs-progs): no btrfs row"
				continue
			}
			;;
		*) die "unknown file system '$fs' (disk, tmpfs, xfs, btrfs)" ;;
		esac
		fs_list+=("$fs")
	done
}

# Unmounts and removes what fs_setup made.
fs_cleanup() {
	local d
	for d in "${mounts[@]}"; do
		umount "$d" 2>/dev/null || umount -l "$d" 2>/dev/null || true
	done
	rm -f "$outdir"/*.img
	for d in "${mounts_rm[@]}"; do
		rm -rf "$d"
	done
}
mounts=()
fs_list=()
mounts_rm=()

# need_fs: the file systems of --fs, set up once, for the workloads that
# compare file systems.
fs_ready=false
need_fs() {
	$fs_ready && return 0
	fs_setup "$fs_arg"
	fs_ready=true
}

# big_inputs FS: copies of the large inputs on FS (the data set itself on
# the disk); sets B1 and B2, quoted for a command line.
big_inputs() {
	local d
	if [[ $1 == disk ]]; then
		B1=$(q "$data/big1")
		B2=$(q "$data/big2")
		return
	fi
	d=$(fs_dir "$1")
	[[ -f $d/big1 && -f $d/big2 ]] || cp "$data/big1" "$data/big2" "$d/"
	B1=$(q "$d/big1")
	B2=$(q "$d/big2")
}

# fs_type DIR: the type of the file system DIR is on ("ext4", "tmpfs").
fs_type() {
	findmnt -n -o FSTYPE -T "$1" 2>/dev/null || stat -f -c %T "$1"
}
