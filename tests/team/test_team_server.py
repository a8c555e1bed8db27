"""A team on one `mlflow server` backed by PostgreSQL, with a proxied artifact store
(tests/team/conftest.py), working on MLflow's sklearn_elasticnet_wine (tests/layouts/wine.py):
four clones of one repository train and register at the same time, push their records, and
another clone pulls, reproduces, imports the runs made without lineage and audits. No record
may be lost, and neither the database's nor the server's password may land anywhere."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import sh
from tests.layouts import wine
from tests.scenarios import hermetic_env
from tests.team.conftest import TeamServer

pytestmark = [
    pytest.mark.xdist_group("team-server"),
    pytest.mark.filterwarnings(
        "ignore:The ``noload`` loader strategy is deprecated:sqlalchemy.exc.SADeprecationWarning"
    ),
]

CLONES = 4
MODEL = "wine-model"
# Every run on the server, as the team's MLflow would list them.
SERVER_RUNS = """
import json, mlflow
runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
print(json.dumps(sorted(r.info.run_id for r in runs)))
"""
SET_ALIAS = """
import sys, mlflow
mlflow.MlflowClient().set_registered_model_alias(sys.argv[1], sys.argv[2], sys.argv[3])
"""
VERSIONS = """
import json, mlflow
versions = mlflow.MlflowClient().search_model_versions("name='wine-model'")
print(json.dumps({v.version: v.run_id for v in versions}))
"""


def ours(output: str) -> list[str]:
    """The lines of a command's output but MLflow's own "View run at: URL" lines, which the
    training script prints with the URL as given (MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT=true
    silences them; docs/configuration.md says so): `lineage run` passes them through."""
    return [
        line for line in output.splitlines() if not line.startswith(("🏃 View run", "🧪 View exp"))
    ]


@dataclass
class Team:
    server: TeamServer
    base: Path
    env: dict[str, str]
    origin: Path
    lead: Path
    clones: list[Path]
    reader: Path
    printed: list[str] = field(default_factory=list)  # every stdout and stderr seen
    facts: dict[str, Any] = field(default_factory=dict)

    def sh(
        self, *args: str | Path, cwd: Path, uri: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        env = {**self.env, "MLFLOW_TRACKING_URI": uri or self.server.url}
        proc = sh(*args, cwd=cwd, env=env, check=check)
        self.printed += [proc.stdout, proc.stderr]
        return proc

    def lineage(self, *args: str, cwd: Path, **kw: Any) -> subprocess.CompletedProcess[str]:
        return self.sh("lineage", *args, cwd=cwd, **kw)

    def json(self, *args: str, cwd: Path) -> Any:
        return json.loads(self.lineage(*args, "--json", cwd=cwd).stdout)

    def at_once(self, argvs: Sequence[tuple[Path, str, list[str]]]) -> None:
        """Run each (cwd, tracking URI, argv) as its own process, all at the same time."""
        procs = []
        for cwd, uri, argv in argvs:
            env = {**self.env, "MLFLOW_TRACKING_URI": uri}
            procs.append(
                subprocess.Popen(
                    argv,
                    cwd=cwd,
                    env=env,
                    text=True,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                )
            )
        failures = []
        for (cwd, _, argv), proc in zip(argvs, procs, strict=True):
            out, err = proc.communicate(timeout=600)
            self.printed += [out, err]
            if proc.returncode != 0:
                failures.append(f"{' '.join(argv)} in {cwd} exited {proc.returncode}\n{err}")
        assert not failures, "\n".join(failures)

    def server_runs(self) -> list[str]:
        return list(json.loads(self.sh("python", "-c", SERVER_RUNS, cwd=self.base).stdout))


@pytest.fixture(scope="module")
def team(team_server: TeamServer, tmp_path_factory: pytest.TempPathFactory) -> Team:
    base = tmp_path_factory.mktemp("team")
    env = hermetic_env(base)
    env.pop("MLFLOW_TRACKING_URI")
    origin = base / "origin.git"
    t = Team(team_server, base, env, origin, base / "lead", [], base / "reader")
    t.sh("git", "init", "-q", "--bare", origin, cwd=base)
    t.sh("git", "clone", "-q", origin, t.lead, cwd=base)
    wine.write(t.lead)
    t.sh("dvc", "init", "-q", cwd=t.lead)
    t.sh("dvc", "remote", "add", "-d", "store", base / "dvc-store", cwd=t.lead)
    t.sh("dvc", "add", "-q", "data/wine.csv", cwd=t.lead)
    t.lineage("init", "--gitignore", cwd=t.lead)
    t.sh("git", "add", "-A", cwd=t.lead)
    t.sh("git", "commit", "-q", "-m", "Wine quality project", cwd=t.lead)
    t.sh("dvc", "push", "-q", cwd=t.lead)
    t.sh("git", "push", "-q", "origin", "main", cwd=t.lead)
    for i in range(CLONES):
        clone = base / f"clone{i}"
        t.sh("git", "clone", "-q", origin, clone, cwd=base)
        t.lineage("init", cwd=clone)
        t.sh("dvc", "pull", "-q", cwd=clone)
        t.clones.append(clone)
    # Half the team writes the server's URL with a user and password in it.
    uris = [team_server.auth_url if i % 2 == 0 else team_server.url for i in range(CLONES)]
    t.at_once(
        [
            (clone, uri, ["lineage", "run", "--", "python", "train.py", f"0.{i + 1}", "0.5"])
            for i, (clone, uri) in enumerate(zip(t.clones, uris, strict=True))
        ]
    )
    # One teammate points MLflow at the database itself.
    t.lineage(
        "run", "--", "python", "train.py", "0.9", "0.5", cwd=t.lead, uri=team_server.backend.uri()
    )
    t.facts["lineage_runs"] = t.server_runs()
    t.at_once([(clone, t.server.url, ["lineage", "push"]) for clone in [*t.clones, t.lead]])
    t.sh("git", "clone", "-q", origin, t.reader, cwd=base)
    t.facts["pulled"] = t.lineage("pull", cwd=t.reader).stdout
    return t


def test_every_concurrent_run_reaches_the_clone_that_pulls(team: Team) -> None:
    runs = team.facts["lineage_runs"]
    assert len(runs) == CLONES + 1
    # The five runs, and the environment record they share (named by content: one machine).
    assert team.facts["pulled"] == f"pulled {CLONES + 2} new records from origin (created)\n"
    log = team.json("log", cwd=team.reader)
    assert sorted(entry["run"] for entry in log) == runs
    assert {entry["evidence"] for entry in log} == {"observed"}
    # Each record names the store its run went to, without the user and password in the URI.
    uris = {
        team.json("show", run, cwd=team.reader)["record"]["run"]["tracking_uri"] for run in runs
    }
    port = team.server.backend.port
    assert uris == {team.server.url, f"postgresql+psycopg2://127.0.0.1:{port}/mlflow"}
    versions = json.loads(team.sh("python", "-c", VERSIONS, cwd=team.base).stdout)
    assert sorted(versions.values()) == runs
    for number, run_id in versions.items():
        shown = team.json("show", f"{MODEL}/{number}", cwd=team.reader)
        assert shown["record"]["run"]["run_id"] == run_id
        assert {"name": MODEL, "version": int(number)} in shown["record"]["models"]


def test_a_version_reproduces_by_its_alias_from_the_clone_that_pulled(team: Team) -> None:
    team.sh("python", "-c", SET_ALIAS, MODEL, "champion", "2", cwd=team.base)
    result = team.lineage(
        "reproduce", f"{MODEL}@champion", "--yes", "--json", cwd=team.reader, check=False
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] == "bit-identical"


@pytest.fixture(scope="module")
def imported(team: Team) -> dict[str, Any]:
    """Runs a teammate made with plain `python train.py`, before adopting lineage, imported."""
    before = set(team.server_runs())
    team.sh("python", "train.py", "0.7", "0.5", cwd=team.lead, uri=team.server.auth_url)
    team.sh("python", "train.py", "0.8", "0.5", cwd=team.lead)
    plain = sorted(set(team.server_runs()) - before)
    report = team.json("import", "mlflow", "--experiment", "Default", cwd=team.reader)
    return {"plain": plain, "report": report}


def test_runs_made_without_lineage_are_imported_as_inferred(
    team: Team, imported: dict[str, Any]
) -> None:
    assert len(imported["plain"]) == 2
    assert imported["report"]["written"] >= 2
    for run_id in imported["plain"]:
        record = team.json("show", run_id, cwd=team.reader)["record"]
        assert record["evidence"] == "inferred"
        assert record["run"]["run_id"] == run_id
        assert [model["name"] for model in record["models"]] == [MODEL]
        assert [d["path"] for d in record["inputs"]] == ["data/wine.csv"]


def test_audit_of_the_aliased_version_passes(team: Team, imported: dict[str, Any]) -> None:
    team.sh("python", "-c", SET_ALIAS, MODEL, "champion", "2", cwd=team.base)
    audited = team.lineage("audit", "--json", cwd=team.reader, check=False)
    assert audited.returncode == 0, audited.stdout + audited.stderr
    report = json.loads(audited.stdout)
    assert report["passed"] is True
    assert [(v["name"], v["version"]) for v in report["versions"]] == [(MODEL, 2)]


def test_every_run_on_the_server_has_a_record(team: Team, imported: dict[str, Any]) -> None:
    """No record lost: the clone that pulled and imported holds one for each run MLflow has."""
    recorded = {entry["run"] for entry in team.json("log", "--all", cwd=team.reader)}
    assert recorded == set(team.server_runs())


def test_no_credential_lands_in_a_record_a_commit_a_file_or_output(
    team: Team, imported: dict[str, Any]
) -> None:
    secrets = [s.encode() for s in team.server.credentials]
    repos = [team.origin, team.lead, team.reader, *team.clones]
    leaks = []
    for repo in repos:
        objects = subprocess.run(
            ["git", "cat-file", "--batch-all-objects", "--batch"],
            cwd=repo,
            env=team.env,
            capture_output=True,
            check=True,
        ).stdout
        assert len(objects) > 1000
        leaks += [f"a git object in {repo}" for s in secrets if s in objects]
        # Every file on disk: the work tree, and .git/lineage (index, journal, logs).
        for path in repo.rglob("*"):
            if path.is_file() and any(s in path.read_bytes() for s in secrets):
                leaks.append(str(path))
    for text in team.printed:
        leaks += [
            f"output: {line}" for line in ours(text) if any(s.decode() in line for s in secrets)
        ]
    assert not leaks
    assert any((repo / ".git" / "lineage").is_dir() for repo in repos)
