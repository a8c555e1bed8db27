"""Reading W&B run directories made by the real wandb package, offline."""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

import pytest

from lineage.adapters import wandb_runs
from lineage.adapters.wandb_runs import WandbRunError
from tests.conftest import sh
from tests.helpers import write
from tests.wandb_helpers import TWO_RUNS, wandb_env


class Made:
    def __init__(self, repo: Path, commit: str) -> None:
        self.repo = repo
        self.commit = commit

    def directories(self) -> list[Path]:
        found = wandb_runs.run_directories(self.repo / "wandb")
        return sorted(found, key=lambda d: wandb_runs.read_run(d, root=self.repo).run.name or "")


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Made:
    """Two W&B runs of one process in a git repository, made without lineage."""
    base = tmp_path_factory.mktemp("wandb-runs")
    repo = base / "repo"
    repo.mkdir()
    sh("git", "init", "-q", "-b", "main", cwd=repo)
    write(repo, "data/raw.csv", "id,value\n1,10\n2,20\n")
    write(repo, "src/train.py", "print('training')\n")
    write(repo, "train.py", TWO_RUNS)
    env = wandb_env(
        base / "home",
        GIT_AUTHOR_NAME="A",
        GIT_AUTHOR_EMAIL="a@example.com",
        GIT_COMMITTER_NAME="A",
        GIT_COMMITTER_EMAIL="a@example.com",
    )
    sh("git", "add", "-A", cwd=repo, env=env)
    sh("git", "commit", "-q", "-m", "train", cwd=repo, env=env)
    commit = sh("git", "rev-parse", "HEAD", cwd=repo).stdout.strip()
    sh(sys.executable, "train.py", cwd=repo, env=env)
    return Made(repo, commit)


def test_a_run_directory_gives_the_run_path_config_summary_and_commit(made: Made) -> None:
    first, second = (wandb_runs.read_run(d, root=made.repo) for d in made.directories())
    run = first.run
    assert first.warnings == ()
    assert (run.path, run.name, run.group, run.job_type) == (
        f"acme/churn/{run.run_id}",
        "depth-3",
        "grid",
        "train",
    )
    assert run.key == f"wandb:churn/{run.run_id}"
    assert run.params == {"lr": "0.1", "model.depth": "3"}
    assert run.metrics == {"acc": 0.53, "best": 0.3, "loss": pytest.approx(1 / 3)}
    assert (run.git_commit, run.exit_code, run.offline) == (made.commit, 0, True)
    assert run.directory.startswith("wandb/offline-run-") and run.directory.endswith(run.run_id)
    assert second.run.params["model.depth"] == "5" and second.run.run_id != run.run_id


def test_logged_artifacts_carry_each_file_as_its_dvc_md5(made: Made) -> None:
    run = wandb_runs.read_run(made.directories()[0], root=made.repo).run
    data, model = run.artifacts
    raw_md5 = hashlib.md5((made.repo / "data/raw.csv").read_bytes()).hexdigest()
    assert (data.name, data.type, data.used, data.aliases) == ("raw", "dataset", False, ("latest",))
    assert [(f.path, f.md5, f.size) for f in data.files] == [("raw.csv", raw_md5, 19)]
    assert (model.type, model.aliases) == ("model", ("candidate", "latest"))


def _copy(made: Made, tmp_path: Path) -> tuple[Path, Path]:
    source = made.directories()[0]
    copy = tmp_path / "wandb" / source.name
    shutil.copytree(source, copy)
    return copy, next(copy.glob("run-*.wandb"))


def test_a_truncated_run_file_is_read_up_to_the_damage_with_a_warning(
    made: Made, tmp_path: Path
) -> None:
    copy, run_file = _copy(made, tmp_path)
    data = run_file.read_bytes()
    run_file.write_bytes(data[: len(data) - 40])
    read = wandb_runs.read_run(copy, root=tmp_path)
    shown = f"wandb/{copy.name}/{run_file.name}"
    assert read.warnings == (
        f"the W&B run file {shown} is truncated (it ends inside a record); what precedes the "
        "damage was recorded",
    )
    assert read.run.params == {"lr": "0.1", "model.depth": "3"}


def test_a_run_file_that_is_not_wandb_s_is_refused_in_one_sentence(
    made: Made, tmp_path: Path
) -> None:
    copy, run_file = _copy(made, tmp_path)
    run_file.write_bytes(b"not a run file at all")
    with pytest.raises(WandbRunError) as caught:
        wandb_runs.read_run(copy, root=tmp_path)
    assert str(caught.value) == (
        f"the W&B run file wandb/{copy.name}/{run_file.name} cannot be read (it does not start "
        "with W&B's header); it was skipped: if the run is still going, record it again once "
        "it has finished"
    )


def test_a_damaged_chunk_header_is_refused(made: Made, tmp_path: Path) -> None:
    copy, run_file = _copy(made, tmp_path)
    data = bytearray(run_file.read_bytes())
    data[7 + 6] = 9  # the first chunk's type byte: 9 is no LevelDB chunk type
    run_file.write_bytes(bytes(data))
    with pytest.raises(WandbRunError, match="a record header at byte 7 is damaged"):
        wandb_runs.read_run(copy, root=tmp_path)


def test_wandb_dir_is_honoured_and_cwd_and_root_are_searched(tmp_path: Path) -> None:
    found = wandb_runs.wandb_dirs(tmp_path / "sub", tmp_path, {"WANDB_DIR": "../out"})
    assert found == [
        (tmp_path / "out" / "wandb").resolve(),
        (tmp_path / "sub" / "wandb").resolve(),
        (tmp_path / "wandb").resolve(),
    ]
