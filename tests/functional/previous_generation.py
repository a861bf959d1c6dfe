"""The binary of the previous schema generation: the last commit that changed migrations/
before the newest migration was added. It is what still runs while a release's
migration is applied (docs/architecture.md, "Schema changes").

Built once per commit from a `git worktree` of it, as that commit's scripts/build does
(cmake, then ninja, here with -j2), and kept under build/previous-generation/<commit>/order-service (CI caches build/). A build
takes several minutes on two cores.

    /usr/bin/python3 tests/functional/previous_generation.py   # build (or find) it, print the path
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / "build" / "previous-generation"


def git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def newest_migration() -> str:
    return sorted(p.name for p in (REPO / "migrations").glob("*.sql"))[-1]


def full_history() -> None:
    """A shallow clone (some CI checkouts) lacks the previous generation: fetch the rest."""
    if git("rev-parse", "--is-shallow-repository") == "true":
        git("fetch", "--quiet", "--unshallow")


def commit() -> str:
    """The last commit that changed migrations/ before the newest migration was added
    (HEAD's history when the newest migration is not committed yet)."""
    full_history()
    newest = newest_migration()
    added = git("log", "--diff-filter=A", "--format=%H", "--", f"migrations/{newest}").splitlines()
    base = f"{added[-1]}^" if added else "HEAD"
    found = git("log", "-1", "--format=%H", base, "--", "migrations/")
    if not found:
        raise RuntimeError(f"no commit changed migrations/ before {newest}")
    return found


def migrations_of(rev: str) -> list[str]:
    return sorted(
        Path(p).name for p in git("ls-tree", "--name-only", rev, "migrations/").splitlines() if p.endswith(".sql")
    )


def check_prefix(rev: str) -> list[str]:
    """The previous generation's migrations, each unchanged in the working tree (an applied
    migration never changes: the runner refuses a changed checksum)."""
    names = migrations_of(rev)
    for name in names:
        old = git("show", f"{rev}:migrations/{name}")
        new = (REPO / "migrations" / name).read_text().strip()
        if old != new:
            raise AssertionError(f"migrations/{name} differs from its version in {rev[:12]}")
    return names


def build(rev: str | None = None, log=sys.stderr) -> tuple[Path, float]:
    """Path of the previous generation's binary, and the seconds spent building it (0 when
    it was built before)."""
    rev = rev or commit()
    out = CACHE / rev / "order-service"
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time; the others wait and reuse it
        if out.is_file() and os.access(out, os.X_OK):
            return out, 0.0
        started = time.monotonic()
        tmp = Path(tempfile.mkdtemp(prefix="order-service-prev-"))
        tree = tmp / "src"
        try:
            git("worktree", "add", "--detach", str(tree), rev)
            env = dict(os.environ)
            env["CCACHE_BASEDIR"] = str(tmp)  # ccache hits when the same commit is built again
            jobs = env.get("PREVIOUS_GENERATION_JOBS", "2")
            print(f"building the previous generation {rev[:12]} in {tree}", file=log, flush=True)
            # What that commit's scripts/build does (configure, ninja), with ninja's jobs bounded
            # and only the binary built.
            for cmd in (
                ["cmake", "-S", str(tree), "-B", str(tmp / "build"), "-G", "Ninja",
                 "-DCMAKE_BUILD_TYPE=Release", "-DORDER_SERVICE_TESTS=OFF"],
                ["ninja", "-C", str(tmp / "build"), "-j", jobs, "order-service"],
            ):
                r = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
                if r.returncode != 0:
                    raise RuntimeError(
                        f"building {rev[:12]} failed: {' '.join(cmd)}\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
                    )
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(tmp / "build" / "order-service", out.with_suffix(".tmp"))
            os.replace(out.with_suffix(".tmp"), out)
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)], capture_output=True)
            shutil.rmtree(tmp, ignore_errors=True)
        seconds = time.monotonic() - started
        (out.parent / "build-seconds").write_text(f"{seconds:.0f}\n")
        return out, seconds


if __name__ == "__main__":
    rev = commit()
    path, seconds = build(rev)
    print(f"{path} (commit {rev[:12]}, built in {seconds:.0f} s)" if seconds else f"{path} (commit {rev[:12]}, cached)")
