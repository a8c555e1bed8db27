"""DVC's metrics files: which files the stages a command executed declare as ``metrics:`` in
their dvc.yaml, and what those files hold, read as `dvc metrics show` reads them.

What DVC does (dvc/repo/metrics/show.py, dvc/utils/serialize, dvc/compare.py in DVC 3.67): it
picks the parser by suffix (``.json``, ``.toml``, ``.py``, anything else YAML), keeps numbers,
booleans and strings (``_extract_metrics``: lists, nulls and empty sections are left out), reads
every file under a metrics directory, and shows nested keys joined with dots (``flatten`` with
the ``dot`` reducer). Lineage does the same. DVC's parsers are thin wrappers: ``json.loads``,
ruamel.yaml's safe loader (YAML 1.2, where PyYAML's 1.1 would read ``1e-3`` as a string) and
tomlkit. Importing them from DVC costs ~125 ms of ``import dvc`` (its logger pulls in tqdm and
importlib.metadata) before any parsing, so lineage calls json and ruamel the same way itself,
and reads TOML with the standard library; only Python metrics files go through DVC's parser.
"""

from __future__ import annotations

import json
import math
import os
import posixpath
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from lineage.adapters.dvc import YamlError, join_wdir, parse_yaml, raw_stages, split_stage_address
from lineage.errors import LineageError, UnsafePathError
from lineage.records import Stage, repo_path

Warn = Callable[[str], None]
Values = dict[str, float | str]
_TEMPLATE = re.compile(r"\$\{[^}]*\}")


def flatten(document: Any) -> Values:
    """The values `dvc metrics show` shows for a metrics file's parsed content: numbers,
    booleans and strings, nested keys joined with dots (a file holding one bare value gives the
    key ""); non-finite numbers spelt as records spell them."""
    kept = _extract(document)
    if not kept:  # DVC: `val or {}`
        return {}
    if not isinstance(kept, dict):
        return {"": _spelt(kept)}
    flat: Values = {}
    for key, value in _leaves(kept, ""):
        flat[key] = _spelt(value)
    return flat


def _extract(value: Any) -> Any:
    """DVC's ``_extract_metrics``: scalars DVC shows, and sections that hold some."""
    if isinstance(value, int | float | str):
        return value
    if not isinstance(value, dict):
        return None
    kept = {}
    for key, item in value.items():
        extracted = _extract(item)
        if extracted is not None and extracted != {}:
            kept[key] = extracted
    return kept


def _leaves(section: Mapping[Any, Any], prefix: str) -> Iterator[tuple[str, Any]]:
    for key, value in section.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _leaves(value, name + ".")
        else:
            yield name, value


def _spelt(value: float | str) -> float | str:
    """As records keep a value: JSON cannot hold NaN or infinities, so they are strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def with_metrics(root: Path, stages: Sequence[Stage], warn: Warn) -> list[Stage]:
    """The stages, each with the values of its metrics files as they are in the workspace now;
    a metrics file that is missing or unreadable is a warning naming it, and is left out."""
    declared = declared_metrics(root, stages)
    done = []
    for stage in stages:
        metrics: dict[str, Values] = {}
        for path in declared.get(stage.name, ()):
            metrics.update(_read(root, path, stage.name, warn))
        done.append(replace(stage, metrics=metrics) if metrics else stage)
    return done


def declared_metrics(root: Path, stages: Sequence[Stage]) -> dict[str, list[str]]:
    """Stage address -> repository paths of the metrics files its dvc.yaml declares. A
    templated path (a ``foreach``/``matrix`` stage's ``${item}``) is resolved against the
    stage's outs in dvc.lock, which DVC writes with every template filled in."""
    return _declared(root, stages, "metrics")


def declared_plots(root: Path, stages: Sequence[Stage]) -> dict[str, list[str]]:
    """Stage address -> repository paths of the plots files its dvc.yaml declares
    (``plots:``), found as metrics files are."""
    return _declared(root, stages, "plots")


def _declared(root: Path, stages: Sequence[Stage], section: str) -> dict[str, list[str]]:
    pipelines: dict[str, dict[str, Any]] = {}
    found: dict[str, list[str]] = {}
    for stage in stages:
        pipeline, name = split_stage_address(stage.name)
        if pipeline not in pipelines:
            pipelines[pipeline] = _definitions(root, pipeline)
        body = pipelines[pipeline].get(name.partition("@")[0])
        definition = body.get("do") if isinstance(body, dict) and "foreach" in body else body
        if not isinstance(definition, dict):
            continue
        base = join_wdir(posixpath.dirname(pipeline), definition.get("wdir"), pipeline)
        outs = [o.path for o in stage.outs]
        paths = [p for item in _items(definition.get(section)) for p in _paths(base, item, outs)]
        if paths:
            found[stage.name] = list(dict.fromkeys(paths))
    return found


def _definitions(root: Path, pipeline: str) -> dict[str, Any]:
    try:
        return raw_stages((root / pipeline).read_text(encoding="utf-8"), pipeline)
    except (OSError, UnicodeDecodeError, LineageError):
        return {}  # no metrics to read, and dvc.lock already says what the stage did


def _items(metrics: Any) -> Iterator[str]:
    """The paths of a stage's ``metrics:`` list (``- path`` or ``- path: {cache: false}``)."""
    for item in metrics if isinstance(metrics, list) else ():
        name = next(iter(item), None) if isinstance(item, dict) else item
        if isinstance(name, str) and "://" not in name:
            yield name


def _paths(base: str, item: str, outs: Sequence[str]) -> list[str]:
    if "${" not in item:
        try:
            return [repo_path(posixpath.join(base, item))]
        except UnsafePathError:
            return []  # outside the repository: not something a record may name
    literal = _TEMPLATE.split(posixpath.normpath(posixpath.join(base, item)))
    pattern = re.compile(".+".join(map(re.escape, literal)))
    return [out for out in outs if pattern.fullmatch(out)]


def _read(root: Path, path: str, stage: str, warn: Warn) -> dict[str, Values]:
    """A metrics file's values (every file under it, for a directory), by repository path."""
    where = root / path
    if where.is_dir():
        files = sorted(
            posixpath.join(path, Path(d, f).relative_to(where).as_posix())
            for d, _, names in os.walk(where)
            for f in names
        )
    elif where.exists():
        files = [path]
    else:
        warn(
            f"metrics file {path} of stage {stage} does not exist after the command, so none "
            "of its values were recorded"
        )
        return {}
    values = {}
    for file in files:
        try:
            values[file] = flatten(_parse(root / file, file))
        except _Unreadable as exc:
            warn(
                f"metrics file {file} of stage {stage} could not be read ({exc}), so none of "
                "its values were recorded"
            )
    return {f: v for f, v in values.items() if v}


class _Unreadable(Exception):
    pass


def _parse(where: Path, name: str) -> Any:
    """The file parsed as DVC's ``load_path`` parses it: by suffix, YAML when it has none DVC
    knows; an empty document is ``{}`` (DVC's ``or {}``)."""
    try:
        text = where.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise _Unreadable("it is not UTF-8 text") from None
    except OSError as exc:
        raise _Unreadable(exc.strerror or str(exc)) from None
    import tomllib  # not on `lineage run`'s path before the command

    suffix = posixpath.splitext(name)[1].lower()
    try:
        if suffix == ".json":
            return json.loads(text) or {}  # DVC's parse_json, exactly
        if suffix == ".toml":
            # DVC parses with tomlkit (~90 ms to import); the standard library's TOML 1.0
            # parser gives the same values for a valid file.
            return tomllib.loads(text) or {}
        if suffix == ".py":
            return _parse_python(text, name)
        return parse_yaml(text, yaml12=True) or {}  # DVC's parse_yaml: ruamel, YAML 1.2
    except json.JSONDecodeError as exc:
        raise _Unreadable(f"not valid JSON: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise _Unreadable(f"not valid TOML: {exc}") from None
    except YamlError as exc:
        raise _Unreadable(f"not valid YAML: {exc}") from None


def _parse_python(text: str, name: str) -> Any:
    # Python metrics files are rare and DVC's reading of them (the module's literal
    # assignments, from its AST) is its own: use it, and pay ~125 ms for `import dvc` only here.
    from dvc.utils.serialize import parse_py

    try:
        return parse_py(text, name)
    except Exception as exc:  # DVC turns a SyntaxError into its own ParseError
        raise _Unreadable("not valid Python") from exc
