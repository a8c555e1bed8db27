"""The fields of a record the index reads, decoded without the rest of the document.

A run record is ~2 KB, most of it the command, environment, params and metrics, which the index
never reads. Decoding it whole with ``json`` costs ~55 us; msgspec decodes only the fields named
below, skipping the rest in C, in ~9 us: a cold build of a million records spends ~9 s there
instead of ~55 s. This path serves records this clone wrote (trusted, see
``Store.written_names``), whose shape lineage's typed records made. Anything it cannot read as
expected goes through ``records.decode``, which gives the canonical answer and error.

Every key ``index._add`` and ``edges.edges_of`` read must be a field here: a test builds the
index both ways over records of every kind and compares the rows.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, Struct, UnsetType

from lineage.records import SCHEMA, record_id


class _Data(Struct):
    md5: Any = UNSET
    path: Any = UNSET


class _Model(Struct):
    name: Any = UNSET
    version: Any = UNSET


class _Run(Struct):  # a run record's MLflow run (a registration's `run` is its id: a string)
    run_id: Any = UNSET
    parent_run_id: Any = UNSET
    start_ms: Any = UNSET


class _WandbFile(Struct):
    md5: Any = UNSET
    path: Any = UNSET


class _WandbArtifact(Struct):
    name: Any = UNSET
    type: Any = UNSET
    digest: Any = UNSET
    used: Any = UNSET
    files: list[_WandbFile] | UnsetType | None = UNSET


class _Wandb(Struct):  # a W&B run (key, start, artifact files and models: edges.edges_of)
    project: Any = UNSET
    run_id: Any = UNSET
    start_ms: Any = UNSET
    artifacts: list[_WandbArtifact] | UnsetType | None = UNSET


class _Command(Struct):
    started: Any = UNSET


class _Code(Struct):
    commit: Any = UNSET
    snapshot: Any = UNSET


class _Created(Struct):
    at: Any = UNSET


class _Fields(Struct):
    schema: Any = UNSET
    kind: Any = UNSET
    created: _Created | UnsetType | None = UNSET
    evidence: Any = UNSET
    session: Any = UNSET
    code: _Code | str | UnsetType | None = UNSET  # a reproduction's is the commit it checked out
    run: _Run | str | UnsetType | None = UNSET  # a registration's or attachment's is a run key
    command: _Command | list[Any] | UnsetType | None = UNSET  # a reproduction's is its argv
    inputs: list[_Data] | UnsetType | None = UNSET
    outputs: list[_Data] | UnsetType | None = UNSET
    models: list[_Model] | UnsetType | None = UNSET
    model: _Model | UnsetType | None = UNSET
    wandb: _Wandb | UnsetType | None = UNSET
    commit: Any = UNSET
    original_run: Any = UNSET
    rerun_run: Any = UNSET
    rerun_record: Any = UNSET
    reproduces: Any = UNSET
    verdict: Any = UNSET


_DECODER = msgspec.json.Decoder(_Fields)


def index_fields(name: str, blob: bytes) -> dict[str, Any] | None:
    """The indexed fields of a trusted record, as the plain dict ``records.decode`` would give
    minus the fields the index does not read; None when it is not what this path expects
    (wrong name, not a schema-1 record, a field of another shape): ``records.decode`` then
    decides, with its exact error."""
    if record_id(blob) != name:
        return None
    try:
        fields = msgspec.to_builtins(_DECODER.decode(blob))
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if not isinstance(fields, dict) or fields.get("schema") != SCHEMA or "kind" not in fields:
        return None
    return fields
