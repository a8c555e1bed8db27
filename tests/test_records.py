"""Record format: canonical bytes, content names, path safety."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from lineage.errors import CorruptRecordError, UnsafePathError
from lineage.records import (
    Code,
    Command,
    Data,
    MlflowRun,
    Provenance,
    Redaction,
    RunRecord,
    Stage,
    canonical_bytes,
    decode,
    encode,
    run_record_from_dict,
    to_dict,
)


def record() -> RunRecord:
    return RunRecord(
        evidence="observed",
        session="s1",
        code=Code(commit="a" * 40, dirty=False),
        created=Provenance(at="2026-01-01T00:00:00.000Z", name="A", email="a@x", tool="t"),
        run=MlflowRun(
            run_id="r" * 32,
            tracking_uri="sqlite:///x",
            experiment_id="1",
            experiment_name="e",
            name="n",
            status="FINISHED",
            start_ms=1,
            end_ms=2,
            metrics={"loss": float("nan"), "auc": 0.1 + 0.2},
        ),
        inputs=(Data(path="data/./raw.csv", md5="b" * 32, size=3),),
    )


def test_canonical_bytes_are_sorted_compact_and_stable() -> None:
    assert canonical_bytes({"b": 1, "a": [1.5, "é"]}) == '{"a":[1.5,"é"],"b":1}'.encode()


def test_encode_names_by_sha256_and_roundtrips() -> None:
    name, blob = encode(record())
    assert len(name) == 64 and encode(record()) == (name, blob)
    doc = decode(name, blob)
    assert doc["run"]["metrics"] == {"loss": "NaN", "auc": 0.30000000000000004}
    assert doc["inputs"][0]["path"] == "data/raw.csv"
    again = run_record_from_dict(doc)
    assert to_dict(again) == doc


def test_decode_refuses_content_that_does_not_match_its_name() -> None:
    name, blob = encode(record())
    with pytest.raises(CorruptRecordError, match="does not match its name"):
        decode(name, blob.replace(b"FINISHED", b"FAILED!!"))


@pytest.mark.parametrize("path", ["../secret", "/etc/passwd", "data/../../x", "C:\\x", ""])
def test_paths_escaping_the_repository_are_refused(path: str) -> None:
    with pytest.raises(UnsafePathError):
        Data(path=path, md5="c" * 32)


def pipeline_record(**values: Any) -> RunRecord:
    stage = Stage(
        name="train",
        cmd="python train.py",
        deps=(Data(path="data/prepared", md5="d" * 32 + ".dir", stage="train"),),
        outs=(Data(path="model.pkl", md5="e" * 32, stage="train"),),
        **values,
    )
    return replace(record(), run=None, stages=(stage,))


def test_a_stage_without_params_or_metrics_keeps_the_bytes_records_had_before_them() -> None:
    name, blob = encode(pipeline_record())
    (stage,) = decode(name, blob)["stages"]
    assert sorted(stage) == ["cmd", "deps", "name", "outs"]
    # The name this record had before stages could hold params and metrics.
    assert name == "fc5fd8cd458b9f4f54c44db2781e51ea6de107dbf9cb1723d1f28519d4e12daa"


def test_a_stage_keeps_its_params_and_metrics_through_a_roundtrip() -> None:
    original = pipeline_record(
        params={"params.yaml": {"train.n_est": 50, "train": {"seed": 7}}, "o.yaml": {"a": [1]}},
        metrics={"eval/metrics.json": {"avg_prec": 0.5, "loss": "NaN", "counts.rows": 6}},
    )
    name, blob = encode(original)
    doc = decode(name, blob)
    (stage,) = doc["stages"]
    assert stage["params"] == {
        "o.yaml": {"a": [1]},
        "params.yaml": {"train": {"seed": 7}, "train.n_est": 50},
    }
    assert stage["metrics"] == {
        "eval/metrics.json": {"avg_prec": 0.5, "counts.rows": 6, "loss": "NaN"}
    }
    assert encode(run_record_from_dict(doc)) == (name, blob)


def test_fields_a_newer_lineage_added_are_ignored_when_reading_a_run_record() -> None:
    name, blob = encode(record())
    doc = decode(name, blob)
    doc["code"]["worktree"] = "w"
    doc["run"]["tags"] = {"a": "b"}
    doc["inputs"][0]["sha256"] = "f" * 64
    doc["created"]["host"] = "h"
    assert run_record_from_dict(doc) == run_record_from_dict(decode(name, blob))


def _command(argv: tuple[str, ...] = ("python", "train.py")) -> Command:
    return Command(
        argv=argv,
        cwd=".",
        exit_code=0,
        status="succeeded",
        started="2026-01-01T00:00:00.000Z",
        ended="2026-01-01T00:00:01.000Z",
        duration_s=1.0,
    )


def test_a_command_with_nothing_hidden_keeps_the_bytes_records_had_before_redaction() -> None:
    doc = to_dict(replace(record(), command=_command()))

    assert "redacted" not in doc["command"]
    assert encode(run_record_from_dict(doc))[1] == canonical_bytes(doc)


def test_a_command_keeps_what_it_hid_through_a_roundtrip() -> None:
    hidden = (Redaction(3, "--token", "TOKEN"), Redaction(4, "https://h/", None))
    command = _command(argv=("python", "train.py", "--token", "<redacted>", "https://h/"))
    rec = replace(record(), command=replace(command, redacted=hidden))

    name, blob = encode(rec)
    doc = decode(name, blob)

    assert doc["command"]["redacted"] == [
        {"at": 3, "name": "--token", "variable": "TOKEN"},
        {"at": 4, "name": "https://h/", "variable": None},
    ]
    assert run_record_from_dict(doc).command == rec.command
