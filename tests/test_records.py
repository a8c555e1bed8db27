"""Record format: canonical bytes, content names, path safety."""

from __future__ import annotations

import pytest

from lineage.errors import CorruptRecordError, UnsafePathError
from lineage.records import (
    Code,
    Data,
    MlflowRun,
    Provenance,
    RunRecord,
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
