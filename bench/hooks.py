"""The pre-commit hook's cost against DVC's own pre-commit hook and against no hook.

One git + DVC repository with a 200 MB file and a directory of 10,000 small files, both
``dvc add``ed and committed, and ``lineage init``. Each round makes three commits of
a one-line code change (``git commit -a``; every tracked output is checked whatever is staged),
one through each hooks directory (``git -c core.hooksPath=DIR``):
none, lineage's shim (``lineage.hooks.install.shim_text``), DVC's (what ``dvc install`` writes:
``exec dvc git-hook pre-commit``). A hook's cost is its commit minus the bare commit of the same
round. Goal: lineage's cost ≤ ``BUDGET`` × DVC's.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable
from pathlib import Path

import fixtures
from fixtures import LINEAGE, PYTHON, Workspace
from report import Section, ms, ratio, timing_cells, verdict
from reproduce import BIG_MB, MB, SMALL_FILES, _Rng, _write_random
from timing import BenchError, Summary, alternate, paired, parse_importtime, run, timed

from lineage.hooks.install import SHIM_ENTRY, shim_text
from lineage.hooks.quick import CACHE_FILE

BUDGET = 0.15  # lineage's pre-commit hook ≤ this × DVC's, on the repository above
DVC = str(fixtures.BIN / "dvc")
HOOK_IMPORTS = ("mlflow", "dvc", "networkx", "click", "pygit2", "yaml")
Log = Callable[[str], None]
_EDITS = itertools.count()  # every commit changes train.py to a new text


def _repo(ws: Workspace, name: str, env: dict[str, str], build: Callable[[Path], None]) -> Path:
    repo = ws.fresh(name) / "repo"
    repo.mkdir()
    run(["git", "init", "-q"], cwd=repo, env=env)
    run([DVC, "init", "-q"], cwd=repo, env=env)
    build(repo)
    (repo / "train.py").write_text("print('training')\n")
    run(["git", "add", "-A"], cwd=repo, env=env)
    run(["git", "commit", "-q", "-m", "Add data"], cwd=repo, env=env)
    run([LINEAGE, "init"], cwd=repo, env=env)
    run(["git", "add", ".lineage"], cwd=repo, env=env)
    run(["git", "commit", "-q", "-m", "Set up lineage"], cwd=repo, env=env)
    return repo


def _big(repo: Path, env: dict[str, str]) -> None:
    data = repo / "data"
    small = data / "small"
    small.mkdir(parents=True)
    _write_random(data / "big.bin", BIG_MB * MB, seed=200)
    rng = _Rng(10_000)
    for i in range(SMALL_FILES):
        (small / f"{i:05d}.txt").write_bytes(f"file {i}\n".encode() + rng.bytes(100 + i % 1000))
    run([DVC, "add", "-q", "data/big.bin", "data/small"], cwd=repo, env=env)


def _tiny(repo: Path, env: dict[str, str]) -> None:
    (repo / "data").mkdir()
    (repo / "data" / "raw.csv").write_text("id,value\n1,10\n2,20\n")
    run([DVC, "add", "-q", "data/raw.csv"], cwd=repo, env=env)


def _hook_dirs(root: Path) -> dict[str, Path]:
    dirs = {name: root / f"hooks-{name}" for name in ("none", "lineage", "dvc")}
    for directory in dirs.values():
        directory.mkdir(exist_ok=True)
    (dirs["lineage"] / "pre-commit").write_text(shim_text("pre-commit", PYTHON))
    # What `dvc install` writes (dvc/repo/install.py), with the venv's dvc first on PATH.
    (dirs["dvc"] / "pre-commit").write_text("#!/bin/sh\nexec dvc git-hook pre-commit $@\n")
    for directory in dirs.values():
        for hook in directory.iterdir():
            hook.chmod(0o755)
    return dirs


def _commit(repo: Path, hooks: Path, env: dict[str, str]) -> Callable[[], dict[str, float]]:
    """A commit of a one-line code change through the hooks in ``hooks`` (the edit is untimed)."""
    argv = ["git", "-c", f"core.hooksPath={hooks}", "commit", "-q", "-a", "-m", "b"]

    def probe() -> dict[str, float]:
        (repo / "train.py").write_text(f"print('training', {next(_EDITS)})\n")
        return timed(argv, cwd=repo, env=env)

    return probe


def _hook_alone(repo: Path, env: dict[str, str]) -> Callable[[], dict[str, float]]:
    return lambda: timed([PYTHON, "-c", SHIM_ENTRY, "pre-commit"], cwd=repo, env=env)


def _cold(repo: Path, env: dict[str, str]) -> float:
    """One hook run with no stat cache and no parsed pointers: the first commit after install."""
    for name in (
        "statcache.sqlite",
        "statcache.sqlite-wal",
        "statcache.sqlite-shm",
        CACHE_FILE,
    ):
        (repo / ".git" / "lineage" / name).unlink(missing_ok=True)
    return timed([PYTHON, "-c", SHIM_ENTRY, "pre-commit"], cwd=repo, env=env)["wall"]


def _imports(repo: Path, env: dict[str, str]) -> tuple[float, list[str]]:
    proc = run([PYTHON, "-X", "importtime", "-c", SHIM_ENTRY, "pre-commit"], cwd=repo, env=env)
    profile = parse_importtime(proc.stderr)
    return profile.total_s, [m for m in HOOK_IMPORTS if profile.imported(m)]


def sections(ws: Workspace, *, repeats: int, warmup: int, quick: bool, log: Log) -> list[Section]:
    env = ws.env()
    log(f"building the repository: {BIG_MB} MB file + {SMALL_FILES:,} files, `dvc add`")
    big = _repo(ws, "hooks-big", env, lambda repo: _big(repo, env))
    tiny = _repo(ws, "hooks-tiny", env, lambda repo: _tiny(repo, env))
    dirs = _hook_dirs(big.parent)
    tiny_dirs = _hook_dirs(tiny.parent)
    log("first lineage hook run (cold: hashes every file once)")
    cold = _cold(big, env)
    # Both hooks must pass here, or the timings would be of a refusal.
    for name in ("lineage", "dvc"):
        _commit(big, dirs[name], env)()
    cases = {
        "none": _commit(big, dirs["none"], env),
        "lineage": _commit(big, dirs["lineage"], env),
        "dvc": _commit(big, dirs["dvc"], env),
        "alone": _hook_alone(big, env),
        "cli": lambda: timed([LINEAGE, "hook-impl", "pre-commit"], cwd=big, env=env),
        "tiny-none": _commit(tiny, tiny_dirs["none"], env),
        "tiny-lineage": _commit(tiny, tiny_dirs["lineage"], env),
        "pygit2": lambda: timed([PYTHON, "-c", "import pygit2"], cwd=big, env=env),
    }
    s = alternate(cases, repeats=repeats, warmup=max(warmup, 1), progress=log)
    wall = {k: Summary.of(v["wall"]) for k, v in s.items()}
    cost = {k: Summary.of(paired(s["none"]["wall"], s[k]["wall"])) for k in ("lineage", "dvc")}
    tiny_cost = Summary.of(paired(s["tiny-none"]["wall"], s["tiny-lineage"]["wall"]))
    imports_s, heavy = _imports(big, env)
    ratio_ = cost["lineage"].median / cost["dvc"].median
    section = Section(
        f"Hooks: pre-commit cost ≤ {BUDGET}× DVC's own pre-commit hook",
        f"A git + DVC repository with one {BIG_MB} MB file and a directory of "
        f"{SMALL_FILES:,} small files, both `dvc add`ed and committed, and `lineage init`. Each "
        "round runs every row once; a commit row is a one-line change to a tracked script "
        "committed with `git -c core.hooksPath=DIR commit -q -a` (the hooks check every "
        "tracked output whatever is staged), DIR holding no "
        "hook, lineage's shim (`lineage hooks install`), or what `dvc install` writes (`exec "
        "dvc git-hook pre-commit`). A hook's cost is its commit minus the bare commit of the "
        f"same round. Goal: lineage's cost ≤ {BUDGET}× DVC's.",
        ["What", "median ms", "min ms", "n", "ratio", "goal", "result"],
    )
    section.rows += [
        ["`git commit`, no hook", *timing_cells(wall["none"]), "", "", ""],
        ["`git commit`, DVC's pre-commit hook", *timing_cells(wall["dvc"]), "", "", ""],
        ["`git commit`, lineage's pre-commit hook", *timing_cells(wall["lineage"]), "", "", ""],
        ["↳ DVC's hook cost (paired)", *timing_cells(cost["dvc"]), "1×", "", ""],
        [
            "↳ lineage's hook cost (paired)",
            *timing_cells(cost["lineage"]),
            ratio(ratio_),
            f"≤ {BUDGET}×",
            verdict(ratio_ <= BUDGET),
        ],
        [
            "lineage's hook alone (the shim's Python, no git commit)",
            *timing_cells(wall["alone"]),
            "",
            "",
            "",
        ],
        [
            "`lineage hook-impl pre-commit` (the pre-commit framework's entry; click)",
            *timing_cells(wall["cli"]),
            "",
            "",
            "",
        ],
        ["`python -c 'import pygit2'` (reference)", *timing_cells(wall["pygit2"]), "", "", ""],
        [
            "lineage's hook cost, repository with one small `dvc add`ed file (paired)",
            *timing_cells(tiny_cost),
            ratio(tiny_cost.median / cost["dvc"].median),
            "",
            "",
        ],
        [
            "lineage's hook, first run (cold stat cache: hashes everything once)",
            ms(cold),
            ms(cold),
            "1",
            "",
            "",
            "",
        ],
    ]
    section.notes += [
        f"The hook's Python process imported modules for {ms(imports_s)} ms (`-X importtime`, "
        f"self times summed); of {', '.join(HOOK_IMPORTS)} it imported: "
        f"{', '.join(heavy) or 'none'}.",
        "Warm runs never read data: each tracked output's stat digest (a file's inode, mtime "
        "and size; a directory's, those of every file under it) is compared with the one "
        "remembered with its md5, so the directory's 10,000 files are each stat'ed, as `git "
        "status` and `dvc status` do, and nothing else is. The small-repository row is what "
        "the hook costs without them.",
    ]
    if heavy:
        raise BenchError(f"the pre-commit hook imported {', '.join(heavy)}")
    return [section]


if __name__ == "__main__":  # pragma: no cover - use bench/run.py --only hooks
    sys.exit("run `python bench/run.py --only hooks`")
