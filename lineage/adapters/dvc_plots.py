"""DVC's plots files read as numbers, so that a rerun's plots can be judged within a tolerance.

DVC renders plots and never compares two of them; a plots file whose bytes differ only in the
last digit of a float (a RandomForest with ``n_jobs=2`` sums in another order) is the same
plot. Lineage reads the formats DVC plots (``.json``, ``.yaml``/``.yml``, ``.csv``, ``.tsv``;
dvc/render/converter/vega.py) into the same flat ``name -> value`` shape as a metrics file,
lists included (``prc.0.precision``, a table's ``<row>.<column>``). Which outputs are plots comes
from dvc.yaml, as for metrics files (``dvc_metrics.declared_plots``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import posixpath
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from lineage.adapters.dvc import YamlError, parse_yaml
from lineage.adapters.dvc_hash import blob_md5
from lineage.adapters.dvc_store import object_path

Values = dict[str, float | str]


def numbers(data: bytes, name: str) -> Values | None:
    """The values of a plots file (by its name's suffix), or None when it cannot be read."""
    try:
        text = data.decode("utf-8")
        suffix = posixpath.splitext(name)[1].lower()
        if suffix in (".csv", ".tsv"):
            rows = csv.DictReader(io.StringIO(text), delimiter="\t" if suffix == ".tsv" else ",")
            return dict(_leaves([{k: _number(v) for k, v in row.items()} for row in rows], ""))
        if suffix == ".json":
            return dict(_leaves(json.loads(text), ""))
        if suffix in (".yaml", ".yml"):
            return dict(_leaves(parse_yaml(text, yaml12=True), ""))
    except (UnicodeDecodeError, ValueError, YamlError, csv.Error):
        return None
    return None  # an image or another format DVC shows as it is: only its md5 says anything


def _number(cell: str | None) -> float | str:
    try:
        return float(cell) if cell is not None else ""
    except ValueError:
        return cell or ""


def _leaves(value: Any, prefix: str) -> Iterator[tuple[str, float | str]]:
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        if isinstance(value, bool):
            value = str(value).lower()
        if isinstance(value, float) and not math.isfinite(value):
            value = repr(value)  # JSON spells no NaN: keep it a string, as records do
        yield prefix.rstrip("."), value if isinstance(value, int | float | str) else str(value)
        return
    for key, item in items:
        yield from _leaves(item, f"{prefix}{key}.")


def original_bytes(cache_dir: Path, md5: str, candidates: Sequence[Path]) -> bytes | None:
    """The bytes that hash to ``md5``: from the DVC cache, else the first candidate file that
    holds them (a ``cache: false`` plot lives only in Git and the working tree)."""
    for path in (object_path(cache_dir, md5), *candidates):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if blob_md5(data) == md5:
            return data
    return None
