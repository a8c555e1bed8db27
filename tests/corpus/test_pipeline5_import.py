"""A cookiecutter-data-science project with a five-stage DVC pipeline (tests/layouts/pipeline5.py)
run for months before lineage: `lineage import mlflow` gives each version the data its run read,
or "unknown" saying why, never the previous run's (issue 12). The history, made with plain git,
`dvc repro` and MLflow on SQLite:

    C1  project, params depth 3, raw data       run 1 (the evaluation stage) -> pipeline5/1
    C2  dvc.lock of run 1, alone
    C3  depth 5 (params.yaml: read, undeclared)  run 2, `dvc repro --force`   -> pipeline5/2
    C4  dvc.lock of run 2, alone
        (src/features.py edited, not committed)  run 3                        -> pipeline5/3
    C5  the new feature, with the dvc.lock of run 3

At C3 and C4 the lock is the previous run's, and every dep it declares matches the commit.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.corpus.project import Project, new_project
from tests.layouts import pipeline5

pytestmark = pytest.mark.filterwarnings(
    "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
)

FEATURES, MODEL, RAW = "data/processed/features.csv", "models/model.pkl", "data/raw/data.csv"
CHAMPION = """
import mlflow
mlflow.MlflowClient().set_registered_model_alias("pipeline5", "champion", "2")
"""


def _read_by_evaluate(p: Project) -> dict[str, str]:
    """What the evaluation stage just read, as the dvc.lock it left in the workspace says."""
    lock = yaml.safe_load((p.repo / "dvc.lock").read_text())
    return {
        d["path"]: d["md5"]
        for d in lock["stages"]["evaluate"]["deps"]
        if d["path"] != "src/modeling/predict.py"
    }


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    p = new_project(tmp_path_factory.mktemp("pipeline5"))
    pipeline5.write(p.repo)
    p.sh("dvc", "init", "-q")
    p.sh("dvc", "add", "-q", RAW)
    raw = (p.repo / f"{RAW}.dvc").read_text().split("md5: ")[1][:32]
    commits: dict[int, str] = {}
    read: dict[int, dict[str, str]] = {}

    def train(version: int, *flags: str) -> None:
        commits[version] = p.sh("git", "rev-parse", "HEAD").stdout.strip()
        p.sh("dvc", "repro", "-q", *flags, "register")
        read[version] = {RAW: raw, **_read_by_evaluate(p)}

    p.commit_all("C1 project")
    train(1)
    p.commit_all("C2 lock of run 1")
    (p.repo / "params.yaml").write_text("train:\n  depth: 5\n")
    p.commit_all("C3 depth 5")
    train(2, "--force")  # DVC does not see the undeclared params.yaml change
    p.commit_all("C4 lock of run 2")
    (p.repo / "src/features.py").write_text(pipeline5.NEW_FEATURE)
    train(3)
    c5 = p.commit_all("C5 new feature, with the lock of run 3")
    p.sh("dvc", "remote", "add", "-q", "-d", "storage", str(p.repo.parent / "dvc-remote"))
    p.sh("dvc", "push", "-q")
    p.python(CHAMPION)
    p.lineage("init")
    p.facts.update(commits=commits, read=read, c5=c5, imported=p.json("import", "mlflow"))
    return p


def _record(p: Project, ref: str) -> dict[str, Any]:
    return dict(p.json("show", ref)["record"])


def test_each_version_gets_the_data_its_run_read_or_unknown_never_the_previous_runs(
    project: Project,
) -> None:
    read, commits = project.facts["read"], project.facts["commits"]
    assert project.facts["imported"]["written"] == 3
    # The locks at C3 and C4 pass every check of declared deps, yet name the previous run's data.
    assert read[1][MODEL] != read[2][MODEL] != read[3][MODEL]
    assert read[2][FEATURES] != read[3][FEATURES]

    for version in (1, 2):  # the next commit is the late lock alone: its entries are the run's
        record = _record(project, f"pipeline5/{version}")
        assert record["code"]["commit"] == commits[version]
        assert {d["path"]: d["md5"] for d in record["inputs"]} == read[version]
        assert "unknown_inputs" not in record
    # The next commit also changed the code: the lock there is this run's, but nothing at C4
    # says which hashes the run read; C4's lock, which C5 rewrote, is the previous run's.
    record = _record(project, "pipeline5/3")
    assert {d["path"]: d["md5"] for d in record["inputs"]} == {RAW: read[3][RAW]}
    assert record["unknown_inputs"] == [FEATURES, MODEL]
    c4, c5 = commits[3][:10], project.facts["c5"][:10]
    assert record["unknown_reasons"] == {
        FEATURES: f"dvc.lock at {c4} was rewritten by the next commit {c5}: its entry for "
        "stage features is not this run's",
        MODEL: f"dvc.lock at {c4} was rewritten by the next commit {c5}: its entry for "
        "stage train is not this run's",
    }


def test_show_of_the_champion_gives_its_model_and_show_says_why_a_hash_is_unknown(
    project: Project,
) -> None:
    champion = project.lineage("show", "pipeline5@champion").stdout.splitlines()
    model = project.facts["read"][2][MODEL]
    (line,) = [ln for ln in champion if MODEL in ln]
    assert line.split()[-5:] == [MODEL, model, "67", "B", "[unknown]"]  # state: not checked

    shown = project.lineage("show", "pipeline5/3").stdout.splitlines()
    c4, c5 = project.facts["commits"][3][:10], project.facts["c5"][:10]
    assert (
        f"unknown   {FEATURES}  (dvc.lock at {c4} was rewritten by the next commit {c5}: "
        "its entry for stage features is not this run's)"
    ) in shown
    assert (
        f"          {MODEL}  (dvc.lock at {c4} was rewritten by the next commit {c5}: "
        "its entry for stage train is not this run's)"
    ) in shown


def test_audit_says_why_an_input_is_unknown(project: Project) -> None:
    audit = project.json("audit", "pipeline5/3")
    (data,) = [c for c in audit["versions"][0]["checks"] if c["name"] == "data"]
    c4, c5 = project.facts["commits"][3][:10], project.facts["c5"][:10]
    assert data == {
        "name": "data",
        "result": "warn",
        "reason": f"unknown input(s): {FEATURES} (dvc.lock at {c4} was rewritten by the next "
        f"commit {c5}: its entry for stage features is not this run's), {MODEL} (dvc.lock at "
        f"{c4} was rewritten by the next commit {c5}: its entry for stage train is not this "
        "run's)",
    }
