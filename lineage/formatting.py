"""How values look in lineage's text output, the same in every command."""

from __future__ import annotations

from collections.abc import Sequence


def human_size(size: int | None) -> str:
    """Bytes in decimal units as DVC and `ls -h --si` show them: 512 B, 1.5 kB, 2.0 GB."""
    if size is None:
        return ""
    value, unit = float(size), "B"
    for bigger in ("kB", "MB", "GB"):
        if value < 1000:
            break
        value, unit = value / 1000, bigger
    return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"


def short_hash(value: str, width: int = 10) -> str:
    """A data hash cut to ``width`` hex digits, keeping a Git LFS oid's ``sha256:`` prefix
    (``sha256:3f2a0b9c1d``), so a short LFS hash is never mistaken for a DVC md5."""
    kind, colon, digits = value.rpartition(":")
    return f"{kind}{colon}{digits[:width]}"


def value_text(value: object) -> str:
    """A param or metric at full precision (a float's repr is the shortest text that reads
    back to the same bits, and exactness is what a comparison is about); "-" for none."""
    if value is None:
        return "-"
    return repr(value) if isinstance(value, float) else str(value)


def printable(text: str) -> str:
    """``text`` as it is, or ``repr``-quoted when it holds a control character (a newline in a
    file name must not start a line of its own in lineage's output)."""
    return repr(text) if any(ord(c) < 32 or ord(c) == 127 for c in text) else text


def listed(items: Sequence[str], most: int = 5) -> str:
    """The first ``most`` items, printable and comma-separated, and how many more there are."""
    shown = ", ".join(printable(item) for item in items[:most])
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")


def number_ranges(numbers: Sequence[int], most: int = 10) -> str:
    """Whole numbers, sorted, as runs of consecutive ones (``1-96, 98, 99, 101``): a model
    with 50,000 versions is one short line, not 300 KB. At most ``most`` runs, then how many
    numbers more."""
    runs: list[tuple[int, int]] = []
    for n in sorted(set(numbers)):
        if runs and n == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    shown = ", ".join(
        str(a) if a == b else f"{a}, {b}" if b == a + 1 else f"{a}-{b}" for a, b in runs[:most]
    )
    rest = sum(b - a + 1 for a, b in runs[most:])
    return shown + (f" and {rest} more" if rest else "")


def newest(items: Sequence[str], most: int = 10) -> str:
    """``items`` (oldest first), comma-separated; past ``most``, only the newest ``most``,
    said so."""
    if len(items) <= most:
        return ", ".join(items)
    return f"the newest {most} of {len(items)}: {', '.join(items[-most:])}"
