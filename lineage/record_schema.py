"""The published record schema (``lineage/schema/records.schema.json``, docs/records.md) and the
one check every reader applies to a stored record before using it.

``jsonschema`` is imported on the first record that needs checking, never by ``--help``, a
query on an index level with the store, or a hook with nothing new to read; the compiled
validator is built once per process.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lineage.errors import printable as escaped

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

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
def validator() -> Validator:
    """The compiled validator of the whole schema (JSON Schema 2020-12): the reference, and
    what explains an invalid record."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema())


@cache
def _by_kind() -> dict[str, Validator]:
    """One validator per record kind, its ``$ref``s inlined: the same rules as the whole
    schema, checked about twice as fast (jsonschema resolves a ``$ref`` and an ``if``/``then``
    on every use; measured in the report of issue 14 and docs/records.md)."""
    from jsonschema import Draft202012Validator

    whole = schema()
    defs = whole["$defs"]
    found = {}
    for kind in whole["properties"]["kind"]["enum"]:
        own = _inline(defs[kind], defs)
        own["type"] = "object"
        own["required"] = ["schema", "kind", *own["required"]]
        own["properties"] = {**whole["properties"], **own["properties"]}
        found[kind] = Draft202012Validator(own)
    return found


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:  # the referenced schema, with the keywords beside the $ref over it
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return {**_inline(defs[node["$ref"].rpartition("/")[2]], defs), **_inline(rest, defs)}
        return {k: _inline(v, defs) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    return node


def problem(document: Any) -> str | None:
    """The first thing wrong with a decoded record (where, and what), or None when it is valid.

    ``is_valid`` of the record's kind is the fast path; only an invalid record pays for
    collecting its errors against the whole schema and choosing the most telling one
    (jsonschema's ``best_match``)."""
    kind = document.get("kind") if isinstance(document, dict) else None
    fast = _by_kind().get(kind) if isinstance(kind, str) else None
    if fast is not None and fast.is_valid(document):
        return None
    from jsonschema.exceptions import best_match

    error = best_match(validator().iter_errors(document))
    if error is None:  # cannot happen while the two agree; tests/test_record_schema.py checks
        return "it does not match the record schema"
    where = "" if error.json_path == "$" else f"{error.json_path}: "
    return printable(where + error.message)


def printable(text: str) -> str:
    """``text`` cut to one short line, control characters escaped (it quotes stored values,
    which anyone who can push to the ref may have written)."""
    if len(text) > _LONGEST_PROBLEM:
        text = text[: _LONGEST_PROBLEM - 1] + "…"
    return escaped(text)
