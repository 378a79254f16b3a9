#!/usr/bin/env python3
"""The project as a patch series against the pinned Linux 6.12 tree.

  patches.py make            write build/patches/: a `git format-patch` series
                             (with cover letter) against the pinned tree
  patches.py series          list the glue patches in order
  patches.py grafts          check glue/manifest and list where each project
                             file goes: <repository path> <kernel path>
  patches.py check [--build] apply build/patches/ with `git am` to a fresh
                             unpack, one patch at a time, run checkpatch.pl
                             --strict on each, and check that the result is
                             the tree the tests ran on (build/linux); with
                             --build, also build the kernel after every patch

Each patch is one glue/ patch (its changes to existing kernel files and its
commit message) plus the project files glue/manifest assigns to it.
"""
import os
import re
import shutil
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD", os.path.join(TOP, "build"))
TARBALL = "/usr/src/linux-source-6.12.tar.xz"
KERNEL_VERSION = "6.12.117"
PATCHES = os.path.join(BUILD, "patches")
AUTHOR = ("RISC-V KVM Rust project", "rsproj@localhost")
BASE_DATE = "2026-11-23T00:00:00+00:00"


def step(msg):
    print(f"\n==> {msg}", flush=True)


def info(msg):
    print(f"    {msg}", flush=True)


def die(msg):
    print(f"error: {msg}", file=sys.stderr)
    sys.exit(1)


def git_env(date=None):
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null",
               GIT_AUTHOR_NAME=AUTHOR[0], GIT_AUTHOR_EMAIL=AUTHOR[1],
               GIT_COMMITTER_NAME=AUTHOR[0], GIT_COMMITTER_EMAIL=AUTHOR[1])
    if date:
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    return env


def git(tree, *args, date=None, capture=False):
    r = subprocess.run(["git", "-C", tree, *args], env=git_env(date), text=True,
                       stdout=subprocess.PIPE if capture else None,
                       stderr=subprocess.PIPE if capture else None)
    if r.returncode != 0:
        if capture:
            sys.stderr.write(r.stdout + r.stderr)
        die(f"git {' '.join(args[:2])} failed in {tree}")
    return r.stdout if capture else ""


def fresh_tree(tree):
    """Unpacks the pinned tarball into @tree and commits it as tag 'base'."""
    if not os.path.exists(TARBALL):
        die(f"{TARBALL} missing: run scripts/setup.sh")
    parent = os.path.dirname(tree)
    os.makedirs(parent, exist_ok=True)
    shutil.rmtree(tree, ignore_errors=True)
    shutil.rmtree(os.path.join(parent, "linux-source-6.12"), ignore_errors=True)
    t = time.time()
    subprocess.run(["tar", "-C", parent, "-xf", TARBALL], check=True)
    os.rename(os.path.join(parent, "linux-source-6.12"), tree)
    version = kernel_version(tree)
    if version != KERNEL_VERSION:
        die(f"{TARBALL} holds Linux {version}, the series is for {KERNEL_VERSION}")
    info(f"unpacked Linux {version} in {time.time() - t:.0f} s; committing it as 'base'")
    t = time.time()
    git(tree, "init", "-q")
    # -f: the Debian tarball's .gitignore ignores everything at the top level.
    git(tree, "add", "-A", "-f")
    git(tree, "commit", "-q", "-m", f"Linux {KERNEL_VERSION} (linux-source-6.12 as unpacked)",
        date=BASE_DATE)
    git(tree, "tag", "base")
    info(f"git repository ready in {time.time() - t:.0f} s")


def kernel_version(tree):
    v = {}
    for line in open(os.path.join(tree, "Makefile")):
        m = re.match(r"^(VERSION|PATCHLEVEL|SUBLEVEL) = (\d+)", line)
        if m:
            v[m.group(1)] = m.group(2)
    return f"{v.get('VERSION')}.{v.get('PATCHLEVEL')}.{v.get('SUBLEVEL')}"


def entries(path):
    for line in open(path):
        line = line.split("#", 1)[0].strip()
        if line:
            yield line.split()


def series():
    """The glue patches, glue/NNNN-*.patch, in number order."""
    names = sorted(f for f in os.listdir(os.path.join(TOP, "glue"))
                   if re.match(r"^\d{4}-.*\.patch$", f))
    for n, name in enumerate(names, 1):
        if int(name[:4]) != n:
            die(f"glue/{name}: the patches must be numbered 0001, 0002, ... without gaps")
    return names


MANIFEST = os.path.join(TOP, "glue", "manifest")
# Where project files live: every file under these must be in the manifest.
PROJECT_DIRS = ("rust", "tests/kunit", "tests/selftests/riscv")


def manifest():
    """[(patch number, repository path or Kconfig:SYMBOL, kernel path or None)]
    from glue/manifest, each line checked."""
    lines = []
    for e in entries(MANIFEST):
        if not e[0].isdigit() or len(e) != (2 if e[1].startswith("Kconfig:") else 3):
            die(f"glue/manifest: bad line: {' '.join(e)}")
        lines.append((int(e[0]), e[1], e[2] if len(e) == 3 else None))
    return lines


def graft_rules():
    """[(repository path, kernel path)] of every project file."""
    return [(src, dst) for _, src, dst in manifest() if dst]


def tree_path(repo_file):
    for src, dst in graft_rules():
        if repo_file == src:
            return dst
    die(f"{repo_file} is not in glue/manifest")


def grafted_files():
    return {src for src, _ in graft_rules()}


def project_files():
    """The files under PROJECT_DIRS, and ./Kconfig."""
    files = {"Kconfig"}
    for d in PROJECT_DIRS:
        for root, _, names in os.walk(os.path.join(TOP, d)):
            files.update(os.path.relpath(os.path.join(root, n), TOP) for n in names)
    return files


def kconfig_blocks():
    """./Kconfig as (header, [(symbol, text)]), in file order."""
    header, blocks = [], []
    for line in open(os.path.join(TOP, "Kconfig")):
        m = re.match(r"^config (\w+)", line)
        if m:
            blocks.append((m.group(1), [line]))
        elif blocks:
            blocks[-1][1].append(line)
        else:
            header.append(line)
    return "".join(header), [(s, "".join(t)) for s, t in blocks]


def assignments():
    """{patch number: [entries]} from glue/manifest, checked for full coverage:
    every project file and every option of ./Kconfig exactly once."""
    adds = {}
    seen = []
    for n, what, _ in manifest():
        adds.setdefault(n, []).append(what)
        seen.append(what)
    dup = {w for w in seen if seen.count(w) > 1}
    if dup:
        die(f"glue/manifest names more than once: {' '.join(sorted(dup))}")
    files = {w for w in seen if not w.startswith("Kconfig:")}
    missing = project_files() - files
    extra = {f for f in files if not os.path.isfile(os.path.join(TOP, f))}
    syms = {s for s, _ in kconfig_blocks()[1]}
    got = {w.split(":", 1)[1] for w in seen if w.startswith("Kconfig:")}
    if missing or extra or syms != got:
        die("glue/manifest does not cover the project exactly: "
            f"missing {sorted(missing | (syms - got))}, unknown {sorted(extra | (got - syms))}")
    if max(adds) > len(series()) or min(adds) < 1:
        die(f"glue/manifest names a patch outside 1-{len(series())}")
    return adds


def make():
    tree = os.path.join(BUILD, "series", "linux")
    adds = assignments()
    step(f"patches: the pinned Linux {KERNEL_VERSION} tree as a git repository")
    if os.path.isdir(os.path.join(tree, ".git")) and subprocess.run(
            ["git", "-C", tree, "rev-parse", "-q", "--verify", "refs/tags/base"],
            capture_output=True).returncode == 0:
        git(tree, "checkout", "-q", "-f", "base")
        git(tree, "clean", "-q", "-fdx")
        info(f"reusing {os.path.relpath(tree, TOP)} at 'base'")
    else:
        fresh_tree(tree)
    git(tree, "checkout", "-q", "-B", "series", "base")

    step("patches: one commit per glue/ patch, with the project files it adds")
    header, blocks = kconfig_blocks()
    kconfig_syms = []
    kconfig_started = False
    for n, name in enumerate(series(), 1):
        patch = os.path.join(TOP, "glue", name)
        date = None
        for line in open(patch):
            if line.startswith("Date: "):
                date = line[6:].strip()
                break
        git(tree, "am", "-q", "--committer-date-is-author-date", patch, date=date)
        added = []
        for what in adds.get(n, []):
            if what == "Kconfig":
                kconfig_started = True
            elif what.startswith("Kconfig:"):
                kconfig_syms.append(what.split(":", 1)[1])
            else:
                dst = tree_path(what)
                os.makedirs(os.path.dirname(os.path.join(tree, dst)), exist_ok=True)
                shutil.copyfile(os.path.join(TOP, what), os.path.join(tree, dst))
                added.append(dst)
        if any(w.startswith("Kconfig") for w in adds.get(n, [])):
            if not kconfig_started:
                die(f"patch {n} adds Kconfig options before the Kconfig header")
            dst = tree_path("Kconfig")
            with open(os.path.join(tree, dst), "w") as f:
                f.write(header + "".join(t for s, t in blocks if s in kconfig_syms))
            added.append(dst)
        if added:
            git(tree, "add", "-f", "--", *added)
            git(tree, "commit", "-q", "--amend", "--no-edit", date=date)
        stat = git(tree, "show", "--shortstat", "--format=%s", "HEAD", capture=True).split("\n")
        info(f"{n:2}/{len(series())} {stat[0]}")
        info(f"      {stat[-2].strip() if len(stat) > 1 else ''}")

    step("patches: git format-patch")
    shutil.rmtree(PATCHES, ignore_errors=True)
    git(tree, "format-patch", "-q", "--zero-commit", "--cover-letter", "--base=base",
        "-o", PATCHES, "base..series")
    cover = os.path.join(PATCHES, "0000-cover-letter.patch")
    subject, _, blurb = open(os.path.join(TOP, "glue", "cover-letter")).read().partition("\n\n")
    text = open(cover).read()
    text = text.replace("*** SUBJECT HERE ***", subject.strip())
    text = text.replace("*** BLURB HERE ***", blurb.strip())
    # The cover letter's date is the time of the run; pin it like the patches'.
    text = re.sub(r"^Date: .*$", "Date: " + formatdate_of(tree), text, count=1, flags=re.M)
    open(cover, "w").write(text)
    for f in sorted(os.listdir(PATCHES)):
        info(os.path.relpath(os.path.join(PATCHES, f), TOP))
    print(f"{len(series())} patches and a cover letter in {os.path.relpath(PATCHES, TOP)}/")


def formatdate_of(tree):
    return git(tree, "log", "-1", "--format=%aD", "series", capture=True).strip()


def checkpatch_exceptions():
    """(patch number, message) pairs from the table in glue/CHECKPATCH.md."""
    allowed = []
    for line in open(os.path.join(TOP, "glue", "CHECKPATCH.md")):
        m = re.match(r"^\| (\d{4}) \| (?:ERROR|WARNING|CHECK): (.+?) \| .+\|\s*$", line)
        if m:
            allowed.append((int(m.group(1)), m.group(2).strip()))
    return allowed


def check(build):
    patches = sorted(f for f in os.listdir(PATCHES) if re.match(r"^\d{4}-", f)
                     and not f.startswith("0000-")) if os.path.isdir(PATCHES) else []
    if not patches:
        die("no series in build/patches: run `make patches` first")
    tree = os.path.join(BUILD, "series-check", "linux")
    out = os.path.join(BUILD, "series-check", "kernel")
    step(f"series: a fresh unpack of Linux {KERNEL_VERSION}")
    fresh_tree(tree)
    allowed = checkpatch_exceptions()
    results = []
    if build:
        shutil.rmtree(out, ignore_errors=True)
    for n, name in enumerate(patches, 1):
        step(f"series: patch {n}/{len(patches)}: {name}")
        path = os.path.join(PATCHES, name)
        r = subprocess.run(["git", "-C", tree, "am", "-q", path], env=git_env(),
                           capture_output=True, text=True)
        ok = r.returncode == 0
        info("git am: " + ("applied" if ok else "FAILED\n" + r.stdout + r.stderr))
        results.append((f"patch {n} applies with git am", ok, ""))
        if not ok:
            subprocess.run(["git", "-C", tree, "am", "--abort"], capture_output=True)
            break
        # checkpatch runs scripts/spdxcheck.py, which needs the system python3
        # (python3-ply, python3-git), not whatever python3 comes first in PATH.
        env = dict(os.environ, PATH="/usr/bin:" + os.environ.get("PATH", ""))
        r = subprocess.run(["perl", "scripts/checkpatch.pl", "--strict", "--color=never",
                            path], cwd=tree, capture_output=True, text=True, env=env)
        reports = [line for line in r.stdout.splitlines()
                   if re.match(r"^(ERROR|WARNING|CHECK):", line)]
        bad = [line for line in reports
               if not any(k == n and msg in line for k, msg in allowed)]
        for line in reports:
            info(("allowed (glue/CHECKPATCH.md): " if line not in bad else "") + line)
        results.append((f"patch {n} checkpatch --strict", not bad, "; ".join(bad)[:300]))
        info(f"checkpatch --strict: {len(reports)} reports, {len(bad)} not allowed")
        if build:
            t = time.time()
            last = n == len(patches)
            env = dict(os.environ, SRC=tree, OUT=out,
                       CONFIG_STAMP=git(tree, "rev-parse", "HEAD", capture=True).strip(),
                       LENIENT_CONFIG="0" if last else "1")
            r = subprocess.run(["bash", os.path.join(TOP, "scripts", "build-kernel.sh"), "rust"],
                               env=env)
            secs = time.time() - t
            results.append((f"patch {n} builds (Image)", r.returncode == 0, f"{secs:.0f} s"))
            info(f"build after patch {n}: {'ok' if r.returncode == 0 else 'FAILED'}, {secs:.0f} s")

    step("series: the patched tree is the tree the tests ran on")
    prepared = os.path.join(BUILD, "linux")
    changed = git(tree, "diff", "--name-only", "base", "HEAD", capture=True).split()
    differ = [f for f in changed if not os.path.exists(os.path.join(prepared, f)) or
              open(os.path.join(tree, f), "rb").read() !=
              open(os.path.join(prepared, f), "rb").read()]
    info(f"{len(changed)} files changed by the series; {len(differ)} differ from build/linux"
         + (": " + " ".join(differ) if differ else ""))
    results.append(("series result equals build/linux", not differ and bool(changed), ""))

    step("series: summary")
    for name, ok, note in results:
        print(f"{'PASS' if ok else 'FAIL'} {name} {note}".rstrip())
    failed = sum(not ok for _, ok, _ in results)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "series":
        print("\n".join(series()))
        return 0
    if len(sys.argv) == 2 and sys.argv[1] == "grafts":
        assignments()
        print("\n".join(f"{src} {dst}" for src, dst in graft_rules()))
        return 0
    if len(sys.argv) < 2 or sys.argv[1] not in ("make", "check"):
        print(__doc__)
        return 2
    if sys.argv[1] == "make":
        make()
        return 0
    return check("--build" in sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
