"""One context per invocation: `lineage -C DIR` answers exactly as running inside DIR does, with
a relative MLFLOW_TRACKING_URI and with none set (MLflow's default, ./mlflow.db), for every
command that resolves a model version or an alias.

The commands run in process (the CLI's own `main`, real git, DVC and MLflow underneath) from two
working directories; one runs as a real `lineage` process too.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from lineage.cli import main
from lineage.context import Context
from tests.helpers import lineage
from tests.scenarios import Trained

pytestmark = [
    pytest.mark.filterwarnings(
        "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
    ),
    pytest.mark.filterwarnings("ignore:.*Any type hint is inferred as AnyType:UserWarning"),
]

COMMANDS = {
    "show": ["show", "churn@champion", "--json"],
    "graph": ["graph", "churn@champion", "--format", "json"],
    "impact": ["impact", "data/raw.csv", "--json"],
    "diff": ["diff", "churn@champion", "churn@staging", "--json"],
    "reproduce": ["reproduce", "churn@champion", "--dry-run", "--json"],
    "audit": ["audit", "--json"],
}


@pytest.fixture
def project(trained: Trained, tmp_path: Path) -> Path:
    """A copy of the trained project with its MLflow store inside, at ./mlflow.db: where MLflow
    looks when MLFLOW_TRACKING_URI is unset, and what sqlite:///mlflow.db means there."""
    repo = Path(shutil.copytree(trained.repo, tmp_path / "project", symlinks=True))
    shutil.copy(trained.repo.parent / "mlflow.db", repo / "mlflow.db")
    (tmp_path / "elsewhere").mkdir()
    return repo


def invoke(
    args: list[str], cwd: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, Any, str]:
    """`lineage ARGS` in process, from ``cwd``: exit code, JSON output, stderr."""
    monkeypatch.chdir(cwd)
    with pytest.raises(SystemExit) as exited:
        main(args)
    out, err = capsys.readouterr()
    code = exited.value.code if isinstance(exited.value.code, int) else 1
    assert out, f"`lineage {' '.join(args)}` printed nothing; stderr: {err}"
    return code, json.loads(out), err


@pytest.mark.parametrize("tracking", ["sqlite:///mlflow.db", None], ids=["relative", "unset"])
def test_dash_c_from_elsewhere_answers_as_inside_the_repository(
    project: Path,
    tracking: str | None,
    trained: Trained,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for key in ("HOME", "PATH"):
        monkeypatch.setenv(key, trained.env[key])
    if tracking is None:
        monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    else:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking)
    elsewhere = project.parent / "elsewhere"

    for name, args in COMMANDS.items():
        inside = invoke(args, project, monkeypatch, capsys)
        outside = invoke(["-C", str(project), *args], elsewhere, monkeypatch, capsys)
        assert outside == inside, name
        _, answer, err = inside
        assert "not in the registry" not in err and "has no registered models" not in err, name
        if name == "show":
            assert answer["node"]["id"] == "churn/2"
            assert answer["node"]["resolved_from"] == "churn@champion"
        if name in ("graph", "impact"):  # aliases were read from the project's registry
            assert "champion" in json.dumps(answer), name
        if name == "reproduce":
            assert answer["model"] == "churn/2" and answer["plan"]["problems"] == []
        if name == "audit":
            assert {v["model"] for v in answer["versions"]} == {"churn/2", "churn/4", "fraud/1"}
    assert not (elsewhere / "mlflow.db").exists()  # nothing looked for a store out there


def test_the_real_cli_with_dash_c_reads_the_projects_store(project: Path, trained: Trained) -> None:
    env = {**trained.env, "MLFLOW_TRACKING_URI": "sqlite:///mlflow.db"}
    elsewhere = project.parent / "elsewhere"
    shown = lineage(elsewhere, "-C", "../project", "show", "churn@champion", env=env)
    assert shown.stdout.startswith("model churn/2   (churn@champion)")


def test_a_context_works_each_fact_out_once_and_only_when_asked(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctx = Context(project, {"MLFLOW_TRACKING_URI": "sqlite:///mlflow.db"})
    assert ctx.__dict__.keys() == {"cwd", "environ", "warn"}  # nothing worked out yet
    monkeypatch.chdir(project.parent)
    assert ctx.mlflow.tracking == f"sqlite:///{project}/mlflow.db"
    assert ctx.mlflow is ctx.mlflow
    assert ctx.paths.root == project
    with ctx:
        first = ctx.index
        assert ctx.index is first
    assert "index" not in ctx.__dict__  # closed once, and forgotten
    assert ctx.initialized and ctx.config is ctx.config


def test_records_and_their_commits_share_one_identity_asked_of_git_once(
    git_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lineage.records import canonical_bytes, record_id

    trace = tmp_path / "git-trace"
    monkeypatch.setenv("GIT_TRACE", str(trace))
    ctx = Context(git_repo, {})
    provenance = ctx.provenance()
    for n in range(2):
        data = canonical_bytes({"schema": 1, "kind": "note", "n": n})
        ctx.store.append([(record_id(data), data)])
    asked = [line for line in trace.read_text().splitlines() if "var GIT_AUTHOR_IDENT" in line]
    assert len(asked) == 1
    commit = ctx.store.commit(ctx.store.tip() or "")
    assert (provenance.name, provenance.email) == (commit.author.name, commit.author.email)
    assert provenance.name == "Ada Lovelace" and provenance.email == "ada@example.com"
