"""iterative/example-get-started (tests/layouts/get_started.py) with lineage's Git hooks
installed, shared through a real bare Git remote and a DVC directory remote, the way a team
works: runs and commits, `dvc push`, `git push`, a `lineage reproduce`, more pushes, and a
teammate's fresh clone that reproduces the model. Never `--no-verify`: every push goes through
the real pre-push hook (issue 13)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import sh
from tests.layouts import get_started

pytestmark = pytest.mark.filterwarnings(
    "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
)


def lock_md5(repo: Path, stage: str, path: str) -> str:
    outs = yaml.safe_load((repo / "dvc.lock").read_text())["stages"][stage]["outs"]
    return str(next(o["md5"] for o in outs if o["path"] == path))


def train(project: get_started.Project, n_est: int, message: str) -> str:
    """Set the number of trees, `lineage run -- dvc repro`, commit; the model.pkl md5."""
    params = project.repo / "params.yaml"
    lines = [
        f"  n_est: {n_est}" if "n_est:" in line else line
        for line in params.read_text().splitlines()
    ]
    params.write_text("\n".join(lines) + "\n")
    project.lineage("run", "--", "dvc", "repro", "-q", MODEL="gs-model")
    project.commit(message)
    return lock_md5(project.repo, "train", "model.pkl")


def reproduce(project: get_started.Project, repo: Path) -> dict[str, object]:
    proc = project.sh("lineage", "-C", str(repo), "reproduce", "gs-model/2", "--json",
                      check=False, MODEL="gs-model")  # fmt: skip
    report: dict[str, object] = json.loads(proc.stdout)
    assert (proc.returncode, report["verdict"]) == (0, "bit-identical"), proc.stderr
    return report


def test_a_team_pushes_reproduces_and_clones_through_the_hooks(tmp_path: Path) -> None:
    p = get_started.build(tmp_path)
    origin = tmp_path / "origin.git"
    sh("git", "init", "-q", "--bare", str(origin), cwd=tmp_path, env=p.env)
    p.sh("git", "remote", "add", "origin", str(origin))
    assert "pre-push       installed" in p.lineage("hooks", "install").stdout
    first_model = train(p, 50, "Train with 50 trees")
    train(p, 100, "Train with 100 trees")
    p.sh("dvc", "push", "-q")

    # The first model's model.pkl is only in an older commit: `dvc push` did not send it.
    refused = p.sh("git", "push", "-q", "-u", "origin", "main", check=False)

    assert refused.returncode == 1
    assert refused.stderr.splitlines()[:3] == [
        "lineage: refusing to push: runs on these commits used 1 data object(s) that DVC "
        "remote 'storage' does not have; run `dvc push -r storage --all-commits`:",
        f"lineage:   model.pkl {first_model}",
        "lineage: then push again, or `git push --no-verify` to skip this check",
    ]
    assert p.sh("git", "ls-remote", str(origin)).stdout == ""

    # eval/metrics.json and the other `cache: false` outputs are never asked for (case 1).
    p.sh("dvc", "push", "-q", "-r", "storage", "--all-commits")
    pushed = p.sh("git", "push", "-q", "-u", "origin", "main")
    assert "lineage: pushed " in pushed.stderr and "refusing" not in pushed.stderr

    # A reproduction's rerun leaves outputs in a worktree that is gone: never asked for (case 2).
    reproduce(p, p.repo)
    (p.repo / "README.md").write_text("The get-started pipeline, with lineage.\n")
    p.commit("Say what this is")
    again = p.sh("git", "push", "-q")
    assert "lineage: pushed " in again.stderr and "refusing" not in again.stderr

    # A teammate: clone, pull the records and the data, rebuild the registered model.
    clone = tmp_path / "clone"
    sh("git", "clone", "-q", str(origin), str(clone), cwd=tmp_path, env=p.env)
    p.sh("lineage", "-C", str(clone), "pull")
    sh("dvc", "pull", "-q", cwd=clone, env=p.env)
    report = reproduce(p, clone)
    outputs = {c["name"]: c["status"] for c in report["outputs"]}  # type: ignore[attr-defined]
    assert outputs["model.pkl"] == "exact"
