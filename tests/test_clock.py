"""lineage.clock: time as records spell it, and the moments --as-of takes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from lineage.clock import iso, iso_from_ms, moment_bound


@pytest.mark.parametrize(
    ("moment", "bound"),
    [
        ("2026-11-27T10:00:00Z", "2026-11-27T10:00:01.000Z"),  # the whole second
        ("2026-11-27T10:00+01:00", "2026-11-27T09:01:00.000Z"),  # the whole minute
        ("2026-11-27T10:00:00.250+00:00", "2026-11-27T10:00:00.251Z"),
        ("HEAD~2", None),
        ("2026-13-01", None),
    ],
)
def test_as_of_moments_include_what_they_name(moment: str, bound: str | None) -> None:
    assert moment_bound(moment) == bound


def test_time_is_utc_to_the_millisecond_with_a_z() -> None:
    moment = datetime(2026, 11, 27, 10, 15, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert iso(moment) == "2026-11-27T08:15:00.123Z"
    assert iso_from_ms(0) == "1970-01-01T00:00:00.000Z"
    assert iso_from_ms(None) == ""
    assert iso(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-01-01T00:00:00.000Z"


def test_a_time_a_datetime_cannot_hold_reads_as_unknown_not_a_traceback() -> None:
    """A record pulled from elsewhere may carry any start_ms the schema admits (seen: year
    10579 from a synthetic store): `lineage log` printed a traceback on it."""
    from lineage.clock import from_ms, iso_from_ms
    from lineage.summary import LogEntry, render_line

    far = 270_000_000_000_000  # year 10525
    assert from_ms(far) is None and iso_from_ms(far) == ""
    assert from_ms(0) is not None and iso_from_ms(None) == ""
    entry = LogEntry(
        "r" * 64, "a" * 32, far, "FINISHED", "c" * 40, False, None, None, (), "observed"
    )
    assert render_line(entry).startswith("????-??-?? ??:??  aaaaaaaaaaaa")
