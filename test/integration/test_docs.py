"""The docs' examples, run against the built binaries, so that the docs
cannot drift from the program; and the man pages checked against --help.

What is run
-----------
Every fenced block in README.md and docs/*.md whose language is `console`,
`sh` or `python`:

- a *session*, a block with `$ COMMAND` lines: each command runs in turn
  (a line ending in `\\` continues on the next one); the lines after it, up
  to the next `$`, are its expected output (stdout and stderr together, as
  a terminal shows them);
- a *script*, an `sh` block without `$` lines: run whole by bash with
  `set -e -o pipefail`; it must exit 0 (its output is not compared);
- a `python` block: run by python3; it must exit 0.

Every block sees the package in python/ installed (pip install into a
private directory, on PYTHONPATH, its pytest plugin found by its entry
point) and nothing else of this repository: the examples use only what a
reader has.

The blocks of one section (up to the next heading) run in one bash, in
order, in a private network namespace (`unshare --net`, so the docs can use
fixed ports such as 9999 and 7), in a fresh temporary directory that is
the working directory, with the build directory first on PATH.
`/tmp/` in a command or an expected line stands for that directory, so
the docs can say `/tmp/muxd.sock`. Every command is bounded in time; at
the end of a section its process group is killed.

Expected output
---------------
Lines are compared without trailing white space (a CR LF line end counts
as LF); blank lines at the start and end do not count. A line that is just
`...` matches any number of lines; `...` within a line matches any text on
that line.

Markers: an HTML comment on the line right before the block, e.g.
`<!-- test: server -->`, with directives separated by `;`:

- `skip REASON`: not run (counted as skipped, with its reason); the
  last directive, REASON is the rest of the comment.
- `server`: each command of the block is started in the background and
  keeps running; its expected output is the first lines of its stdout (its
  ready lines), waited for. In a script block each line is a server that
  must print a ready line.
- `with COMMAND`: start COMMAND first, in the background, and wait for
  its first line of stdout: a server the example talks to that the text
  around the block names but the block does not show. A COMMAND already
  started in the section is not started again.
- `vary WORD...`: WORD (shell quoting for spaces) stands for a value that
  differs from run to run (a port, a date): in the block's expected output
  it matches any text on its line, and the text it matched replaces WORD in
  the later commands and expected output of the section.

The test prints how many blocks it ran and skipped, and fails if fewer than
MIN_RUN ran: a reorganisation of the docs cannot silently turn them off.

Man pages (not run): every option `muxd --help` defines is in the OPTIONS
section of muxd.1 and the other way round (muxcat likewise); the address
forms listed by --help, the man pages, README.md and docs/muxcat.md are
those of mux_addr_parse() in include/mux.h; `mandoc -Tlint` finds nothing.
"""

import difflib
import glob
import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import muxtest
from test_python_package import install_package

MIN_RUN = 68  # blocks run today; raise it when you add examples
LANGS = ("console", "sh", "python")
DOCS = [os.path.join(muxtest.SOURCE_DIR, "README.md")] + sorted(
    glob.glob(os.path.join(muxtest.SOURCE_DIR, "docs", "*.md")))
MARKER_RE = re.compile(r"^<!--\s*test:\s*(.*?)\s*-->\s*$")
FENCE_RE = re.compile(r"^```([\w-]*)\s*$")
COMMAND_TIMEOUT = 15.0  # seconds: the bound of one command
PACKAGE_DIR = [None]  # where test_examples installed python/
SENTINEL_RE = re.compile(rb"\x1e(\d+)\x1e\n")

# The shell each section runs in: commands come NUL-separated on fd 3
# (stdin is /dev/null, so a command that reads stdin does not eat the
# next ones); after each, a sentinel with its exit status.
DRIVER = r"""
exec 3<&0 </dev/null 2>&1
cd "$1" || exit 1
__serve() { # FILE LINES COMMAND: start COMMAND, show its first LINES lines
  : > "$1.out"; : > "$1.err"  # there before the loop below reads them
  eval "$3" >> "$1.out" 2>> "$1.err" &
  local pid=$! i=0
  while [ "$(wc -l < "$1.out")" -lt "$2" ] && [ $i -lt 400 ]; do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.025; i=$((i + 1))
  done
  head -n "$2" "$1.out"
  if ! kill -0 "$pid" 2>/dev/null || [ $i -ge 400 ]; then
    echo "[server not ready; its stderr:]"; cat "$1.err"
  fi
}
while IFS= read -r -d '' -u 3 __cmd; do
  eval "$__cmd"
  printf '\036%s\036\n' "$?"
done
"""

# Brings up the loopback interface of the new network namespace.
LO_UP = ("import fcntl, socket, struct; s = socket.socket(); "
         "f = struct.unpack('16sh14x', fcntl.ioctl(s, 0x8913, "
         "struct.pack('16sh14x', b'lo', 0)))[1]; "
         "fcntl.ioctl(s, 0x8914, struct.pack('16sh14x', b'lo', f | 1))")


class Block:
    """One fenced example: where it is, its language, lines, directives."""

    def __init__(self, path, line, heading, lang, body, marker):
        self.path, self.line, self.heading = path, line, heading
        self.lang, self.body = lang, body
        self.where = f"{os.path.relpath(path, muxtest.SOURCE_DIR)}:{line}"
        self.skip = None
        self.server = False
        self.with_commands = []
        self.vary = []
        marker, _, reason = marker.partition("skip ")
        if reason.strip():
            self.skip = reason.strip()
        for directive in filter(None, (d.strip() for d in marker.split(";"))):
            self._directive(directive)

    def _directive(self, directive):
        name, _, rest = directive.partition(" ")
        rest = rest.strip()
        if name == "server" and not rest:
            self.server = True
        elif name == "with" and rest:
            self.with_commands.append(rest)
        elif name == "vary" and rest:
            self.vary += shlex.split(rest)
        else:
            raise AssertionError(f"{self.where}: bad test marker {directive!r}")

    def steps(self):
        """[(command, expected lines or None, server?)]: None means the
        command must exit 0 and its output is not compared."""
        if self.lang == "python":
            text = "\n".join(self.body)
            return [(f"{shlex.quote(sys.executable)} - <<'MUXDOC_EOF'\n"
                     f"{text}\nMUXDOC_EOF", None, False)]
        if not any(line.startswith("$ ") for line in self.body):
            if self.server:
                return [(line, ["listening on ..."], True) for line in self.body
                        if line.strip() and not line.lstrip().startswith("#")]
            return [("( set -e -o pipefail\n" + "\n".join(self.body) + "\n)",
                     None, False)]
        return self._session()

    def _session(self):
        steps, lines = [], list(self.body)
        while lines:
            line = lines.pop(0)
            if not line.startswith("$ "):
                raise AssertionError(f"{self.where}: output before a command")
            command = line[2:]
            while command.endswith("\\") and lines:
                command += "\n" + lines.pop(0)
            expected = []
            while lines and not lines[0].startswith("$ "):
                expected.append(lines.pop(0))
            steps.append((command, expected, self.server))
        return steps


def parse(path):
    """The example blocks of a markdown file, in order."""
    blocks, heading, marker = [], "", None
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        fence = FENCE_RE.match(lines[i])
        if fence:
            end = i + 1
            while end < len(lines) and not lines[end].startswith("```"):
                end += 1
            if fence.group(1) in LANGS:
                blocks.append(Block(path, i + 1, heading, fence.group(1),
                                    lines[i + 1:end], marker or ""))
            elif marker is not None:
                raise AssertionError(f"{path}:{i + 1}: a test marker before "
                                     f"a block that is not an example")
            marker, i = None, end + 1
            continue
        if lines[i].startswith("#"):
            heading = lines[i].lstrip("#").strip()
        m = MARKER_RE.match(lines[i])
        if m:
            marker = m.group(1)
        elif lines[i].strip():
            marker = None
        i += 1
    return blocks


def sections(blocks):
    """The blocks grouped by the section they are in, in order."""
    groups = []
    for block in blocks:
        if groups and groups[-1][0].heading == block.heading:
            groups[-1].append(block)
        else:
            groups.append([block])
    return groups


def namespace_prefix():
    """The command that runs a program in a network namespace of its own."""
    unshare = muxtest.require_tool("unshare", "util-linux")
    prefix = [unshare, "--net"]
    if os.geteuid() != 0:
        prefix.append("--map-root-user")
    probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=10)
    if probe.returncode != 0:
        raise AssertionError(
            f"cannot make a network namespace ({' '.join(prefix)}: "
            f"{probe.stderr.decode().strip()}): run as root, or enable "
            f"unprivileged user namespaces")
    return prefix


class Shell:
    """The bash a section runs in, in its own namespace and process group."""

    def __init__(self, workdir):
        env = dict(os.environ)
        build = os.path.abspath(muxtest.BUILD_DIR)
        env["PATH"] = build + os.pathsep + env.get("PATH", "")
        env["MUX_BUILD_DIR"] = build
        env["PYTHONPATH"] = PACKAGE_DIR[0]
        env["LC_ALL"] = "C.UTF-8"
        self.proc = subprocess.Popen(
            [*namespace_prefix(), "bash", "--noprofile", "--norc", "-c",
             DRIVER, "muxdoc", workdir],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.pending = b""
        self.run(f"{shlex.quote(sys.executable)} -c {shlex.quote(LO_UP)}")

    def run(self, command):
        """Runs one command: (its output, its exit status)."""
        self.proc.stdin.write(command.encode() + b"\0")
        self.proc.stdin.flush()
        deadline = time.monotonic() + COMMAND_TIMEOUT
        fd = self.proc.stdout.fileno()
        while not SENTINEL_RE.search(self.pending):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise AssertionError(
                    f"no end after {COMMAND_TIMEOUT:.0f} s; output so far:\n"
                    + self.pending.decode(errors="replace"))
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError("the shell exited; output:\n"
                                     + self.pending.decode(errors="replace"))
            self.pending += chunk
        m = SENTINEL_RE.search(self.pending)
        out, self.pending = self.pending[:m.start()], self.pending[m.end():]
        return out.decode(errors="replace"), int(m.group(1))

    def close(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.stdin.close()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()


def normalize(text):
    """Lines without trailing white space, blank ones at both ends dropped."""
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def pattern(expected, vary):
    """A regex for the expected lines, with a named group per WORD of
    `vary` (g<word index>_<occurrence>)."""
    parts, count = [], 0
    word_re = re.compile("|".join(re.escape(w) for w in
                                  sorted(vary, key=len, reverse=True)))
    for line in expected:
        if line == "...":
            parts.append(r"(?:[^\n]*\n)*?")
            continue
        out, pos = [], 0
        for m in (word_re.finditer(line) if vary else ()):
            out.append(literal(line[pos:m.start()]))
            out.append(f"(?P<g{vary.index(m.group())}_{count}>[^\n]*?)")
            count += 1
            pos = m.end()
        out.append(literal(line[pos:]))
        parts.append("".join(out) + r"\n")
    return re.compile("".join(parts))


def literal(text):
    return ".*?".join(re.escape(piece) for piece in text.split("..."))


class Section:
    """Runs the blocks of one section; collects what differs."""

    def __init__(self, blocks, workdir):
        self.blocks, self.workdir = blocks, workdir
        self.values = {}  # vary WORD -> the text it matched
        self.failures = []
        self.servers = 0
        self.started = set()  # `with` commands running in this section

    def subst(self, text):
        text = re.sub(r"(?<![\w/.])/tmp/", self.workdir + "/", text)
        for word, value in self.values.items():
            text = text.replace(word, value)
        return text

    def run(self):
        shell = Shell(self.workdir)
        try:
            for block in self.blocks:
                for command in block.with_commands:
                    if command not in self.started:
                        self.started.add(command)
                        self.step(shell, block, command, None, True)
                for command, expected, server in block.steps():
                    self.step(shell, block, command, expected, server)
        except AssertionError as e:
            self.failures.append(f"{block.where}: {e}")
        finally:
            shell.close()
        return self.failures

    def step(self, shell, block, command, expected, server):
        command = self.subst(command)
        if server:
            self.servers += 1
            command = (f"__serve .muxdoc-server{self.servers} "
                       f"{max(1, len(normalize(chr(10).join(expected or []))))} "
                       f"{shlex.quote(command)}")
        out, status = shell.run(command)
        if server and expected is None:
            if "[server not ready" in out:
                self.failures.append(f"{block.where}: {command}:\n{out}")
            return
        if expected is None:
            if status != 0:
                self.failures.append(f"{block.where}: exit status {status}:\n"
                                     f"{out}")
            return
        self.compare(block, command, [self.subst(e) for e in expected], out)

    def compare(self, block, command, expected, out):
        vary = [w for w in block.vary if w not in self.values]
        got = normalize(out.replace("\r\n", "\n"))
        want = normalize("\n".join(expected))
        m = pattern(want, vary).fullmatch("".join(g + "\n" for g in got))
        if not m:
            diff = "\n".join(difflib.unified_diff(want, got, "doc", "program",
                                                  lineterm=""))
            self.failures.append(f"{block.where}: $ {command}\n{diff}")
            return
        for name, value in m.groupdict().items():
            word = vary[int(name[1:].split("_")[0])]
            if value is not None and word not in self.values:
                self.values[word] = value


class Examples(unittest.TestCase):
    """Every example of every doc runs and shows what the doc says."""

    def test_examples(self):
        muxtest.binary("muxd")
        muxtest.binary("muxcat")
        package = tempfile.TemporaryDirectory(prefix="muxdoc-package-")
        self.addCleanup(package.cleanup)
        PACKAGE_DIR[0] = install_package(package.name)
        ran = skipped = 0
        for path in DOCS:
            for blocks in sections(parse(path)):
                for block in blocks:
                    if block.skip:
                        print(f"skipped {block.where}: {block.skip}")
                run = [b for b in blocks if not b.skip]
                skipped += len(blocks) - len(run)
                if not run:
                    continue
                ran += len(run)
                with self.subTest(section=run[0].where), \
                        tempfile.TemporaryDirectory(prefix="muxdoc-") as tmp:
                    failures = Section(run, tmp).run()
                    if failures:
                        self.fail("\n\n".join(failures))
        print(f"ran {ran} examples, skipped {skipped} (at least {MIN_RUN} "
              f"must run)")
        self.assertGreaterEqual(ran, MIN_RUN,
                                "fewer doc examples run than before: was a "
                                "block's language or marker changed?")


# --- man pages and --help --------------------------------------------------

OPTION_RE = re.compile(r"(?<![\w-])--?[A-Za-z][\w-]*")
# The address forms of mux_addr_parse(), as the docs write them; `HOST PORT`
# (muxcat's two arguments) is not one and is dropped before matching.
FORM_RE = re.compile(r"tcp://|udp://|unix:|\[V6(?:ADDR)?\]:PORT|\*:PORT|"
                     r"HOST:PORT|(?<![\w*\]]):PORT|(?<![\w:/])PORT\b")


def read(*path):
    with open(os.path.join(muxtest.SOURCE_DIR, *path), encoding="utf-8") as f:
        return f.read()


def help_text(program):
    p = subprocess.run([muxtest.binary(program), "--help"], capture_output=True,
                       text=True, timeout=muxtest.TIMEOUT)
    return p.stdout


def roff_line(line):
    """A line of roff source as text: font macros' arguments joined (the
    alternating ones without spaces), escapes dropped."""
    m = re.match(r"^\.(B|I|BI|IB|BR|RB|IR|RI)\s+(.*)$", line)
    if m:
        words = shlex.split(m.group(2).replace("\\", "\\\\"))
        line = (" " if len(m.group(1)) == 1 else "").join(words)
    elif line.startswith("."):
        return ""
    line = re.sub(r"\\f[BIRP]", "", line.replace("\\\\", "\\"))
    return line.replace("\\-", "-").replace("\\&", "").replace("\\e", "\\")


def roff_text(source):
    return " ".join(filter(None, (roff_line(line) for line in
                                  source.split("\n"))))


def between(text, start, end):
    """The text from `start` up to `end`, white space runs made one space."""
    text = " ".join(text.split())
    i = text.find(start)
    j = text.find(end, i + 1) if i >= 0 else -1
    if j < 0:
        raise AssertionError(f"no {start!r} followed by {end!r} in:\n{text}")
    return text[i:j]


def forms(passage):
    """The address forms a passage lists, by their canonical names."""
    canon = {"[V6]:PORT": "[V6ADDR]:PORT"}
    found = FORM_RE.findall(passage.replace("`", "").replace("HOST PORT", ""))
    return sorted({canon.get(f, f) for f in found})


def help_options(text):
    """The options --help defines: each line that starts with one, up to
    the gap before its description."""
    options = set()
    for line in text.split("\n"):
        if re.match(r"^\s+-", line):
            options.update(OPTION_RE.findall(re.split(r"\s{2,}", line.strip())[0]))
    return options


def man_options(source):
    """The options the OPTIONS section defines: the tag line of each .TP."""
    section = source[source.index("\n.SH OPTIONS"):]
    lines = section[:section.index("\n.SH ", 1)].split("\n")
    return {o for i, line in enumerate(lines[:-1]) if line == ".TP"
            for o in OPTION_RE.findall(roff_line(lines[i + 1]))}


class ManPages(unittest.TestCase):
    """The man pages, --help and the docs describe the same program."""

    def test_options_of_help_and_man_page_agree(self):
        for program in ("muxd", "muxcat"):
            with self.subTest(program=program):
                in_help = help_options(help_text(program))
                in_man = man_options(read("docs", program + ".1"))
                self.assertGreater(len(in_help), 10)
                self.assertEqual(
                    (sorted(in_help - in_man), sorted(in_man - in_help)),
                    ([], []), "(in --help only, in the man page only)")

    def test_control_commands_agree(self):
        # --help's list is built from the command table (control.c).
        def names(usages):
            """"fault del ID" -> "fault del": each command's own words."""
            return sorted(" ".join(w for w in u.split()
                                   if re.fullmatch(r"[a-z]+", w)
                                   and w not in ("on", "off"))
                          for u in usages)
        in_help = between(help_text("muxd"), "each:", ";")[len("each:"):]
        in_man = between(roff_text(read("docs", "muxd.1")),
                         "one JSON reply line each:", "; anything else")
        fixtures = read("docs", "fixtures.md")
        start = fixtures.index("| command | reply |")
        table = fixtures[start:fixtures.index("| anything else", start)]
        in_fixtures = [c for line in table.split("\n")
                       if line.startswith("| `")
                       for c in re.findall(r"`([^`]+)`", line.split(" | ")[0])]
        truth = names(in_help.split(","))
        self.assertGreater(len(truth), 10)
        self.assertEqual(names(in_man.split(":", 1)[1].split(",")), truth)
        self.assertEqual(sorted(set(names(in_fixtures))), truth)

    def test_address_forms_agree(self):
        truth = forms(between(read("include", "mux.h"),
                              "Parses an address in one of the forms",
                              "HOST is a name"))
        self.assertEqual(len(truth), 8, truth)
        passages = {
            "muxd --help": between(help_text("muxd"), "--listen ADDR",
                                   "PORT is a number"),
            "muxd.1": between(roff_text(read("docs", "muxd.1")),
                              "ADDR is one of", "PORT is a number"),
            "README.md": between(read("README.md"), "`-l/--listen ADDR`",
                                 "`PORT` is a number"),
            "muxcat --help": between(help_text("muxcat"), "ADDR is",
                                     "PORT is a number"),
            "muxcat.1": between(roff_text(read("docs", "muxcat.1")),
                                "ADDR is", "PORT is a number"),
            "docs/muxcat.md": between(read("docs", "muxcat.md"),
                                      "## Addresses", "`PORT` is a number"),
        }
        for where, passage in passages.items():
            with self.subTest(where=where):
                self.assertEqual(forms(passage), truth, passage)

    def test_man_pages_pass_mandoc_lint(self):
        mandoc = muxtest.require_tool("mandoc", "mandoc")
        for page in ("muxd.1", "muxcat.1"):
            p = subprocess.run([mandoc, "-Tlint", "-Wstyle",
                                os.path.join(muxtest.SOURCE_DIR, "docs", page)],
                               capture_output=True, text=True,
                               timeout=muxtest.TIMEOUT)
            self.assertEqual(p.stdout + p.stderr, "", page)


if __name__ == "__main__":
    muxtest.main()
