"""lineage.documents and lineage.formatting: facts read from stored records, and values as every
command prints them."""

from __future__ import annotations

import pytest

from lineage.documents import created_at, main_metric, run_key_of, run_rank, started_ms
from lineage.formatting import human_size, value_text

RUN = {"run": {"run_id": "abc", "start_ms": 1764230400123}, "session": "s1"}
LOCAL = {"session": "s2", "command": {"started": "2025-11-27T08:00:00.500Z"}}


def test_a_run_is_known_by_its_mlflow_id_else_by_its_session() -> None:
    assert run_key_of(RUN) == "abc"
    assert run_key_of(LOCAL) == "local-s2"


def test_a_run_started_when_mlflow_says_else_when_its_command_did() -> None:
    assert started_ms(RUN) == 1764230400123
    assert started_ms(LOCAL) == 1764230400500
    assert started_ms({"session": "s3"}) is None


def test_observed_records_outrank_inferred_then_newer_then_larger_ids() -> None:
    def rank(evidence: str, at: str, rid: str) -> str:
        return run_rank({"evidence": evidence, "created": {"at": at}}, rid)

    ordered = [
        rank("inferred", "2026-12-01T00:00:00.000Z", "f"),
        rank("observed", "2026-01-01T00:00:00.000Z", "a"),
        rank("observed", "2026-01-01T00:00:00.000Z", "b"),
        rank("observed", "2026-06-01T00:00:00.000Z", "a"),
    ]
    assert sorted(ordered) == ordered
    assert created_at({}) == ""


def test_the_main_metric_is_the_configured_one_else_the_first_by_name() -> None:
    metrics = {"loss": 0.2, "auc": 0.9}
    assert main_metric(metrics, "loss") == ("loss", 0.2)
    assert main_metric(metrics, "f1") == ("auc", 0.9)
    assert main_metric({}, "loss") is None


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (None, ""),
        (0, "0 B"),
        (999, "999 B"),
        (1500, "1.5 kB"),
        (248901, "248.9 kB"),
        (1830021, "1.8 MB"),
        (5 * 10**12, "5000.0 GB"),
    ],
)
def test_sizes_are_decimal_like_dvcs(size: int | None, text: str) -> None:
    assert human_size(size) == text


def test_values_print_at_full_precision() -> None:
    assert value_text(0.1 + 0.2) == "0.30000000000000004"
    assert value_text(3) == "3" and value_text("NaN") == "NaN" and value_text(None) == "-"
