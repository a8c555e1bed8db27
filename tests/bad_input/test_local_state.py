"""Damaged local state, read-only and full disks, unwritable outputs, through the real CLI.

Every case starts from a copy of one small repository (`git init`, `lineage init`, one run
recorded with `lineage run -- true`: no MLflow). Derived caches (the index, the stat cache)
are rebuilt with a warning; anything else is one error line naming the path.

Read-only and full file systems are real: `lineage` runs in a mount namespace of its own
(`unshare -m`, or `unshare -rm` as a normal user) where a directory is bind-mounted read-only,
or a tiny tmpfs is filled up. Where this machine cannot make one, those cases are skipped.
`chmod` stops no write by root, so the chmod cases run only as a normal user.
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bad_input.harness import copy_of, refused, run_cli, set_up_repo, warned
from tests.conftest import BIN, sh
from tests.scenarios import hermetic_env

ROOT = os.geteuid() == 0


@functools.cache
def _unshare() -> tuple[str, ...] | None:
    """The `unshare` arguments that give a mount namespace where mounting works, if any."""
    for args in (("unshare", "-m"), ("unshare", "-rm")):
        probe = subprocess.run(
            [*args, "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"], capture_output=True
        )
        if probe.returncode == 0:
            return args
    return None


needs_mounts = pytest.mark.skipif(
    _unshare() is None, reason="needs a mount namespace (unshare -m) for a read-only or full disk"
)
needs_normal_user = pytest.mark.skipif(
    ROOT, reason="chmod stops no write by root; the read-only mount cases cover this"
)


def mounted(
    tmp_path: Path, *, read_only: tuple[Path, ...] = (), full: Path | None = None
) -> dict[str, str]:
    """An environment whose `lineage` runs with ``read_only`` bind-mounted read-only and
    ``full`` a filled-up 2 MiB tmpfs (what was in it copied there first: an index of a few
    records, in 16 KB pages, is ~0.4 MB)."""
    steps = []
    for directory in read_only:
        d = shlex.quote(str(directory))
        steps.append(f"mount --bind {d} {d} && mount -o remount,bind,ro {d} || exit 99")
    if full is not None:
        d = shlex.quote(str(full))
        steps += [
            f"cp -a {d} {d}.keep",
            f"mount -t tmpfs -o size=2m tmpfs {d} || exit 99",
            f"cp -a {d}.keep/. {d}/ || exit 99",
            f"dd if=/dev/zero of={d}/.filler bs=4k 2>/dev/null; true",
        ]
    unshare = " ".join(_unshare() or ())
    script = f'{" ; ".join(steps)} ; exec {shlex.quote(str(BIN / "lineage"))} "$@"'
    wrapper_dir = tmp_path / "mount-bin"
    wrapper_dir.mkdir(exist_ok=True)
    wrapper = wrapper_dir / "lineage"
    wrapper.write_text(f'#!/bin/sh\nexec {unshare} sh -c {shlex.quote(script)} lineage "$@"\n')
    wrapper.chmod(0o755)
    return {**os.environ, "PATH": f"{wrapper_dir}{os.pathsep}{os.environ['PATH']}"}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A repository with one commit, `lineage init` and one recorded run; and that run's id."""
    base = tmp_path_factory.mktemp("local-state")
    env = hermetic_env(base)
    repo = set_up_repo(base / "repo", env)
    sh("lineage", "run", "--", "true", cwd=repo, env=env)
    # An empty MLflow store beside it (a tool store: never dirt), so that `audit` reaches the
    # damage under test instead of stopping at a store that does not exist.
    sh(
        sys.executable,
        "-c",
        "import mlflow; mlflow.MlflowClient('sqlite:///mlflow.db').search_experiments()",
        cwd=repo,
        env=env,
    )
    log = sh("lineage", "log", cwd=repo, env=env).stdout
    return repo, log.split()[2]


@pytest.fixture
def repo(template: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy = copy_of(template[0], tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{copy}/mlflow.db")
    return copy


@pytest.fixture
def run_id(template: tuple[Path, str]) -> str:
    return template[1]


def lineage_dir(repo: Path) -> Path:
    return repo / ".git" / "lineage"


def index_file(repo: Path) -> Path:
    return lineage_dir(repo) / "index.sqlite"


# -- output files the user named: checked before any work ---------------------------------


def test_audit_junit_into_a_missing_directory_is_refused_before_auditing(repo: Path) -> None:
    refused(
        repo,
        "audit",
        "--junit",
        "/missing/dir/a.xml",
        code=2,
        says="cannot write /missing/dir/a.xml: directory /missing/dir does not exist",
    )


def test_audit_junit_onto_a_directory_is_refused(repo: Path) -> None:
    (repo / "reports").mkdir()
    refused(repo, "audit", "--junit", "reports", code=2, says="'reports' is a directory")


def test_graph_output_into_a_missing_directory_is_refused(repo: Path) -> None:
    refused(repo, "graph", "HEAD", "-o", "out/g.dot", code=2, says="directory out does not exist")


def test_graph_output_under_a_file_is_refused(repo: Path) -> None:
    refused(
        repo, "graph", "HEAD", "-o", "train.py/g.dot", code=2, says="train.py is not a directory"
    )


def test_reproduce_report_into_a_missing_directory_is_refused_before_the_rerun(
    repo: Path, run_id: str
) -> None:
    refused(
        repo,
        "reproduce",
        run_id,
        "--yes",
        "--report",
        "/missing/dir/r.md",
        code=2,
        says="--report: cannot write /missing/dir/r.md: directory /missing/dir does not exist",
    )
    assert not (lineage_dir(repo) / "worktrees").exists()  # nothing was checked out


def test_an_output_name_with_a_newline_is_echoed_escaped(repo: Path) -> None:
    result = refused(repo, "graph", "HEAD", "-o", "no\ndir/g.dot", code=2, says="no\\ndir")
    assert "no\ndir" not in result.stderr


@needs_mounts
def test_audit_junit_onto_a_read_only_file_system_is_refused(repo: Path, tmp_path: Path) -> None:
    (repo / "reports").mkdir()
    env = mounted(tmp_path, read_only=(repo / "reports",))
    refused(
        repo,
        "audit",
        "--junit",
        "reports/a.xml",
        env=env,
        code=2,
        says="reports is on a read-only file system",
    )


# -- a read-only .git: read-only commands answer, writing ones say where ---------------------


READ_COMMANDS = {
    "log": ("log",),
    "show": ("show", "HEAD"),
    "graph": ("graph", "HEAD"),
    "impact": ("impact", "HEAD", "--no-aliases"),
    "diff": ("diff", "RUN", "RUN"),
    "audit": ("audit", "--all"),
}


@needs_mounts
@pytest.mark.parametrize("command", READ_COMMANDS.values(), ids=list(READ_COMMANDS))
def test_read_only_git_dir_still_answers_from_a_temporary_index(
    repo: Path, run_id: str, tmp_path: Path, command: tuple[str, ...]
) -> None:
    args = [run_id if a == "RUN" else a for a in command]
    expected = run_cli(repo, *args)  # the same answer with the index in place
    before = index_file(repo).read_bytes()
    result = warned(
        repo,
        *args,
        env=mounted(tmp_path, read_only=(repo / ".git",)),
        code=expected.returncode,
        says=f"cannot use the index {index_file(repo)} ({lineage_dir(repo)} is on a read-only "
        "file system); answering from a temporary index",
    )
    assert result.stdout == expected.stdout
    assert index_file(repo).read_bytes() == before  # never deleted nor rewritten


@needs_mounts
def test_read_only_git_dir_without_an_index_answers_from_the_records(
    repo: Path, tmp_path: Path
) -> None:
    sh("lineage", "run", "--", "true", cwd=repo)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{index_file(repo)}{suffix}").unlink(missing_ok=True)
    result = warned(
        repo, "log", env=mounted(tmp_path, read_only=(repo / ".git",)), says="temporary index"
    )
    assert result.stdout.count("SUCCEEDED") == 2
    assert not index_file(repo).exists()


@needs_mounts
def test_run_on_a_read_only_git_dir_is_refused_before_the_command_runs(
    repo: Path, tmp_path: Path
) -> None:
    refused(
        repo,
        "run",
        "--",
        "touch",
        "ran",
        env=mounted(tmp_path, read_only=(repo / ".git",)),
        code=1,
        says=f"cannot record: {lineage_dir(repo)} is on a read-only file system",
    )
    assert not (repo / "ran").exists()


@needs_mounts
def test_import_mlflow_on_a_read_only_git_dir_names_the_object_store(
    repo: Path, tmp_path: Path
) -> None:
    head = sh("git", "rev-parse", "HEAD", cwd=repo).stdout.strip()
    script = (
        "import mlflow\n"
        "mlflow.set_experiment('exp')\n"
        "with mlflow.start_run():\n"
        f"    mlflow.set_tag('mlflow.source.git.commit', '{head}')\n"
        "    mlflow.log_metric('score', 0.5)\n"
    )
    sh(BIN / "python", "-c", script, cwd=tmp_path)
    refused(
        repo,
        "import",
        "mlflow",
        "--experiment",
        "exp",
        env=mounted(tmp_path, read_only=(repo / ".git",)),
        code=1,
        says=f"cannot record: {repo / '.git' / 'objects'} is on a read-only file system",
    )


@needs_normal_user
def test_run_with_a_git_dir_made_read_only_by_chmod_is_refused(repo: Path) -> None:
    sh("chmod", "-R", "a-w", ".git", cwd=repo)
    try:
        refused(repo, "run", "--", "true", code=1, says="not writable (permission denied)")
    finally:
        sh("chmod", "-R", "u+w", ".git", cwd=repo)


# -- damaged local state -------------------------------------------------------------------


@pytest.mark.parametrize("command", [("log",), ("show", "HEAD"), ("graph", "HEAD")])
def test_an_index_that_is_a_directory_is_answered_around_and_left_alone(
    repo: Path, command: tuple[str, ...]
) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{index_file(repo)}{suffix}").unlink(missing_ok=True)
    index_file(repo).mkdir()
    (index_file(repo) / "keep").write_text("not lineage's\n")
    result = warned(
        repo,
        *command,
        says=f"cannot use the index {index_file(repo)} (a directory is in its place); "
        "answering from a temporary index, thrown away afterwards (remove that directory",
    )
    assert "local-" in result.stdout
    assert (index_file(repo) / "keep").read_text() == "not lineage's\n"


def test_run_with_an_index_that_is_a_directory_still_records(repo: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{index_file(repo)}{suffix}").unlink(missing_ok=True)
    index_file(repo).mkdir()
    result = run_cli(repo, "run", "--", "true")
    assert result.returncode == 0, result.stderr
    later = warned(repo, "log", says="a directory is in its place")
    assert later.stdout.count("SUCCEEDED") == 2


def _drop_table(repo: Path, table: str) -> None:
    db = sqlite3.connect(index_file(repo))
    db.execute(f"DROP TABLE {table}")
    db.close()


@pytest.mark.parametrize(
    ("table", "command"),
    [
        ("runs", ("log",)),
        ("links", ("show", "HEAD")),  # the edges (a view over links since schema 6)
        ("nodes", ("impact", "HEAD", "--no-aliases")),
        ("records", ("graph", "HEAD")),
        ("reproductions", ("audit", "--all")),
    ],
    ids=["runs-log", "links-show", "nodes-impact", "records-graph", "reproductions-audit"],
)
def test_an_index_with_a_dropped_table_is_rebuilt_with_a_warning(
    repo: Path, table: str, command: tuple[str, ...]
) -> None:
    expected = run_cli(repo, *command).stdout
    _drop_table(repo, table)
    result = warned(
        repo,
        *command,
        says=f"the index {index_file(repo)} was damaged (table {table} missing); rebuilt it",
    )
    assert result.stdout == expected
    assert "warning" not in run_cli(repo, *command).stderr  # rebuilt in place, once


def test_an_index_of_random_bytes_is_rebuilt_with_a_warning(repo: Path) -> None:
    for suffix in ("-wal", "-shm"):
        Path(f"{index_file(repo)}{suffix}").unlink(missing_ok=True)
    index_file(repo).write_bytes(os.urandom(8192))
    result = warned(repo, "log", says=f"the index {index_file(repo)} was damaged; rebuilt it")
    assert "local-" in result.stdout


def test_a_stat_cache_of_random_bytes_is_rebuilt_with_a_warning(repo: Path) -> None:
    sh("dvc", "init", "-q", cwd=repo)
    (repo / "data.csv").write_text("a,b\n1,2\n")
    sh("dvc", "add", "-q", "data.csv", cwd=repo)
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-q", "-m", "Track data", cwd=repo)
    statcache = lineage_dir(repo) / "statcache.sqlite"
    statcache.write_bytes(os.urandom(8192))
    warned(
        repo,
        "run",
        "--",
        "cat",
        "data.csv",
        says=f"the stat cache {statcache} was damaged; rebuilt it",
    )
    assert statcache.read_bytes().startswith(b"SQLite format 3\x00")


LINEAGE_DIR_COMMANDS = {
    "log": ("log",),
    "show": ("show", "HEAD"),
    "graph": ("graph", "HEAD"),
    "impact": ("impact", "HEAD", "--no-aliases"),
    "audit": ("audit", "--all"),
    "run": ("run", "--", "touch", "ran"),
}


@pytest.mark.parametrize("command", LINEAGE_DIR_COMMANDS.values(), ids=list(LINEAGE_DIR_COMMANDS))
def test_a_file_in_place_of_the_lineage_directory_is_named(
    repo: Path, command: tuple[str, ...]
) -> None:
    shutil.rmtree(lineage_dir(repo))
    lineage_dir(repo).write_text("someone's notes\n")
    refused(
        repo,
        *command,
        code=1,
        says=f"{lineage_dir(repo)} is a file, not lineage's directory; move it aside",
    )
    assert lineage_dir(repo).read_text() == "someone's notes\n"
    assert not (repo / "ran").exists()


def test_a_file_in_place_of_the_lineage_directory_does_not_break_git_commit(repo: Path) -> None:
    sh("lineage", "hooks", "install", cwd=repo)
    shutil.rmtree(lineage_dir(repo))
    lineage_dir(repo).write_text("someone's notes\n")
    (repo / "train.py").write_text("print('training v2')\n")
    sh("git", "commit", "-q", "-am", "Train v2", cwd=repo)
    assert sh("git", "log", "-1", "--format=%s", cwd=repo).stdout == "Train v2\n"


def test_git_commit_with_an_index_that_is_a_directory_still_commits(repo: Path) -> None:
    sh("lineage", "hooks", "install", cwd=repo)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{index_file(repo)}{suffix}").unlink(missing_ok=True)
    index_file(repo).mkdir()
    (repo / "train.py").write_text("print('training v2')\n")
    result = sh("git", "commit", "-q", "-am", "Train v2", cwd=repo)
    assert "Traceback" not in result.stderr
    assert sh("git", "log", "-1", "--format=%s", cwd=repo).stdout == "Train v2\n"


def test_git_commit_with_an_invalid_config_is_refused_by_the_hook_in_one_line(
    repo: Path,
) -> None:
    sh("lineage", "hooks", "install", cwd=repo)
    (repo / ".lineage" / "config.toml").write_text("[hooks\nmax_file_mb = 1\n")
    (repo / "train.py").write_text("print('training v2')\n")
    head = sh("git", "rev-parse", "HEAD", cwd=repo).stdout
    result = sh("git", "commit", "-q", "-am", "Train v2", cwd=repo, check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if "error" in line] == [
        "lineage: error: .lineage/config.toml is not valid TOML (Expected ']' at the end of a "
        "table declaration (at line 1, column 7)); fix or delete it; or commit with --no-verify"
    ]
    assert sh("git", "rev-parse", "HEAD", cwd=repo).stdout == head


CONFIG_COMMANDS = {
    "log": ("log",),
    "run": ("run", "--", "touch", "ran"),
    "init": ("init",),
    "reproduce": ("reproduce", "HEAD", "--dry-run"),
}


@pytest.mark.parametrize("command", CONFIG_COMMANDS.values(), ids=list(CONFIG_COMMANDS))
def test_a_directory_in_place_of_the_config_is_named(repo: Path, command: tuple[str, ...]) -> None:
    config = repo / ".lineage" / "config.toml"
    config.unlink()
    config.mkdir()
    refused(repo, *command, code=1, says=f"cannot read {config} (Is a directory)")
    assert not (repo / "ran").exists()


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[metrics\nmain = 'x'\n", ".lineage/config.toml is not valid TOML"),
        ("metrics = 5\n", "metrics must be a table ([metrics] on a line of its own), not 5"),
        ('reproduce = "loose"\n', "reproduce must be a table ([reproduce] on a line of its own)"),
        ("[environment]\nvariables = 'SEED'\n", "[environment] variables must be a list"),
    ],
    ids=["invalid-toml", "metrics-a-number", "reproduce-a-string", "variables-a-string"],
)
def test_a_config_that_cannot_be_used_stops_run_before_the_command(
    repo: Path, text: str, says: str
) -> None:
    (repo / ".lineage" / "config.toml").write_text(text)
    refused(repo, "run", "--", "touch", "ran", code=1, says=says)
    assert not (repo / "ran").exists()


# -- a full disk: the real cause, the path, and what to do ----------------------------------


@needs_mounts
@pytest.mark.parametrize("command", [("log",), ("show", "HEAD")], ids=["log", "show"])
def test_a_full_disk_under_the_index_is_named_with_the_next_step(
    repo: Path, tmp_path: Path, command: tuple[str, ...]
) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{index_file(repo)}{suffix}").unlink(missing_ok=True)
    result = refused(
        repo,
        *command,
        env=mounted(tmp_path, full=lineage_dir(repo)),
        code=1,
        says=f"the disk holding the index {index_file(repo)} is full",
    )
    assert "free some space" in result.stderr
    assert "cannot rollback" not in result.stderr


@needs_mounts
def test_run_on_a_full_disk_is_refused_before_the_command_runs(repo: Path, tmp_path: Path) -> None:
    refused(
        repo,
        "run",
        "--",
        "touch",
        "ran",
        env=mounted(tmp_path, full=lineage_dir(repo)),
        code=1,
        says=f"cannot record: the disk holding {lineage_dir(repo)} is full; free some space",
    )
    assert not (repo / "ran").exists()


# -- hooks install where hooks cannot be written ----------------------------------------------


@needs_mounts
def test_hooks_install_on_a_read_only_hooks_directory_installs_nothing(
    repo: Path, tmp_path: Path
) -> None:
    hooks = repo / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    (hooks / "pre-commit").write_text("#!/bin/sh\nexit 0\n")
    (hooks / "pre-commit").chmod(0o755)
    refused(
        repo,
        "hooks",
        "install",
        env=mounted(tmp_path, read_only=(hooks,)),
        code=1,
        says=f"cannot install hooks in {hooks}: {hooks} is on a read-only file system",
    )
    assert sorted(p.name for p in hooks.iterdir()) == ["pre-commit"]


@needs_mounts
def test_hooks_install_on_an_unwritable_core_hooks_path_installs_nothing(
    repo: Path, tmp_path: Path
) -> None:
    shared = tmp_path / "shared-hooks"
    shared.mkdir()
    sh("git", "config", "core.hooksPath", str(shared), cwd=repo)
    refused(
        repo,
        "hooks",
        "install",
        env=mounted(tmp_path, read_only=(shared,)),
        code=1,
        says=f"cannot install hooks in {shared}",
    )
    assert list(shared.iterdir()) == []


@needs_normal_user
def test_hooks_install_on_a_hooks_directory_made_read_only_by_chmod(repo: Path) -> None:
    hooks = repo / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    hooks.chmod(0o555)
    try:
        refused(repo, "hooks", "install", code=1, says="permission denied")
    finally:
        hooks.chmod(0o755)
