"""The published record schema (lineage/schema/records.schema.json) accepts every record lineage
writes, and the older shapes its readers still read; it names the first problem of any other."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from lineage import record_schema
from lineage.adapters import git
from lineage.adapters.store import Store
from lineage.records import (
    Attachment,
    Check,
    Code,
    Command,
    Data,
    Environment,
    MlflowProject,
    MlflowRun,
    ModelVersion,
    Provenance,
    Registration,
    ReproductionRecord,
    RunRecord,
    Stage,
    canonical_bytes,
    decode,
    encode,
    environment_document,
    split_environment,
    to_dict,
)
from lineage.redact import Redaction
from tests.conftest import sh
from tests.helpers import lineage

CREATED = Provenance(at="2026-01-01T00:00:00.000Z", name="A", email="a@x", tool="lineage 0.1.0")


def stored_documents(repo: Path) -> list[dict[str, Any]]:
    """Every record on refs/lineage/records of ``repo``, parsed as plain JSON."""
    store = Store(git.discover(repo))
    tip = store.tip()
    assert tip is not None
    return [json.loads(blob) for _, blob in store.iter_all(tip)]


def assert_all_valid(documents: list[dict[str, Any]]) -> None:
    whole = jsonschema_rs.Draft202012Validator(record_schema.schema())
    for document in documents:
        errors = [e.message for e in whole.iter_errors(document)]
        assert errors == [], (document.get("kind"), errors)
        assert record_schema.problem(document) is None


def test_the_schema_file_is_a_valid_2020_12_schema() -> None:
    jsonschema_rs.meta.validate(record_schema.schema())  # raises on an invalid schema
    assert record_schema.schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_record_of_a_project_trained_reproduced_and_imported_is_valid(
    history: Any, tmp_path: Path
) -> None:
    project = history.untouched(tmp_path)
    project.lineage("import", "mlflow", check=True)  # inferred runs and registrations
    documents = stored_documents(project.repo)
    assert_all_valid(documents)
    kinds = Counter(d["kind"] for d in documents)
    assert {"run", "environment", "reproduction"} <= set(kinds), kinds
    assert {d["evidence"] for d in documents if d["kind"] == "run"} == {"observed", "inferred"}


def test_every_record_of_pipelines_on_two_branches_is_valid(trained: Any) -> None:
    documents = stored_documents(trained.repo)
    assert_all_valid(documents)
    assert any(d.get("stages") for d in documents)


def test_an_attachment_the_post_commit_hook_writes_is_valid(git_repo: Path) -> None:
    lineage(git_repo, "init")
    lineage(git_repo, "hooks", "install")
    (git_repo / "src" / "train.py").write_text("print('edited')\n")
    lineage(git_repo, "run", "--", "true")
    sh("git", "commit", "-q", "-am", "Edit", cwd=git_repo)
    documents = stored_documents(git_repo)
    assert_all_valid(documents)
    assert [d["kind"] for d in documents].count("attachment") == 1


def full_run() -> RunRecord:
    """A run record with every field set, as the typed code writes it."""
    env, _ = split_environment(
        Environment(python="3.11.7", implementation="CPython", platform="Linux", packages={})
    )
    stage = Stage(
        name="train",
        cmd="python train.py",
        deps=(Data(path="data/prepared", md5="d" * 32 + ".dir", nfiles=2, stage="train"),),
        outs=(Data(path="model.pkl", md5="e" * 32, size=9, pointer="dvc.lock", stage="train"),),
        params={"params.yaml": {"train.n": 5, "train": {"lr": 0.1}}},
        metrics={"metrics.json": {"auc": 0.9, "ok": True, "loss": "NaN"}},
    )
    return RunRecord(
        evidence="inferred",
        session="mlflow-import",
        code=Code(commit="a" * 40, dirty=None, snapshot="b" * 40, branch="main", changed=("x",)),
        created=CREATED,
        run=MlflowRun(
            run_id="r" * 32,
            tracking_uri="sqlite:///x.db",
            experiment_id="1",
            experiment_name=None,
            name=None,
            status="FINISHED",
            start_ms=None,
            end_ms=None,
            parent_run_id="p" * 32,
            params={"depth": "3"},
            metrics={"score": float("inf"), "n": 3},
        ),
        command=Command(
            argv=("mlflow", "run", ".", "-P", "token=<redacted>", "https://h/x"),
            cwd=".",
            exit_code=None,
            status="succeeded",
            started=CREATED.at,
            ended=CREATED.at,
            duration_s=0,
            arguments_unknown=True,
            redacted=(Redaction(4, "token", "TOKEN"), Redaction(5, "https://h/x", None)),
        ),
        inputs=(Data(path="data/raw.csv", md5="c" * 32, state="unknown"),),
        outputs=stage.outs,
        stages=(stage,),
        environment=env,
        models=(ModelVersion("churn", 2),),
        unknown_inputs=("data/other.csv",),
        unknown_reasons={"data/other.csv": "no dvc.lock yet"},
        project=MlflowProject(uri=".", entry_point="main", parameters={"alpha": "0.5"}),
        reproduces="o" * 32,
    )


def reproduction() -> ReproductionRecord:
    return ReproductionRecord(
        evidence="observed",
        created=CREATED,
        original_run="o" * 32,
        original_record="f" * 64,
        code="a" * 40,
        command=("python", "train.py"),
        verdict="within-tolerance",
        rtol=1e-9,
        atol=0,
        model=ModelVersion("churn", 2),
        inputs=(Data(path="data/raw.csv", md5="c" * 32),),
        rerun_run="r" * 32,
        rerun_record="e" * 64,
        exit_code=0,
        metrics=(Check("auc", 0.9, 0.9000001, "within"), Check("ok", True, None, "missing")),
        params=(Check("depth", "3", "3", "exact"),),
        outputs=(Check("model.pkl", "e" * 32, "f" * 32, "differs"),),
        from_pointers=("data/raw.csv",),
        redacted=(Redaction(3, "--token", "TOKEN"),),
    )


TYPED = {
    "run, every field": lambda: to_dict(full_run()),
    "run, no MLflow run nor command": lambda: to_dict(
        RunRecord(evidence="observed", session="s", code=Code(None, None), created=CREATED)
    ),
    "environment": lambda: environment_document(
        Environment("3.11", "CPython", "Linux", packages={"click": "8.1"}, packages_hash="h")
    ),
    "reproduction": lambda: to_dict(reproduction()),
    "attachment": lambda: to_dict(
        Attachment("observed", CREATED, "r" * 32, "b" * 40, "a" * 40, ("dvc.lock",))
    ),
    "registration": lambda: to_dict(
        Registration("observed", CREATED, "r" * 32, ModelVersion("m", 1), CREATED.at, "x")
    ),
}


@pytest.mark.parametrize("make", TYPED.values(), ids=TYPED.keys())
def test_every_kind_the_typed_code_writes_is_valid(make: Any) -> None:
    document = make()
    assert_all_valid([json.loads(canonical_bytes(document))])


# Shapes written by earlier versions that the readers still accept.
OLD = {
    "reproduction verdict 'reproduced'": {**to_dict(reproduction()), "verdict": "reproduced"},
    "reproduction without rerun, model or checks": {
        k: v
        for k, v in to_dict(reproduction()).items()
        if k not in ("model", "rerun_run", "rerun_record", "exit_code", "metrics", "params")
    },
    "run written before environments were records": {
        **to_dict(full_run()),
        "environment": None,
    },
    "data entries with only path and md5": {
        "schema": 1,
        "kind": "run",
        "evidence": "observed",
        "session": "s1",
        "code": {"commit": "a" * 40, "dirty": False},
        "created": {"at": "2026-01-01T00:00:00.000Z", "name": "x", "email": "x", "tool": "t"},
        "inputs": [{"path": "data/raw.csv", "md5": "0" * 32}],
    },
    "a field a newer lineage added": {**to_dict(full_run()), "comet": {"path": "e/p/r"}},
}


@pytest.mark.parametrize("document", OLD.values(), ids=OLD.keys())
def test_older_and_newer_shapes_still_read(document: dict[str, Any]) -> None:
    assert_all_valid([document])


def minimal_run(**changes: Any) -> dict[str, Any]:
    document = to_dict(
        RunRecord(evidence="observed", session="s", code=Code("a" * 40, False), created=CREATED)
    )
    document.update(changes)
    return {k: v for k, v in document.items() if v is not ...}


INVALID = {
    "only schema and kind": (
        {"schema": 1, "kind": "run"},
        '"evidence" is a required property',
    ),
    "session is a number": (minimal_run(session=5), '$.session: 5 is not of type "string"'),
    "code is a string": (minimal_run(code="abc"), '$.code: "abc" is not of type "object"'),
    "model version is text": (
        minimal_run(models=[{"name": "m", "version": "v2"}]),
        '$.models[0].version: "v2" is not of type "integer"',
    ),
    "unknown kind": (
        {"schema": 1, "kind": "note"},
        '$.kind: "note" is not one of "run", "environment" or 3 other candidates',
    ),
    "schema true": (minimal_run(schema=True), "$.schema: 1 was expected"),
    "a control character in a key": (
        minimal_run(run={"run_id\n": 1}),
        '$.run: "run_id" is a required property',
    ),
    "missing created": (minimal_run(created=...), '"created" is a required property'),
}


@pytest.mark.parametrize(("document", "says"), INVALID.values(), ids=INVALID.keys())
def test_an_invalid_record_is_named_by_its_first_problem(
    document: dict[str, Any], says: str
) -> None:
    found = record_schema.problem(document)
    assert found is not None and says in found
    assert found.isprintable()
    assert not jsonschema_rs.Draft202012Validator(record_schema.schema()).is_valid(document)


def test_decode_rejects_an_invalid_record_unless_this_clone_wrote_it() -> None:
    from lineage.errors import CorruptRecordError

    blob = canonical_bytes({"schema": 1, "kind": "run"})
    name = encode(full_run())[0]  # any name: the hash is checked first, so use the real one
    from lineage.records import record_id

    name = record_id(blob)
    with pytest.raises(CorruptRecordError, match='not a valid record: "evidence" is a required'):
        decode(name, blob)
    assert decode(name, blob, trusted=True) == {"schema": 1, "kind": "run"}


def test_a_record_nested_too_deeply_is_invalid_not_a_recursion_error() -> None:
    from lineage.errors import CorruptRecordError
    from lineage.records import record_id

    blob = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(CorruptRecordError, match="nested too deeply to read"):
        decode(record_id(blob), blob)


def imported(cwd: Path, code: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print('jsonschema_rs' in sys.modules)"],
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    return proc.stdout.strip().splitlines()[-1]


def test_help_log_and_the_post_commit_hook_never_import_the_validator_for_own_records(
    git_repo: Path,
) -> None:
    lineage(git_repo, "init")
    lineage(git_repo, "run", "--", "true")  # a record this clone wrote: trusted
    help_ = "import sys; sys.argv = ['lineage', '--help']\nimport runpy\ntry:\n"
    help_ += "    runpy.run_module('lineage', run_name='__main__')\nexcept SystemExit:\n    pass"
    assert imported(git_repo, help_) == "False"
    hook = "from lineage.hooks.dispatch import main\nmain(['post-commit'])"
    assert imported(git_repo, hook) == "False"
    log = help_.replace("'--help'", "'log'")
    assert imported(git_repo, log) == "False"


def test_a_record_holding_a_non_utf8_byte_is_checked_not_a_crash() -> None:
    latin1 = "caf\udce9"  # b"caf\xe9" as Python decodes a non-UTF-8 argument
    good = to_dict(full_run())
    good["command"]["argv"] = ["python", latin1]
    assert record_schema.problem(json.loads(canonical_bytes(good))) is None
    bad = {**good, "session": 5, "evidence": latin1}
    assert record_schema.problem(bad) is not None
