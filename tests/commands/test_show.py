"""`lineage show REF`: every REF form on a recorded project, the one-line errors of bad ones, and
answers that survive a deleted index and a corrupted record; a grid search on a dirty tree
whose code was committed afterwards (through the real post-commit hook)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import sh
from tests.helpers import GRID, commit_all, lineage, write
from tests.scenarios import Recorded, hermetic_env


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("churn/7", "model 'churn' has no recorded version 7; recorded versions: 1, 2"),
        (
            "models:/churn",
            "malformed model URI 'models:/churn'; use models:/NAME/VERSION or models:/NAME@ALIAS",
        ),
        (
            "churn",
            "'churn' names a model; give a version or an alias: churn/1, churn/2 or churn@ALIAS",
        ),
        (
            "ffff0000",
            "nothing recorded matches 'ffff0000': no run, commit, data md5 or record starts "
            "with it; `lineage log` lists recorded runs",
        ),
        ("data/raw.csv@0000", None),
        (
            "data/train.csv",
            "no recorded run read or wrote 'data/train.csv', and it names no commit or model; "
            "give a recorded one: data/raw.csv",
        ),
    ],
)
def test_bad_refs_get_one_line_errors(recorded: Recorded, ref: str, message: str | None) -> None:
    proc = recorded.lineage("show", ref, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("lineage: error: ")
    if message:
        assert proc.stderr == f"lineage: error: {message}\n"
    else:
        assert proc.stderr.startswith(
            "lineage: error: data/raw.csv has no recorded version starting '0000'; "
            "recorded versions: "
        )


def test_unknown_alias_and_unknown_model_come_from_the_registry(recorded: Recorded) -> None:
    proc = recorded.lineage("show", "churn@nope", check=False)
    assert proc.returncode == 1 and proc.stderr.startswith(
        "lineage: error: model 'churn' has no alias 'nope'"
    )
    proc = recorded.lineage("show", "chrun/1", check=False)
    assert proc.returncode == 1 and "no registered model named 'chrun'" in proc.stderr
    assert "churn" in proc.stderr


def test_show_of_commit_data_and_path_at_md5(recorded: Recorded) -> None:
    head = sh("git", "rev-parse", "HEAD", cwd=recorded.repo).stdout.strip()
    commit = recorded.json("show", head[:8])
    assert commit["node"]["kind"] == "commit" and commit["node"]["subject"] == "train"
    assert [n["rel"] for n in commit["neighbours"]] == ["code", "code"]
    md5 = recorded.json("log")[0]
    data_md5 = recorded.json("show", md5["run"])["record"]["inputs"][0]["md5"]
    by_md5 = recorded.json("show", data_md5)
    by_path = recorded.json("show", f"data/raw.csv@{data_md5[:6]}")
    assert by_md5["node"]["id"] == by_path["node"]["id"] == data_md5
    assert len(by_md5["neighbours"]) == 2
    text = recorded.lineage("show", f"data/raw.csv@{data_md5[:6]}").stdout
    assert text.startswith(f"data {data_md5}   at data/raw.csv\n")


def test_a_run_id_as_log_prints_it_resolves_like_a_short_sha(
    recorded: Recorded, tmp_path: Path
) -> None:
    recorded = recorded.copy(tmp_path)  # this test changes it
    recorded.lineage("run", "--", "true")
    [line] = recorded.lineage("log", "-n", "1").stdout.splitlines()
    printed = line.split()[2]
    full = recorded.json("log")[0]["run"]
    assert printed.startswith("local-") and full.startswith(printed) and printed != full
    assert recorded.json("show", printed)["node"]["id"] == full
    assert recorded.json("show", printed.upper())["node"]["id"] == full

    unknown = "local-0000" if not full.startswith("local-0000") else "local-ffff"
    proc = recorded.lineage("show", unknown, check=False)
    assert proc.returncode == 1 and proc.stderr == (
        f"lineage: error: no recorded run starts with '{unknown}'; "
        "`lineage log` lists recorded runs\n"
    )


def test_index_deleted_and_rebuilt_gives_identical_answers(
    recorded: Recorded, tmp_path: Path
) -> None:
    recorded = recorded.copy(tmp_path)  # this test changes it
    run = recorded.json("log")[0]["run"]
    before = [recorded.lineage("show", ref, "--json").stdout for ref in (run, "churn/1")]
    log_before = recorded.lineage("log", "--json").stdout
    (recorded.repo / ".git" / "lineage" / "index.sqlite").unlink()
    after = [recorded.lineage("show", ref, "--json").stdout for ref in (run, "churn/1")]
    assert after == before and recorded.lineage("log", "--json").stdout == log_before


def test_corrupted_record_is_reported_and_skipped(recorded: Recorded, tmp_path: Path) -> None:
    recorded = recorded.copy(tmp_path)  # this test changes it
    # Put a blob whose content does not hash to its name into the store, as a bad merge might.
    bad = "ab" + "0" * 62
    blob = sh(
        "git", "hash-object", "-w", "--stdin", cwd=recorded.repo, input='{"schema":1}'
    ).stdout.strip()
    tip = sh("git", "rev-parse", "refs/lineage/records", cwd=recorded.repo).stdout.strip()
    sh("git", "read-tree", "--index-output=.git/tmp-index", tip, cwd=recorded.repo)
    env = {**os.environ, "GIT_INDEX_FILE": ".git/tmp-index"}
    sh(
        "git",
        "update-index",
        "--add",
        "--cacheinfo",
        f"100644,{blob},ab/{bad[2:]}.json",
        cwd=recorded.repo,
        env=env,
    )
    tree = sh("git", "write-tree", cwd=recorded.repo, env=env).stdout.strip()
    commit = sh(
        "git", "commit-tree", tree, "-p", tip, "-m", "bad", cwd=recorded.repo
    ).stdout.strip()
    sh("git", "update-ref", "refs/lineage/records", commit, cwd=recorded.repo)
    proc = recorded.lineage("log")
    assert len(proc.stdout.splitlines()) == 2  # the good records still answer
    assert proc.stderr == (
        f"lineage: warning: record {bad[:12]} in refs/lineage/records is corrupted (its content "
        "does not match its name) and was skipped; fetch a good copy from a clone that has it\n"
    )


def test_json_output_is_valid_and_paths_are_repository_relative(recorded: Recorded) -> None:
    out = recorded.lineage("-C", "data", "show", "churn/2", "--json").stdout
    doc = json.loads(out)
    assert doc["record"]["command"]["cwd"] == "."
    assert str(recorded.repo) not in out


def test_a_bare_data_path_is_its_latest_version_and_says_so(recorded: Recorded) -> None:
    runs = sorted(entry["run"] for entry in recorded.json("log"))
    md5 = recorded.json("show", runs[0])["record"]["inputs"][0]["md5"]
    assert recorded.lineage("show", "data/raw.csv").stdout == (
        f"data {md5}   at data/raw.csv\n"
        f"data/raw.csv: the only version recorded, {md5[:10]}\n"
        "\n"
        f"-> input      run {runs[0]}  data/raw.csv  (observed)\n"
        f"-> input      run {runs[1]}  data/raw.csv  (observed)\n"
    )
    assert recorded.json("show", "data/raw.csv")["node"] == {
        "kind": "data",
        "id": md5,
        "path": "data/raw.csv",
        "resolved_from": "data/raw.csv",
        "versions": [md5],
    }
    inside = recorded.json("-C", "data", "show", "raw.csv")["node"]
    assert (inside["id"], inside["path"], inside["resolved_from"]) == (
        md5,
        "data/raw.csv",
        "raw.csv",
    )


# -- a grid search on a dirty tree, committed afterwards -----------------------------------------


@dataclass(frozen=True)
class DirtyGrid:
    repo: Path
    env: dict[str, str]
    base: str  # the commit the grid search's dirty tree was based on
    snapshot: str  # the snapshot commit of that tree, shared by the six runs
    committed: str  # the commit that then took the same code (attached by the hook)
    runs: list[str]  # the six MLflow run ids, sorted

    def show(self, ref: str) -> str:
        return lineage(self.repo, "show", ref, env=self.env).stdout


@pytest.fixture(scope="module")
def dirty_grid(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DirtyGrid]:
    """`lineage run -- python grid.py` (six MLflow runs) on an uncommitted edit of grid.py,
    then `git commit` of that edit through lineage's real post-commit hook."""
    base_dir = tmp_path_factory.mktemp("dirty-grid")
    env = hermetic_env(base_dir)
    repo = base_dir / "repo"
    with pytest.MonkeyPatch.context() as patch:
        for key in set(os.environ) - set(env):
            patch.delenv(key)
        for key, value in env.items():
            patch.setenv(key, value)
        repo.mkdir()
        sh("git", "init", "-q", cwd=repo)
        write(repo, ".gitignore", "mlflow.db\nmlruns/\nmlartifacts/\n")
        write(repo, "grid.py", GRID)
        lineage(repo, "init")
        base = commit_all(repo, "Grid search")
        lineage(repo, "hooks", "install", "--hook", "post-commit")
        write(repo, "grid.py", GRID + "# next: depth 8\n")
        lineage(repo, "run", "--", "python", "grid.py")
        committed = commit_all(repo, "Widen the grid")
        log = json.loads(lineage(repo, "log", "--json").stdout)
    snapshots = {entry["snapshot"] for entry in log}
    assert len(log) == 6 and len(snapshots) == 1, log
    yield DirtyGrid(repo, env, base, snapshots.pop(), committed, sorted(e["run"] for e in log))


def test_a_base_commit_shows_its_snapshot_once_and_the_runs_made_through_it(
    dirty_grid: DirtyGrid,
) -> None:
    g = dirty_grid
    assert g.show(g.base[:10]) == "".join(
        [
            f'commit {g.base}   "Grid search"\n',
            "\n",
            f"-> snapshot   commit {g.snapshot}  (observed)\n",
            *(
                f"-> code       run {run}  via snapshot {g.snapshot[:10]}  (observed)\n"
                for run in g.runs
            ),
        ]
    )
    assert g.show(g.snapshot) == "".join(
        [
            f'commit {g.snapshot}   "lineage snapshot of a dirty working tree"\n',
            "\n",
            *(f"-> code       run {run}  (observed)\n" for run in g.runs),
            f"<- snapshot   commit {g.base}  (observed)\n",
        ]
    )


def test_a_run_on_a_dirty_tree_says_which_commit_took_its_code_later(
    dirty_grid: DirtyGrid,
) -> None:
    g = dirty_grid
    lines = g.show(g.runs[0]).splitlines()
    code = lines.index(f"code      {g.base} (main)  dirty")
    assert lines[code + 1 : code + 3] == [
        f"          snapshot {g.snapshot} of the exact tree; changed: grid.py",
        f'          committed later as {g.committed}  "Widen the grid"',
    ]
    # ... as the JSON has it, and the commit lists the runs it took the code of.
    neighbours = json.loads(lineage(g.repo, "show", g.runs[0], "--json", env=g.env).stdout)
    code_from = {n["id"] for n in neighbours["neighbours"] if n["rel"] == "code"}
    assert code_from == {g.snapshot, g.committed}
    assert g.show("HEAD") == "".join(
        [
            f'commit {g.committed}   (HEAD)   "Widen the grid"\n',
            "\n",
            *(f"-> code       run {run}  (observed)\n" for run in g.runs),
        ]
    )
