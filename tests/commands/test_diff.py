"""`lineage diff A B`: two recorded model versions side by side (real git, DVC, MLflow)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import sh
from tests.helpers import TRAIN, commit_all, lineage, write
from tests.layouts import get_started


def test_diff_reports_data_params_metrics_code_and_directory_file_counts(
    dvc_repo: Path, mlflow_uri: str
) -> None:
    repo = dvc_repo
    for name in ("a", "b", "c"):
        write(repo, f"data/images/{name}.txt", f"image {name}\n")
    sh("dvc", "add", "-q", "data/images", cwd=repo)
    write(repo, "train.py", TRAIN)
    lineage(repo, "init")
    commit_all(repo, "Images and training")
    env = {**os.environ, "MODEL": "churn"}
    lineage(repo, "run", "--", "python", "train.py", "3", env=env)

    write(repo, "data/images/a.txt", "image a, relabelled\n")  # modified
    (repo / "data/images/c.txt").unlink()  # removed
    write(repo, "data/images/d.txt", "image d\n")  # added
    write(repo, "data/images/e.txt", "image e\n")  # added
    sh("dvc", "add", "-q", "data/images", cwd=repo)
    commit_all(repo, "More images")
    lineage(repo, "run", "--", "python", "train.py", "5", env=env)

    out = json.loads(lineage(repo, "diff", "churn/1", "churn/2", "--json").stdout)

    assert out["a"]["model"] == "churn/1" and out["b"]["model"] == "churn/2"
    images, raw = out["data"]
    assert images["path"] == "data/images" and images["status"] == "changed"
    assert images["a"].endswith(".dir") and images["b"].endswith(".dir")
    assert images["files"] == {"added": 2, "removed": 1, "modified": 1}
    assert raw["path"] == "data/raw.csv" and raw["status"] == "same" and raw["files"] is None
    assert out["params"] == [
        {"name": "depth", "a": "3", "b": "5", "delta": None, "status": "changed"}
    ]
    [score] = out["metrics"]
    assert (score["a"], score["b"]) == (0.3123456789, 0.5123456789)
    assert abs(score["delta"] - 0.2) < 1e-12 and score["status"] == "changed"
    assert out["code"]["same"] is False
    assert out["code"]["stat"].split("|")[0].strip() == "data/images.dvc"
    assert out["command"] == {
        "a": ["python", "train.py", "3"],
        "b": ["python", "train.py", "5"],
    }
    assert out["environment"] == [
        {
            "name": "python",
            "a": out["environment"][0]["a"],
            "b": out["environment"][0]["a"],
            "delta": None,
            "status": "same",
        }
    ]

    text = lineage(repo, "diff", "churn/1", "churn/2").stdout
    assert "(+2 added, -1 removed, ~1 modified files)" in text
    assert "params    depth  3 -> 5" in text
    assert "command   A: python train.py 3" in text


def test_diff_shows_the_code_a_dirty_tree_run_really_had(dvc_repo: Path, mlflow_uri: str) -> None:
    repo = dvc_repo
    write(repo, "train.py", TRAIN)
    lineage(repo, "init")
    commit_all(repo, "Training")
    lineage(repo, "run", "--", "python", "train.py", "4")
    write(repo, "train.py", TRAIN + "# tuned by hand, never committed\n")
    lineage(repo, "run", "--", "python", "train.py", "4")
    runs = [e["run"] for e in json.loads(lineage(repo, "log", "--json").stdout)]

    out = json.loads(lineage(repo, "diff", runs[1], runs[0], "--json").stdout)

    assert out["code"]["same"] is False
    assert out["code"]["stat"].splitlines()[0].strip().startswith("train.py | 1 +")
    assert [p["status"] for p in out["params"]] == ["same"]
    assert out["command"]["a"] == out["command"]["b"]


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> tuple[get_started.Project, str, str]:
    """The get-started pipeline run without MLflow, then again after train.n_est went from 50
    to 100 (so only train and evaluate ran the second time)."""
    project = get_started.build(tmp_path_factory.mktemp("tuned"))
    project.lineage("run", "--", "dvc", "repro", "-q")
    first = project.newest_run()
    project.commit("Ran the pipeline")
    params = project.repo / "params.yaml"
    params.write_text(params.read_text().replace("n_est: 50", "n_est: 100"))
    project.commit("More estimators")
    project.lineage("run", "--", "dvc", "repro", "-q")
    return project, first, project.newest_run()


def test_diff_of_two_pipeline_runs_shows_their_dvc_params_and_metrics_labelled(
    tuned: tuple[get_started.Project, str, str],
) -> None:
    project, first, second = tuned

    out = project.json("diff", first, second)

    params = {p["name"]: p for p in out["params"]}
    assert params["params.yaml:train.n_est"] == {
        "name": "params.yaml:train.n_est",
        "a": 50,
        "b": 100,
        "delta": 50.0,
        "status": "changed",
    }
    assert params["evaluate.yaml:threshold"]["status"] == "same"
    # The second run did not run prepare: its params are only in A.
    assert params["params.yaml:prepare.seed"]["status"] == "removed"
    metrics = {m["name"]: m for m in out["metrics"]}
    assert metrics["eval/metrics.json:avg_prec"] == {
        "name": "eval/metrics.json:avg_prec",
        "a": 0.25,
        "b": 0.16666666666666666,
        "delta": 0.16666666666666666 - 0.25,
        "status": "changed",
    }
    assert metrics["eval/summary.yaml:loss"]["status"] == "same"
    text = project.lineage("diff", first, second).stdout
    assert "none recorded" not in text
    lines = text.splitlines()
    assert "          params.yaml:train.n_est             50 -> 100  (+50)" in lines
    assert (
        "          eval/metrics.json:avg_prec                   0.25 -> 0.16666666666666666  "
        "(-0.0833333)"
    ) in lines


@pytest.mark.parametrize(
    ("env_a", "env_b", "line"),
    [
        (None, None, "env       none recorded"),
        (None, {"python": "3.11.2"}, "env       none recorded for A; the other ran Python 3.11.2"),
        ({"python": "3.11.2"}, None, "env       none recorded for B; the other ran Python 3.11.2"),
        ({"python": "3.11.2"}, {"python": "3.11.2"}, "env       same (Python 3.11.2)"),
    ],
)
def test_diff_says_plainly_when_a_side_has_no_environment(
    env_a: dict[str, str] | None, env_b: dict[str, str] | None, line: str
) -> None:
    """Imported runs have no environment: two of them are not "python added: -"."""
    from lineage.commands.diff import Diff, Side, _environment
    from lineage.commands.diff_report import render_text

    def side(env: dict[str, str] | None) -> Side:
        record = {"command": {"argv": ["python", "train.py"]}}
        return Side("r", "run", "rec", {**record, **({"environment": env} if env else {})}, None)

    a, b = side(env_a), side(env_b)
    environment = _environment(None, a.record, b.record)  # type: ignore[arg-type]
    d = Diff(a, b, "", environment=environment, command=(["python"], ["python"]))
    assert line in render_text(d).splitlines()
