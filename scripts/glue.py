#!/usr/bin/env python3
"""The round trip between the unpacked kernel tree and this repository.

scripts/prepare-kernel.sh applies glue/ to build/linux and grafts the
project's files into it, then records a checksum of every file it wrote
(`glue.py record`). Edit those files in build/linux as you would in any
kernel tree; then

  glue.py status           list the files of build/linux that differ from
                           what prepare wrote, and which patches touch them
  glue.py save N           fold the edits of existing kernel files into glue
                           patch N (a fixup of that commit, rebased through
                           the rest of the series, written back to glue/),
                           and copy edited project files back to rust/,
                           tests/ or Kconfig
  glue.py save N FILE...   the same, also for kernel files no patch touched
                           yet (they join patch N)
  glue.py check            exit 1 when build/linux holds unsaved edits
                           (prepare runs it before it rewrites anything)
  glue.py reset            forget the edits: prepare then rewrites the files

`make glue-status`, `make glue-save P=N [FILES=...]` and `make glue-reset`
call it.
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import patches  # noqa: E402

TOP = patches.TOP
BUILD = patches.BUILD
SRC = os.path.join(BUILD, "linux")
APPLIED = os.path.join(SRC, ".rsproj-applied")
SUMS = os.path.join(APPLIED, "sums")


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def series_files():
    """{kernel path: [patch numbers that touch it]} over the glue patches."""
    touched = {}
    for n, name in enumerate(patches.series(), 1):
        for line in open(os.path.join(TOP, "glue", name)):
            if line.startswith("+++ b/"):
                path = line[6:].split()[0]
                touched.setdefault(path, []).append(n)
    return touched


def grafted():
    """{kernel path: repository path} for every grafted project file."""
    return {patches.tree_path(f): f for f in sorted(patches.grafted_files())}


def record():
    """Writes the checksums of every file prepare wrote (series and graft)."""
    paths = sorted(set(series_files()) | set(grafted()))
    os.makedirs(APPLIED, exist_ok=True)
    with open(SUMS, "w") as f:
        for p in paths:
            full = os.path.join(SRC, p)
            if os.path.exists(full):
                f.write(f"{sha(full)}  {p}\n")
    return 0


def edited():
    """Files prepare wrote that changed since (or vanished)."""
    if not os.path.exists(SUMS):
        return []
    out = []
    for line in open(SUMS):
        digest, path = line.rstrip("\n").split("  ", 1)
        full = os.path.join(SRC, path)
        if not os.path.exists(full) or sha(full) != digest:
            out.append(path)
    return out


def status():
    touched, graft = series_files(), grafted()
    files = edited()
    if not files:
        print("build/linux: no unsaved edits")
        return 0
    for p in files:
        if p in graft:
            where = f"project file {graft[p]}"
        else:
            where = "glue patches " + ", ".join(str(n) for n in touched.get(p, []))
        print(f"edited: {p}  ({where})")
    return 0


def check():
    files = edited()
    if files:
        print("error: build/linux has edits that are in no patch yet:", file=sys.stderr)
        for p in files:
            print(f"    {p}", file=sys.stderr)
        print("save them with `make glue-save P=<patch number>` or drop them with "
              "`make glue-reset`", file=sys.stderr)
        return 1
    return 0


def run(tree, *args, env=None):
    r = subprocess.run(["git", "-C", tree, *args], env=env or patches.git_env(),
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.stderr.write(r.stdout + r.stderr)
        raise SystemExit(f"error: git {' '.join(args[:2])} failed")
    return r.stdout


def save(n, extra):
    names = patches.series()
    if not 1 <= n <= len(names):
        raise SystemExit(f"error: patch {n} is not a glue patch (1-{len(names)})")
    touched, graft = series_files(), grafted()
    files = edited()
    kernel_files = [p for p in files if p not in graft] + [p for p in extra if p not in files]
    project_files = [p for p in files if p in graft]
    for p in project_files:
        shutil.copyfile(os.path.join(SRC, p), os.path.join(TOP, graft[p]))
        print(f"saved {p} -> {graft[p]}")
    if kernel_files:
        fold(n, names, sorted(set(touched) | set(kernel_files)), kernel_files)
    record()
    if not files and not extra:
        print("build/linux: no unsaved edits")
    return 0


def fold(n, names, paths, kernel_files):
    """Rebuilds the series in a scratch repository of the touched files,
    folds the edits of kernel_files into patch n, writes glue/ back."""
    env = patches.git_env()
    with tempfile.TemporaryDirectory(prefix="glue-") as tmp:
        tree = os.path.join(tmp, "linux")
        os.makedirs(tree)
        # Files that the series creates are not in the tarball: tar says
        # so and extracts the others.
        subprocess.run(["tar", "-C", tree, "--strip-components=1", "-xf", patches.TARBALL,
                        *[f"linux-source-6.12/{p}" for p in paths]], capture_output=True)
        run(tree, "init", "-q")
        run(tree, "add", "-A", "-f")
        run(tree, "commit", "-q", "--allow-empty", "-m", "base",
            env=patches.git_env(patches.BASE_DATE))
        commits = []
        for name in names:
            patch = os.path.join(TOP, "glue", name)
            date = next((ln[6:].strip() for ln in open(patch) if ln.startswith("Date: ")), None)
            run(tree, "am", "-q", "--committer-date-is-author-date", patch,
                env=patches.git_env(date))
            commits.append(run(tree, "rev-parse", "HEAD").strip())
        for p in kernel_files:
            dst = os.path.join(tree, p)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copyfile(os.path.join(SRC, p), dst)
        run(tree, "add", "-A", "-f")
        if not run(tree, "status", "--porcelain"):
            print("the edited kernel files already match the series")
            return
        run(tree, "commit", "-q", f"--fixup={commits[n - 1]}")
        rebase_env = dict(env, GIT_SEQUENCE_EDITOR="true")
        r = subprocess.run(["git", "-C", tree, "rebase", "-q", "-i", "--autosquash",
                            "--committer-date-is-author-date", commits[0] + "~1"],
                           env=rebase_env, capture_output=True, text=True)
        if r.returncode != 0:
            sys.stderr.write(r.stdout + r.stderr)
            raise SystemExit(f"error: the edits do not fit patch {n}: a later patch "
                             "conflicts with them; pick a later patch")
        out = os.path.join(tmp, "out")
        run(tree, "format-patch", "-q", "--zero-commit", "-o", out, "HEAD~%d" % len(names))
        written = sorted(os.listdir(out))
        if written != names:
            raise SystemExit("error: the rewritten series does not match the glue patches")
        for name in names:
            new = open(os.path.join(out, name)).read()
            old = open(os.path.join(TOP, "glue", name)).read()
            if new != old:
                open(os.path.join(TOP, "glue", name), "w").write(new)
                print(f"rewrote glue/{name}")
    # The tree now is what the new series gives: mark it as applied.
    subprocess.run(["bash", "-c", f'. "{TOP}/scripts/lib.sh"; series_hash > "{APPLIED}/hash"'],
                   check=True)
    for name in os.listdir(APPLIED):
        if name.endswith(".patch"):
            os.remove(os.path.join(APPLIED, name))
    for name in names:
        shutil.copyfile(os.path.join(TOP, "glue", name), os.path.join(APPLIED, name))


def reset():
    if os.path.exists(SUMS):
        os.remove(SUMS)
    # Forget the applied series too, so that prepare restores and re-applies.
    hash_file = os.path.join(APPLIED, "hash")
    if os.path.exists(hash_file):
        os.remove(hash_file)
    print("edits dropped: the next `make prepare` rewrites build/linux")
    return 0


def main():
    args = sys.argv[1:]
    if not args or args[0] not in ("record", "status", "check", "save", "reset"):
        print(__doc__)
        return 2
    if args[0] == "save":
        if len(args) < 2 or not args[1].isdigit():
            print("usage: glue.py save N [FILE...]", file=sys.stderr)
            return 2
        return save(int(args[1]), args[2:])
    return {"record": record, "status": status, "check": check, "reset": reset}[args[0]]()


if __name__ == "__main__":
    sys.exit(main())
