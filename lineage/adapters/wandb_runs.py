"""Weights & Biases run directories, read from disk without a W&B server.

Every ``wandb.init`` leaves ``wandb/run-<stamp>-<runid>/`` (``offline-run-...`` offline) with
``run-<runid>.wandb``: W&B's transaction log. After a 7-byte header (``:W&B`` and version bytes)
it is LevelDB's log format: 32 KiB blocks of chunks, each with a 7-byte header (crc32c u32,
length u16, type u8: 1 full, 2 first, 3 middle, 4 last), the payloads protobuf ``Record``
messages from ``wandb.proto.wandb_internal_pb2``. The Python reader older wandb versions had is
gone in 0.31 (the Go ``wandb-core`` writes the file), so the format is read here; checksums are
not verified (no crc32c in the standard library), a chunk or message that does not parse is.

``import wandb`` is heavy: only the protobuf module is imported, inside :func:`read_run`.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lineage.errors import LineageError
from lineage.records import WandbArtifact, WandbFile, WandbRun

HEADER = b":W&B"
_HEADER_SIZE = 7
_BLOCK = 32 * 1024
_CHUNK_HEADER = 7
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4
RUN_PREFIXES = ("run-", "offline-run-")
DIRECTORY = "wandb"  # W&B's directory, in the current directory or under WANDB_DIR


class WandbRunError(LineageError):
    """A W&B run file that cannot be read."""

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(
            f"the W&B run file {path} cannot be read ({reason}); it was skipped: if the run is "
            "still going, record it again once it has finished"
        )


@dataclass(frozen=True)
class ReadRun:
    """A run read from its directory, with what was odd about it (one sentence each)."""

    run: WandbRun
    warnings: tuple[str, ...] = ()


def wandb_dirs(cwd: Path, root: Path, environ: dict[str, str] | Any) -> list[Path]:
    """The directories W&B writes run directories into for a command started in ``cwd``:
    ``$WANDB_DIR/wandb`` when WANDB_DIR is set, else ``wandb`` in the current directory; the
    repository root's too, where a script started elsewhere may have put them."""
    found: list[Path] = []
    if base := environ.get("WANDB_DIR"):
        found.append((cwd / base / DIRECTORY).resolve())
    for where in (cwd, root):
        path = (where / DIRECTORY).resolve()
        if path not in found:
            found.append(path)
    return found


def run_directories(parent: Path) -> dict[Path, int]:
    """The run directories directly under a W&B directory, each with its run file's mtime
    (ns; 0 when it has none yet)."""
    out: dict[Path, int] = {}
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return out
    for entry in entries:
        if not entry.name.startswith(RUN_PREFIXES) or not entry.is_dir(follow_symlinks=False):
            continue
        path = Path(entry.path)
        run_file = _run_file(path)
        try:
            out[path] = run_file.stat().st_mtime_ns if run_file else 0
        except OSError:
            out[path] = 0
    return out


def _run_file(directory: Path) -> Path | None:
    files = sorted(directory.glob("run-*.wandb"))
    return files[0] if files else None


def read_run(directory: Path, *, root: Path) -> ReadRun:
    """The run a run directory holds; :class:`WandbRunError` when its file cannot be read."""
    run_file = _run_file(directory)
    shown = _shown(directory, root)
    if run_file is None:
        raise WandbRunError(shown, "it holds no run-<id>.wandb file")
    try:
        data = run_file.read_bytes()
    except OSError as exc:
        raise WandbRunError(_shown(run_file, root), exc.strerror or str(exc)) from None
    return _parse(data, _shown(run_file, root), shown)


def _shown(path: Path, root: Path) -> str:
    """A repository-relative path, or the name alone for a path outside the repository."""
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.name


def _payloads(data: bytes, shown: str, truncated: list[str]) -> Iterator[bytes]:
    """The records' bytes, reassembled from LevelDB-log chunks."""
    if not data.startswith(HEADER) or len(data) < _HEADER_SIZE:
        raise WandbRunError(shown, "it does not start with W&B's header")
    pos = _HEADER_SIZE
    pending: bytes | None = None
    while pos < len(data):
        room = _BLOCK - pos % _BLOCK
        if room < _CHUNK_HEADER:  # the rest of a block too small for a header is padding
            pos += room
            continue
        if pos + _CHUNK_HEADER > len(data):
            truncated.append("it ends inside a record")
            return
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + _CHUNK_HEADER])
        pos += _CHUNK_HEADER
        if kind == 0 and length == 0:  # zero padding written at the end of a block
            pos += room - _CHUNK_HEADER
            continue
        if kind not in (_FULL, _FIRST, _MIDDLE, _LAST) or length > room - _CHUNK_HEADER:
            raise WandbRunError(shown, f"a record header at byte {pos - _CHUNK_HEADER} is damaged")
        if pos + length > len(data):
            truncated.append("it ends inside a record")
            return
        payload = data[pos : pos + length]
        pos += length
        if kind == _FULL:
            yield payload
        elif kind == _FIRST:
            pending = payload
        elif pending is None:
            raise WandbRunError(shown, f"a record at byte {pos - length} continues nothing")
        elif kind == _MIDDLE:
            pending += payload
        else:
            yield pending + payload
            pending = None
    if pending is not None:
        truncated.append("it ends inside a record")


class _Reader:
    """The facts of one run, gathered record by record (later records win, as in W&B)."""

    def __init__(self) -> None:
        self.run: Any = None
        self.config: dict[str, Any] = {}
        self.summary: dict[tuple[str, ...], Any] = {}
        self.artifacts: list[WandbArtifact] = []
        self.exit_code: int | None = None
        self.runtime_s: float | None = None
        self.program: str | None = None
        self.args: tuple[str, ...] = ()

    def add(self, record: Any) -> None:
        kind = record.WhichOneof("record_type")
        if kind == "run":
            self.run = record.run
            self._config(record.run.config)
        elif kind == "config":
            self._config(record.config)
        elif kind == "summary":
            self._summary(record.summary)
        elif kind == "artifact":
            self.artifacts.append(_artifact(record.artifact))
        elif kind == "use_artifact":
            used = record.use_artifact
            name = used.name or used.id
            self.artifacts.append(WandbArtifact(name, used.type, None, used=True))
        elif kind == "environment" and record.environment.code_path:
            self.program = record.environment.code_path
            self.args = tuple(record.environment.args)
        elif kind == "exit":
            self.exit_code = int(record.exit.exit_code)
            self.runtime_s = float(record.exit.runtime) if record.exit.runtime else None

    def _config(self, config: Any) -> None:
        for item in config.update:
            key = item.key or ".".join(item.nested_key)
            self.config[key] = json.loads(item.value_json)
        for item in config.remove:
            self.config.pop(item.key or ".".join(item.nested_key), None)

    def _summary(self, summary: Any) -> None:
        for item in summary.update:
            key = (item.key,) if item.key else tuple(item.nested_key)
            self.summary[key] = json.loads(item.value_json)
        for item in summary.remove:
            self.summary.pop((item.key,) if item.key else tuple(item.nested_key), None)


def _artifact(artifact: Any) -> WandbArtifact:
    files = tuple(
        WandbFile(entry.path, _hex_md5(entry.digest), int(entry.size) if entry.size else None)
        for entry in artifact.manifest.contents
    )
    return WandbArtifact(
        name=artifact.name,
        type=artifact.type,
        digest=artifact.digest or None,
        aliases=tuple(sorted(a for a in artifact.aliases if a)),  # YOLOv5 logs "" beside best
        files=files,
    )


def _hex_md5(digest: str) -> str:
    """W&B's base64 md5 as hex, which is DVC's md5 of the same bytes; a digest that is not
    base64 md5 (a reference artifact's ETag) is kept as it is."""
    try:
        raw = base64.b64decode(digest, validate=True)
    except (binascii.Error, ValueError):
        return digest
    return raw.hex() if len(raw) == 16 else digest


def _parse(data: bytes, shown: str, directory: str) -> ReadRun:
    from google.protobuf.message import DecodeError
    from wandb.proto import wandb_internal_pb2 as pb

    truncated: list[str] = []
    reader = _Reader()
    for payload in _payloads(data, shown, truncated):
        record = pb.Record()  # type: ignore[attr-defined]  # generated, no stubs
        try:
            record.ParseFromString(payload)
            reader.add(record)
        except (DecodeError, ValueError, RecursionError):
            raise WandbRunError(shown, "a record in it is damaged") from None
    if reader.run is None:
        reason = "it ends before the run's own record" if truncated else "it holds no run record"
        raise WandbRunError(shown, reason)
    warnings = []
    if truncated:
        warnings.append(
            f"the W&B run file {shown} is truncated ({truncated[0]}); what precedes the damage "
            "was recorded"
        )
    return ReadRun(_run(reader, directory), tuple(warnings))


def _run(reader: _Reader, directory: str) -> WandbRun:
    run = reader.run
    start = run.start_time
    return WandbRun(
        run_id=run.run_id,
        project=run.project or "uncategorized",  # W&B's own name for a run without one
        entity=run.entity or None,
        name=run.display_name or None,
        group=run.run_group or None,
        job_type=run.job_type or None,
        tags=tuple(run.tags),
        sweep_id=run.sweep_id or None,
        offline=os.path.basename(directory).startswith("offline-"),
        directory=directory,
        git_commit=run.git.commit or None,
        start_ms=start.seconds * 1000 + start.nanos // 1_000_000 if start.seconds else None,
        exit_code=reader.exit_code,
        runtime_s=reader.runtime_s,
        params=_params(reader.config),
        metrics=_metrics(reader.summary),
        artifacts=tuple(reader.artifacts),
        program=reader.program,
        args=reader.args,
    )


def _params(config: dict[str, Any]) -> dict[str, str]:
    """Config as W&B's run table shows it: nested keys joined with ``.``; W&B's own ``_wandb``
    left out; strings as they are, anything else as JSON (``0.1``, ``true``, ``[1, 2]``)."""
    flat: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for key, inner in value.items():
                walk(f"{prefix}.{key}", inner)
        else:
            flat[prefix] = value if isinstance(value, str) else json.dumps(value)

    for key, value in config.items():
        if not key.startswith("_"):
            walk(key, value)
    return dict(sorted(flat.items()))


def _metrics(summary: dict[tuple[str, ...], Any]) -> dict[str, float | str]:
    """The final summary's numbers, keys joined with ``.``; W&B's own (``_step``,
    ``_runtime``, ``_timestamp``, ``_wandb``) and non-numbers (media, tables) left out."""
    found: dict[str, float | str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}", inner)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            found[prefix] = float(value)
        elif value in ("NaN", "Infinity", "-Infinity"):
            found[prefix] = value

    for key, value in summary.items():
        if not key[0].startswith("_"):
            walk(".".join(key), value)
    return dict(sorted(found.items()))
