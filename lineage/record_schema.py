"""The published record schema (``lineage/schema/records.schema.json``, docs/records.md) and the
one check every reader applies to a stored record before using it.

The check is ``jsonschema-rs`` (JSON Schema 2020-12, compiled in Rust): about 10 µs a record
against ~3 ms for the pure-Python ``jsonschema`` on this machine, which would have made the
first index build of a clone holding 100,000 pulled records take minutes (measured for issue
14; docs/records.md). It is imported on the first record that needs checking (~0.1 s), never
by ``--help``, a query on an index level with the store, or a hook with nothing new to read;
the compiled validator is built once per process.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from lineage.errors import printable as escaped

# How the reason of a record that is intact (its bytes hash to its name) but unreadable begins:
# no other copy of it can be better, unlike a corrupted blob.
INVALID = "not a valid record"
SCHEMA_PATH = Path(__file__).parent / "schema" / "records.schema.json"
_LONGEST_PROBLEM = 160  # a problem quotes the offending value: keep a warning one short line


@cache
def schema() -> dict[str, Any]:
    """The published schema, as the file holds it."""
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


@cache
def validator() -> Any:
    """The compiled validator of the whole schema (JSON Schema 2020-12)."""
    import jsonschema_rs

    return jsonschema_rs.Draft202012Validator(schema())


def problem(document: Any) -> str | None:
    """The first thing wrong with a decoded record (where, and what), or None when it is valid.

    ``is_valid`` is the fast path; only an invalid record pays for collecting its errors."""
    check = validator()
    try:
        if check.is_valid(document):
            return None
    except UnicodeEncodeError:  # a non-UTF-8 byte kept as a lone surrogate (records.py)
        document = _utf8(document)  # same shape and types: what the schema checks
        if check.is_valid(document):
            return None
    error = next(iter(check.iter_errors(document)), None)
    if error is None:  # cannot happen: is_valid said no
        return "it does not match the record schema"
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.instance_path)
    where = f"${path}: " if path else ""
    return printable(where + error.message)


def _utf8(value: Any) -> Any:
    """``value`` with lone surrogates replaced, which the Rust validator cannot take."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {_utf8(k): _utf8(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_utf8(v) for v in value]
    return value


def printable(text: str) -> str:
    """``text`` cut to one short line, control characters escaped (it quotes stored values,
    which anyone who can push to the ref may have written)."""
    if len(text) > _LONGEST_PROBLEM:
        text = text[: _LONGEST_PROBLEM - 1] + "…"
    return escaped(text)
