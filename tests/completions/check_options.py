#!/usr/bin/env python3
"""Checks that every place that names pmerge's options names the same ones.

The list of options is always learnt from "pmerge --help" (the binary under
test is $PMERGE); nothing here holds a copy of it.  The values of the
options that take a fixed set of words are learnt from pmerge too: each
option that takes an argument is given a bogus value, and when pmerge's
usage error lists the valid ones ("(valid: file, line)", or GNU argmatch's
"Valid arguments are:" list), those are the words the completions must
offer.

Usage: check_options.py MODE --readme README.md --man pmerge.1
           --bash pmerge.bash --zsh _pmerge --fish pmerge.fish

MODE is one of
  options  --help, the man page, the README's options tables and the three
           completions name the same options;
  bash     the bash completion, driven through bash-completion with
           COMP_WORDS/COMP_CWORD: options, values, file names;
  zsh      the zsh completion: syntax, option specifications, values;
  fish     the fish completion: syntax, and options, values and file names
           through "complete -C".
Exit status: 0 passed, 1 failed, 77 skipped (a shell or bash-completion is
missing; "options" skips only when it found no mismatch in what it could
check).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

SKIP = 77

# An option name in running text: "-o", "--output", never "a-b" or "=x".
OPTION_RE = re.compile(r"(?<![\w-])(--?[A-Za-z0-9?][A-Za-z0-9-]*)")

# Options documented to take a fixed set of values.  Each one that --help
# lists must have its values learnt from pmerge's usage error, so that a
# change of that message's form cannot silently turn the value checks off.
FIXED_SET = ("--unit", "--order", "--lock", "--progress", "--stats",
             "--compress", "--color")

# The scratch directory in which the shells complete file names.
SCRATCH_FILES = ("a.log", "b.log", "-dash.log")
SCRATCH_DIRS = ("sub",)


class Failures:
    def __init__(self):
        self.messages = []

    def check(self, ok, message):
        if not ok:
            self.messages.append(message)
        return ok

    def report(self, what):
        for m in self.messages:
            print(f"FAIL: {m}")
        if self.messages:
            print(f"{what}: {len(self.messages)} failure(s)")
            return 1
        print(f"{what}: ok")
        return 0


class Option:
    """One line of --help: its names and its argument."""

    def __init__(self, names, arg, optional):
        self.names = names  # e.g. ["-o", "--output"]
        self.arg = arg  # "FILE", or None
        self.optional = optional  # --progress[=WHEN]
        self.values = None  # the fixed set, learnt from pmerge

    @property
    def long(self):
        return next((n for n in self.names if n.startswith("--")), None)

    @property
    def takes_file(self):
        return self.arg in ("FILE", "F")

    def __repr__(self):
        return "/".join(self.names)


def pmerge():
    path = os.environ.get("PMERGE")
    if not path:
        sys.exit("check_options: PMERGE is not set")
    return path


def help_options():
    """Parses the option lines of --help (indented, starting with '-')."""
    out = subprocess.run([pmerge(), "--help"], capture_output=True,
                         text=True, check=True).stdout
    options = []
    for line in out.splitlines():
        m = re.match(r"^ {1,7}(-\S.*?)(?: {2,}|$)", line)
        if not m:
            continue
        column = m.group(1)
        names = OPTION_RE.findall(column)
        if not names:
            continue
        # "--output=FILE", "-j N", "--compress=FMT[:LEVEL]"; optional:
        # "--progress[=WHEN]".
        arg = re.search(r"(\[=|[= ])([A-Z][A-Z0-9_]*(?:\[[^]]*\])?)\]?$",
                        column)
        options.append(Option(names, arg.group(2) if arg else None,
                              bool(arg and arg.group(1) == "[=")))
    if len(options) < 5:
        sys.exit(f"check_options: found no option list in --help:\n{out}")
    return options


def help_names(options):
    return {n for o in options for n in o.names}


def parse_valid_list(message):
    """The valid values a usage error lists, or None."""
    m = re.search(r"\(valid: ([^)]*)\)", message)
    if m:
        items = [i.strip() for i in m.group(1).split(",")]
    else:
        m = re.search(r"Valid arguments are:\n((?:\s+- .*\n?)+)", message)
        if not m:
            return None
        items = [re.findall(r"'([^']*)'", line)[0]
                 for line in m.group(1).splitlines()
                 if re.findall(r"'([^']*)'", line)]
    values = []
    for item in items:
        # "sem:N with 1 <= N <= 1024" completes as "sem:", "gzip[:LEVEL]"
        # as "gzip"; a range ("1..1024", "4K..1G") is no set of words.
        w = re.match(r"[a-z][a-z0-9_-]*:?", item)
        if not w:
            return None
        values.append(w.group(0))
    return values or None


def learn_values(options):
    """Fills in Option.values for the options with a fixed set."""
    with tempfile.TemporaryDirectory() as scratch:
        for o in options:
            if not o.arg or not o.long:
                continue
            try:
                r = subprocess.run([pmerge(), f"{o.long}=pm-bogus"],
                                   stdin=subprocess.DEVNULL,
                                   capture_output=True, text=True,
                                   cwd=scratch, timeout=20)
                message = r.stderr
            except subprocess.TimeoutExpired:
                message = ""
            o.values = parse_valid_list(message)
            if o.long in FIXED_SET and o.values is None:
                sys.exit(f"check_options: cannot learn the values of "
                         f"{o.long} from pmerge's message: {message!r}")


# ---- the documentation ----------------------------------------------------

def roff_text(line):
    """A roff line with its macro, font escapes and quotes removed."""
    line = re.sub(r"^\.\w+\s*", "", line)
    line = re.sub(r"\\f(\(..|\[[^]]*\]|.)", "", line)
    line = line.replace("\\-", "-").replace("\\&", "").replace("\\c", "")
    line = line.replace("\\~", " ").replace('"', "")
    return line


def man_names(path):
    """Options named by the tags (.TP/.TQ) that start with a dash."""
    lines = open(path, encoding="utf-8").read().splitlines()
    names = set()
    for i, line in enumerate(lines[:-1]):
        if re.match(r"^\.T[PQ]\b", line):
            tag = roff_text(lines[i + 1]).strip()
            if tag.startswith("-"):
                names.update(OPTION_RE.findall(tag))
    return names


def readme_names(path):
    """Options named in the first column of every table headed "option"."""
    names = set()
    in_table = False
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if not line.startswith("|"):
            in_table = False
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if not cells:
            continue
        if cells[0].lower() in ("option", "options"):
            in_table = True
            continue
        if in_table and not re.fullmatch(r"[-: ]+", cells[0]):
            for code in re.findall(r"`([^`]*)`", cells[0]):
                names.update(OPTION_RE.findall(code))
    return names


# ---- bash -----------------------------------------------------------------

def bash_completion_main():
    """The bash-completion library, or None when it is not installed."""
    datadir = "/usr/share"
    if shutil.which("pkg-config"):
        r = subprocess.run(["pkg-config", "--variable=datadir",
                            "bash-completion"], capture_output=True,
                           text=True)
        if r.returncode == 0 and r.stdout.strip():
            datadir = r.stdout.strip()
    path = os.path.join(datadir, "bash-completion", "bash_completion")
    return path if os.path.isfile(path) else None


def comp_words(line):
    """Splits a command line into COMP_WORDS as bash does for completion:
    at blanks, and around each run of the word-breaking "=" and ":"."""
    words = []
    for blank_word in line.split():
        words.extend(w for w in re.split(r"([=:]+)", blank_word) if w)
    if not line or line[-1].isspace():
        words.append("")
    return words


BASH_DRIVER = r"""
source "$1" || exit 3
source "$2" || exit 3
func=$(complete -p pmerge 2>/dev/null | sed -n 's/.*-F \([^ ]*\) .*/\1/p')
[[ -n $func ]] || { echo "no completion function for pmerge" >&2; exit 3; }
# compopt only works while readline completes; record what is asked.
compopt() { printf 'O%s\n' "$*"; }
while IFS= read -r -d '' line && IFS= read -r -d '' count; do
	COMP_WORDS=()
	for ((i = 0; i < count; i++)); do
		IFS= read -r -d '' 'COMP_WORDS[i]'
	done
	COMP_LINE=$line
	COMP_POINT=${#line}
	COMP_CWORD=$((count - 1))
	COMPREPLY=()
	"$func" pmerge "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
	for r in "${COMPREPLY[@]}"; do
		printf 'R%s\n' "$r"
	done
	printf 'E\n'
done
"""


def bash_complete(main, script, lines, cwd):
    """Completes each line; returns [(replies, compopt calls)]."""
    data = []
    for line in lines:
        words = comp_words(line)
        data += [line, str(len(words))] + words
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", BASH_DRIVER,
                        "driver", main, script],
                       input="".join(d + "\0" for d in data),
                       capture_output=True, text=True, cwd=cwd, timeout=60)
    if r.returncode != 0:
        sys.exit(f"check_options: bash driver failed ({r.returncode}): "
                 f"{r.stderr}")
    results, replies, opts = [], [], []
    for out in r.stdout.splitlines():
        if out == "E":
            results.append((replies, opts))
            replies, opts = [], []
        elif out.startswith("R"):
            replies.append(out[1:])
        elif out.startswith("O"):
            opts.append(out[1:])
    if len(results) != len(lines):
        sys.exit(f"check_options: bash driver answered {len(results)} of "
                 f"{len(lines)} lines: {r.stderr}")
    return results


def make_scratch(dirpath):
    for f in SCRATCH_FILES:
        open(os.path.join(dirpath, f), "w").close()
    for d in SCRATCH_DIRS:
        os.mkdir(os.path.join(dirpath, d))


def bash_names(main, script):
    with tempfile.TemporaryDirectory() as scratch:
        (replies, _), = bash_complete(main, script, ["pmerge -"], scratch)
    return {r.rstrip("=") for r in replies}


def shared_cases(options, shell):
    """What bash and fish must both complete: [(command line, candidates)].
    After "--opt=" bash offers the value alone, fish the whole word."""
    def after_eq(o):
        return "" if shell == "bash" else o.long + "="
    cases = [("pmerge a", ["a.log"])]
    for o in options:
        if o.takes_file:
            for n in o.names:
                cases.append((f"pmerge {n} b", ["b.log"]))
            if o.long:
                cases.append((f"pmerge {o.long}=b", [after_eq(o) + "b.log"]))
        if not o.values:
            continue
        if o.long:
            cases.append((f"pmerge {o.long}=",
                          [after_eq(o) + v for v in o.values]))
        if not o.optional:
            for n in o.names:
                cases.append((f"pmerge {n} ", o.values))
        elif o.long:
            # An optional argument is only ever given after "=": a word
            # after the bare option is an operand.
            cases.append((f"pmerge {o.long} a", ["a.log"]))
    lock = next((o for o in options if o.long == "--lock"), None)
    if lock:
        cases.append(("pmerge --lock=mutex,",
                      [after_eq(lock) + "mutex," + v for v in lock.values]))
        # bash replaces only what follows the last colon of the word.
        given = "4," if shell == "bash" else "sem:4,"
        cases.append(("pmerge -l sem:4,", [given + v for v in lock.values]))
    return cases


def check_bash(args, f):
    main = bash_completion_main()
    if not main:
        print("SKIP: bash-completion is not installed")
        return SKIP
    options = help_options()
    learn_values(options)
    cases = []  # (line, candidates, nospace wanted or None)

    def expect(line, want, nospace=None):
        cases.append((line, want, nospace))

    for line, want in shared_cases(options, "bash"):
        expect(line, want)
    names = help_names(options)
    # Every option after a lone dash; long ones after two.  A long option
    # that needs an argument comes with its "=".
    expect("pmerge -", [n + ("=" if o.arg and not o.optional
                             and n.startswith("--") else "")
                        for o in options for n in o.names])
    expect("pmerge --", [n + ("=" if o.arg and not o.optional else "")
                         for o in options for n in o.names
                         if n.startswith("--")])
    # A unique long option that takes an argument waits for it.
    for o in options:
        if o.long and o.arg and not o.optional:
            prefix = o.long
            if sum(n.startswith(prefix) for n in names) != 1:
                continue
            while len(prefix) > 3 and sum(
                    n.startswith(prefix[:-1]) for n in names) == 1:
                prefix = prefix[:-1]
            expect(f"pmerge {prefix}", [o.long + "="], nospace=True)
    # After "--" every word is a file name, even one that starts with "-".
    expect("pmerge sub/", [])
    expect("pmerge -- -", ["-dash.log"])
    expect("pmerge -q -- -d", ["-dash.log"])
    # A value after other options, and a value prefix.
    for o in options:
        if o.values and not o.optional:
            expect(f"pmerge -q {o.names[-1]} ", o.values)
        if o.values and o.long:
            first = o.values[0][:1]
            expect(f"pmerge {o.long}={first}",
                   [v for v in o.values if v.startswith(first)])
    lock = next((o for o in options if o.long == "--lock"), None)
    if lock:
        f.check("sem:" in lock.values, f"--lock values {lock.values}")
        expect("pmerge --lock=se", ["sem:"], nospace=True)
        expect("pmerge --lock=sem:", [])
        expect("pmerge --lock=sem:2,mu", ["2,mutex"])
    with tempfile.TemporaryDirectory() as scratch:
        make_scratch(scratch)
        results = bash_complete(main, args.bash, [c[0] for c in cases],
                                scratch)
    for (line, want, nospace), (replies, opts) in zip(cases, results):
        f.check(sorted(replies) == sorted(want),
                f"bash: {line!r} offers {sorted(replies)}, "
                f"want {sorted(want)}")
        if nospace is not None:
            asked = any("nospace" in o for o in opts)
            f.check(asked == nospace,
                    f"bash: {line!r}: nospace {asked}, want {nospace}")
    print(f"bash: {len(cases)} command lines completed")
    return f.report("bash completion")


# ---- zsh ------------------------------------------------------------------

ZSH_DRIVER = r"""
_arguments() { print -rl -- "$@"; }
source "$1" || exit 3
"""

ZSH_ACTION_DRIVER = r"""
compset() { return 1; }
_message() { :; }
compadd() {
	while [[ $# -gt 0 && $1 != -- ]]; do shift; done
	shift
	print -rl -- "$@"
}
_arguments() { :; }
source "$1" || exit 3
"$2"
"""


def zsh_specs(script):
    """The option specifications _pmerge gives _arguments:
    {option name: action}, and the list of raw specs."""
    r = subprocess.run(["zsh", "-f", "-c", ZSH_DRIVER, "driver", script],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        sys.exit(f"check_options: zsh failed: {r.stderr}")
    argv = r.stdout.splitlines()
    if ":" not in argv:
        sys.exit("check_options: _pmerge gives _arguments no ':' before its "
                 "specifications")
    specs = argv[argv.index(":") + 1:]
    table = {}
    for spec in specs:
        m = re.match(r"^(?:\([^)]*\))?\*?(--?[A-Za-z0-9?][A-Za-z0-9-]*)"
                     r"(=-|[-+=])?(\[[^]]*\])?(.*)$", spec)
        if m:
            table[m.group(1)] = m.group(4)
    return table, specs


def zsh_action_words(script, action):
    """The words an action offers: "(a b)" lists, or a function called
    with compadd captured."""
    m = re.fullmatch(r"\((.*)\)", action)
    if m:
        return m.group(1).split()
    r = subprocess.run(["zsh", "-f", "-c", ZSH_ACTION_DRIVER, "driver",
                        script, action], capture_output=True, text=True,
                       timeout=60)
    return r.stdout.split()


def check_zsh(args, f):
    if not shutil.which("zsh"):
        print("SKIP: zsh is not installed")
        return SKIP
    r = subprocess.run(["zsh", "-n", args.zsh], capture_output=True,
                       text=True)
    f.check(r.returncode == 0, f"zsh -n {args.zsh}: {r.stderr}")
    f.check(open(args.zsh).readline().split()[:2] == ["#compdef", "pmerge"],
            "_pmerge does not start with '#compdef pmerge'")
    options = help_options()
    learn_values(options)
    table, specs = zsh_specs(args.zsh)
    f.check(any(s.startswith("*:") and s.endswith(":_files") for s in specs),
            "zsh: operands are not completed as files")
    for o in options:
        for n in o.names:
            if n not in table:
                continue  # reported by the "options" mode
            action = table[n].rsplit(":", 1)[-1] if ":" in table[n] else ""
            if o.arg is None:
                f.check(action == "", f"zsh: {n} takes no argument, "
                        f"but its spec has {table[n]!r}")
            elif o.optional:
                f.check(table[n].startswith("::"),
                        f"zsh: {n}'s argument is optional: {table[n]!r}")
            else:
                f.check(table[n].startswith(":") and
                        not table[n].startswith("::"),
                        f"zsh: {n} needs an argument: {table[n]!r}")
            if o.takes_file:
                f.check(action == "_files",
                        f"zsh: {n} does not complete files: {table[n]!r}")
            if o.values:
                words = zsh_action_words(args.zsh, action)
                f.check(sorted(words) == sorted(o.values),
                        f"zsh: {n} offers {words}, want {o.values}")
    return f.report("zsh completion")


def zsh_names(script):
    table, _ = zsh_specs(script)
    return set(table)


# ---- fish -----------------------------------------------------------------

def fish_complete(script, lines, cwd):
    """Completes each line with "complete -C"; returns [[candidate]]."""
    cmd = [f"source {quote_fish(script)}; or exit 3"]
    for line in lines:
        cmd.append(f"complete -C {quote_fish(line)}; echo '\x1e'")
    r = subprocess.run(["fish", "--no-config", "-c", "\n".join(cmd)],
                       capture_output=True, text=True, cwd=cwd, timeout=60)
    if r.returncode != 0:
        sys.exit(f"check_options: fish failed: {r.stderr}")
    blocks = r.stdout.split("\x1e\n")[:-1]
    return [[c.split("\t")[0] for c in b.splitlines()] for b in blocks]


def quote_fish(s):
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def fish_names(script):
    with tempfile.TemporaryDirectory() as scratch:
        (cands,) = fish_complete(script, ["pmerge -"], scratch)
    return {c.rstrip("=") for c in cands}


def check_fish(args, f):
    if not shutil.which("fish"):
        print("SKIP: fish is not installed")
        return SKIP
    r = subprocess.run(["fish", "--no-config", "--no-execute", args.fish],
                       capture_output=True, text=True)
    f.check(r.returncode == 0, f"fish --no-execute {args.fish}: {r.stderr}")
    options = help_options()
    learn_values(options)
    cases = shared_cases(options, "fish")
    with tempfile.TemporaryDirectory() as scratch:
        make_scratch(scratch)
        results = fish_complete(args.fish, [c[0] for c in cases], scratch)
    for (line, want), got in zip(cases, results):
        f.check(sorted(got) == sorted(want),
                f"fish: {line!r} offers {sorted(got)}, want {sorted(want)}")
    print(f"fish: {len(cases)} command lines completed")
    return f.report("fish completion")


# ---- all of them ----------------------------------------------------------

def check_options(args, f):
    want = help_names(help_options())
    print(f"--help names {len(want)} options: {' '.join(sorted(want))}")
    sources = [("man page", lambda: man_names(args.man)),
               ("README options table", lambda: readme_names(args.readme))]
    skipped = []
    main = bash_completion_main()
    if main:
        sources.append(("bash completion",
                        lambda: bash_names(main, args.bash)))
    else:
        skipped.append("bash completion (bash-completion is not installed)")
    if shutil.which("zsh"):
        sources.append(("zsh completion", lambda: zsh_names(args.zsh)))
    else:
        skipped.append("zsh completion (zsh is not installed)")
    if shutil.which("fish"):
        sources.append(("fish completion", lambda: fish_names(args.fish)))
    else:
        skipped.append("fish completion (fish is not installed)")
    for what, names in sources:
        got = names()
        missing, extra = sorted(want - got), sorted(got - want)
        f.check(not missing, f"{what} lacks {' '.join(missing)}")
        f.check(not extra, f"{what} names {' '.join(extra)}, "
                "which --help does not")
        print(f"{what}: {len(got)} options")
    status = f.report("options")
    if status == 0 and skipped:
        for s in skipped:
            print(f"SKIP: not checked: {s}")
        return SKIP
    return status


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("mode", choices=("options", "bash", "zsh", "fish"))
    for name in ("readme", "man", "bash", "zsh", "fish"):
        p.add_argument(f"--{name}", required=True)
    args = p.parse_args()
    # The shells run in scratch directories: name the files absolutely.
    for name in ("readme", "man", "bash", "zsh", "fish"):
        setattr(args, name, os.path.abspath(getattr(args, name)))
    f = Failures()
    mode = {"options": check_options, "bash": check_bash,
            "zsh": check_zsh, "fish": check_fish}[args.mode]
    sys.exit(mode(args, f))


if __name__ == "__main__":
    main()
