"""The clock, time as records spell it (ISO 8601 UTC to the millisecond, ``Z``-suffixed), and
the moments `--as-of` takes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def utc_now() -> datetime:
    """The clock; tests may replace it."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """``2026-11-27T03:15:00.123Z``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def from_ms(ms: float | None) -> datetime | None:
    """Milliseconds since the epoch (MLflow's and W&B's times) as a UTC datetime; None for None
    and for a time a datetime cannot hold (a record from elsewhere may say year 10579)."""
    if ms is None:
        return None
    try:
        return datetime.fromtimestamp(ms / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def iso_from_ms(ms: int | None) -> str:
    """Milliseconds since the epoch as records spell time; "" for None or out of range."""
    moment = from_ms(ms)
    return "" if moment is None else iso(moment)


_DATE = r"^\d{4}-\d{2}-\d{2}"
_TIME = r"T(?P<h>\d{2})(:(?P<m>\d{2})(:(?P<s>\d{2})(?P<frac>[.,]\d+)?)?)?"


def moment_bound(text: str) -> str | None:
    """The exclusive upper bound on record time meant by an ISO 8601 date or datetime, as the
    records spell time (UTC, milliseconds, ``Z``); None when ``text`` is not one.

    The moment given is included to its precision: a date means the whole day, a time without
    seconds the whole minute. A date or time without a zone is local time.
    """
    import re  # only --as-of needs it

    if not re.match(_DATE, text):
        return None
    try:
        moment = datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        return None
    time = re.search(_TIME, text.replace(" ", "T", 1))
    if time is None:
        step = timedelta(days=1)
    elif time["m"] is None:
        step = timedelta(hours=1)
    elif time["s"] is None:
        step = timedelta(minutes=1)
    elif time["frac"] is None:
        step = timedelta(seconds=1)
    else:
        step = timedelta(milliseconds=1)
    if moment.tzinfo is None:
        moment = moment.astimezone()  # naive means local time
    return iso(moment + step)
