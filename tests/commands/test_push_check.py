"""What the pre-push hook demands of the DVC remotes (issue 13), on a real git + DVC project
with two DVC remotes, runs recorded by `lineage run -- dvc repro`, and the hooks installed:

    train     data/raw.csv -> model.pkl (remote: models), scratch.bin (push: false),
              features.csv, metrics.json (cache: false)
    evaluate  model.pkl, scratch.bin, features.csv, metrics.json -> report.csv

Run A runs train; run B, before anything is committed, evaluate (so it reads all four of
A's outputs); then one commit. Nothing is pushed: `git push` goes through the real hook.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from lineage.commands.push_check import Needed, needed, push_command
from lineage.context import Context
from tests.conftest import sh
from tests.helpers import commit_all, lineage, lineage_json, write
from tests.scenarios import hermetic_env

TRAIN = """\
import os, pathlib
raw = pathlib.Path("data/raw.csv").read_text()
pathlib.Path("model.pkl").write_text(f"model of {len(raw)} bytes{os.environ.get('SALT', '')}\\n")
pathlib.Path("scratch.bin").write_text(f"scratch {raw}")
pathlib.Path("features.csv").write_text(raw.upper())
pathlib.Path("metrics.json").write_text('{"rows": %d}' % raw.count("\\n"))
if os.environ.get("MODEL"):  # register the model from an MLflow run
    import mlflow
    mlflow.set_experiment("push-check")
    with mlflow.start_run() as run:
        client = mlflow.MlflowClient()
        client.create_registered_model(os.environ["MODEL"])
        source = f"runs:/{run.info.run_id}/m"
        client.create_model_version(os.environ["MODEL"], source, run.info.run_id)
"""

EVALUATE = """\
import pathlib
read = [pathlib.Path(p).read_text() for p in ("model.pkl", "scratch.bin", "features.csv",
                                              "metrics.json")]
pathlib.Path("report.csv").write_text(f"score,{sum(map(len, read))}\\n")
"""

PIPELINE = """\
stages:
  train:
    cmd: python train.py
    deps: [train.py, data/raw.csv]
    outs:
      - model.pkl:
          remote: models
      - scratch.bin:
          push: false
      - features.csv
    metrics:
      - metrics.json:
          cache: false
  evaluate:
    cmd: python evaluate.py
    deps: [evaluate.py, model.pkl, scratch.bin, features.csv, metrics.json]
    outs:
      - report.csv
"""

SKIP = "lineage: then push again, or `git push --no-verify` to skip this check"


@dataclass(frozen=True)
class Team:
    repo: Path
    origin: Path
    storage: Path  # the default DVC remote
    models: Path  # the remote model.pkl names

    def md5(self, path: str) -> str:
        """The md5 the work tree's dvc.lock (or .dvc file) gives ``path``."""
        if (self.repo / f"{path}.dvc").exists():
            return str(yaml.safe_load((self.repo / f"{path}.dvc").read_text())["outs"][0]["md5"])
        stages = yaml.safe_load((self.repo / "dvc.lock").read_text())["stages"]
        outs = [o for s in stages.values() for o in s.get("outs", ())]
        return str(next(o["md5"] for o in outs if o["path"] == path))

    def push(self, *args: str) -> list[str]:
        """`git push` through the hook: its exit code and what lineage said."""
        proc = sh("git", "push", "-q", *args, "origin", "main", cwd=self.repo, check=False)
        lines = [line for line in proc.stderr.splitlines() if line.startswith("lineage:")]
        return [str(proc.returncode), *lines]

    def held(self, remote: Path, md5: str) -> bool:
        return (remote / "files" / "md5" / md5[:2] / md5[2:]).exists()


def build(base: Path) -> Team:
    """Remotes are absolute paths: `dvc push --all-commits` reads each commit's committed
    .dvc/config, and resolves a relative remote there against the root of the git tree."""
    team = Team(base / "repo", base / "origin.git", base / "storage", base / "models")
    sh("git", "init", "-q", "--bare", team.origin, cwd=base)
    team.repo.mkdir()
    repo = team.repo
    sh("git", "init", "-q", cwd=repo)
    sh("dvc", "init", "-q", cwd=repo)
    sh("dvc", "remote", "add", "-d", "storage", team.storage, cwd=repo)
    sh("dvc", "remote", "add", "models", team.models, cwd=repo)
    write(repo, ".gitignore", "mlflow.db\nmlruns/\nmlartifacts/\n")
    write(repo, "data/raw.csv", "id,value\n1,10\n2,20\n")
    sh("dvc", "add", "-q", "data/raw.csv", cwd=repo)
    write(repo, "train.py", TRAIN)
    write(repo, "evaluate.py", EVALUATE)
    write(repo, "dvc.yaml", PIPELINE)
    lineage(repo, "init")
    commit_all(repo, "Start")
    sh("git", "remote", "add", "origin", team.origin, cwd=repo)
    lineage(repo, "hooks", "install")
    lineage(repo, "run", "--", "dvc", "repro", "-q", "train")
    lineage(repo, "run", "--", "dvc", "repro", "-q", "evaluate")
    commit_all(repo, "Train and evaluate")
    return team


@pytest.fixture
def team(tmp_path: Path) -> Team:
    return build(tmp_path)


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Team:
    """One build the read-only tests share."""
    base = tmp_path_factory.mktemp("push-check")
    env = hermetic_env(base)  # the autouse `hermetic` fixture is not set up yet
    with pytest.MonkeyPatch.context() as patch:
        for key in set(os.environ) - set(env):
            patch.delenv(key)
        for key, value in env.items():
            patch.setenv(key, value)
        return build(base)


def demanded(team: Team) -> list[Needed]:
    head = sh("git", "rev-parse", "HEAD", cwd=team.repo).stdout.strip()
    commits = sh("git", "rev-list", head, cwd=team.repo).stdout.split()
    with Context(team.repo, dict(os.environ)) as ctx:
        return needed(ctx.paths, ctx.index.pushed_runs(commits), ctx.index.readers)


def recorded_paths(team: Team, side: str) -> set[str]:
    return {d["path"] for run in lineage_json(team.repo, "log") for d in _record(team, run)[side]}


def _record(team: Team, entry: dict[str, object]) -> dict[str, list[dict[str, str]]]:
    return lineage_json(team.repo, "show", str(entry["run"]))["record"]  # type: ignore[no-any-return]


def test_demanded_are_the_inputs_and_the_outputs_a_later_run_read(shared: Team) -> None:
    assert [(n.path, n.md5, n.remote) for n in demanded(shared)] == [
        ("data/raw.csv", shared.md5("data/raw.csv"), None),
        ("features.csv", shared.md5("features.csv"), None),
        ("model.pkl", shared.md5("model.pkl"), "models"),
    ]
    assert "report.csv" in recorded_paths(shared, "outputs")  # read by no run: not demanded


def test_a_cache_false_output_is_not_demanded(shared: Team) -> None:
    assert "metrics.json" in recorded_paths(shared, "inputs")  # B read it
    assert "metrics.json" not in {n.path for n in demanded(shared)}


def test_a_push_false_output_is_not_demanded(shared: Team) -> None:
    assert "scratch.bin" in recorded_paths(shared, "inputs")
    assert "scratch.bin" not in {n.path for n in demanded(shared)}


def test_each_output_is_checked_against_the_remote_it_names(team: Team) -> None:
    sh("dvc", "push", "-q", "-r", "storage", cwd=team.repo)  # skips model.pkl (remote: models)
    model = team.md5("model.pkl")
    assert team.held(team.storage, team.md5("features.csv")) and not team.held(team.models, model)

    assert team.push() == [
        "1",
        "lineage: refusing to push: runs on these commits used 1 data object(s) that DVC "
        "remote 'models' does not have; run `dvc push -r models model.pkl`:",
        f"lineage:   model.pkl {model}",
        SKIP,
    ]
    sh("dvc", "push", "-q", "-r", "models", "model.pkl", cwd=team.repo)
    assert team.push()[0] == "0"


def test_data_the_work_tree_names_is_sent_by_a_plain_dvc_push(team: Team) -> None:
    assert team.push() == [
        "1",
        "lineage: refusing to push: runs on these commits used 1 data object(s) that DVC "
        "remote 'models' does not have; run `dvc push -r models model.pkl`:",
        f"lineage:   model.pkl {team.md5('model.pkl')}",
        "lineage: and 2 data object(s) that DVC remote 'storage' does not have; run `dvc push`:",
        f"lineage:   data/raw.csv {team.md5('data/raw.csv')}",
        f"lineage:   features.csv {team.md5('features.csv')}",
        SKIP,
    ]
    sh("dvc", "push", "-q", cwd=team.repo)
    assert team.push()[0] == "0"


def test_data_of_older_commits_is_named_with_all_commits_and_its_remote(team: Team) -> None:
    old = {path: team.md5(path) for path in ("data/raw.csv", "features.csv", "model.pkl")}
    write(team.repo, "data/raw.csv", "id,value\n1,10\n2,20\n3,30\n")
    sh("dvc", "add", "-q", "data/raw.csv", cwd=team.repo)
    lineage(team.repo, "run", "--", "dvc", "repro", "-q")
    commit_all(team.repo, "More data")
    sh("dvc", "push", "-q", cwd=team.repo)  # the work tree's data only

    assert team.push() == [
        "1",
        "lineage: refusing to push: runs on these commits used 1 data object(s) that DVC "
        "remote 'models' does not have; run `dvc push -r models --all-commits model.pkl`:",
        f"lineage:   model.pkl {old['model.pkl']}",
        "lineage: and 2 data object(s) that DVC remote 'storage' does not have; run `dvc push "
        "-r storage --all-commits`:",
        f"lineage:   data/raw.csv {old['data/raw.csv']}",
        f"lineage:   features.csv {old['features.csv']}",
        SKIP,
    ]
    sh("dvc", "push", "-q", "-r", "models", "--all-commits", "model.pkl", cwd=team.repo)
    sh("dvc", "push", "-q", "-r", "storage", "--all-commits", cwd=team.repo)
    assert team.push()[0] == "0"


def test_a_reproductions_rerun_is_not_demanded(team: Team) -> None:
    start = sh("git", "rev-parse", "HEAD~1", cwd=team.repo).stdout.strip()
    train_run = str(lineage_json(team.repo, "log")[-1]["run"])  # A, on the Start commit
    # SALT changes model.pkl: the rerun's model exists only in its (removed) worktree. MODEL
    # and --register have the rerun register a model: a run that produced a model has its
    # outputs demanded, unless it is a rerun.
    proc = sh("lineage", "reproduce", train_run, "--register", "--json", cwd=team.repo, check=False,
              env={**os.environ, "SALT": "!", "MODEL": "m"})  # fmt: skip
    report = json.loads(proc.stdout)
    assert report["verdict"] == "differs", proc.stderr
    rerun = lineage_json(team.repo, "show", report["rerun"]["run"])["record"]
    assert rerun["code"]["commit"] == start  # a commit this push publishes
    assert rerun["models"]
    model = next(c["rerun"] for c in report["outputs"] if c["name"] == "model.pkl")
    assert model in {d["md5"] for d in rerun["outputs"]} and model != team.md5("model.pkl")

    sh("dvc", "push", "-q", cwd=team.repo)

    assert team.push()[0] == "0"
    assert not team.held(team.models, model) and not team.held(team.storage, model)


@pytest.mark.parametrize(
    ("remote", "current", "targets", "command"),
    [
        ("storage", True, ["a"], "dvc push"),
        ("storage", False, ["a"], "dvc push -r storage --all-commits"),
        (None, False, ["a"], "dvc push --all-commits"),
        ("models", True, ["m.pkl"], "dvc push -r models m.pkl"),
        ("models", False, ["m.pkl"], "dvc push -r models --all-commits m.pkl"),
        ("models", True, ["a", "b", "c", "d"], "dvc push"),
        ("models", False, ["a", "b", "c", "d"], "dvc push --all-commits"),
        ("models", True, ["my data"], "dvc push -r models 'my data'"),
    ],
)
def test_the_push_command_names_what_sends_the_objects(
    remote: str | None, current: bool, targets: list[str], command: str
) -> None:
    assert push_command(remote, default="storage", current=current, targets=targets) == command
