"""DVC's configuration as lineage needs it: where the cache is, how to link from it, which
remotes there are; and the one file lineage writes for DVC, a reproduction worktree's
``.dvc/config.local``.

Parsed and written with configobj, as DVC does, without importing ``dvc``. The global and system
config files are not read: they rarely set the cache, and remote queries go through DVC itself
(``dvc_store.py``), which reads them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lineage.errors import LineageError
from lineage.redact import redact_uri

DEFAULT_LINK_TYPES = ("reflink", "copy")  # dvc_data LocalHashFileDB.DEFAULT_CACHE_TYPES
_NAMED_REMOTE = re.compile(r'^\s*remote\s*"(.*)"\s*$')
SCHEME = re.compile(r"^\w+://")  # dvc/config.py Config._resolve: URLs are not paths


@dataclass(frozen=True)
class CacheConfig:
    cache_dir: Path  # absolute; objects under cache_dir/"files"/"md5"/ab/cdef...
    link_types: tuple[str, ...]  # cache.type, DVC's default ("reflink", "copy")
    default_remote: str | None  # core.remote
    remotes: dict[str, str]  # name -> url, user info stripped


def cache_config(root: Path) -> CacheConfig:
    """DVC's cache and remote settings from ``.dvc/config`` then ``.dvc/config.local``."""
    merged: dict[str, dict[str, Any]] = {"core": {}, "cache": {}, "remote": {}}
    for name in ("config", "config.local"):
        path = root.absolute() / ".dvc" / name
        for section, values in _read_config(path).items():
            named = _NAMED_REMOTE.match(section)
            if named:
                merged["remote"].setdefault(named.group(1), {}).update(values)
            elif section in merged:
                merged[section].update(values)
    cache_dir = merged["cache"].get("dir") or str(root.absolute() / ".dvc" / "cache")
    types = merged["cache"].get("type") or DEFAULT_LINK_TYPES
    types = types.split(",") if isinstance(types, str) else types
    return CacheConfig(
        cache_dir=Path(cache_dir),
        link_types=tuple(t.strip() for t in types if t.strip()),
        default_remote=merged["core"].get("remote") or None,
        remotes={
            remote: redact_uri(str(values["url"]))
            for remote, values in merged["remote"].items()
            if "url" in values
        },
    )


def _read_config(path: Path) -> dict[str, dict[str, Any]]:
    """Sections with lower-cased keys; paths resolved against the file's directory, as DVC does."""
    from configobj import ConfigObj, ConfigObjError

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return {}
    try:
        parsed = ConfigObj(lines).dict()
    except ConfigObjError as exc:
        raise LineageError(f"{path} is not a valid DVC config ({exc}); fix it") from None
    sections = {
        str(s).lower(): {str(k).lower(): v for k, v in body.items()}
        for s, body in parsed.items()
        if isinstance(body, dict)
    }
    remotes = [(s, "url") for s in sections if _NAMED_REMOTE.match(s)]
    for section, key in [("cache", "dir"), *remotes]:
        value = sections.get(section, {}).get(key)
        if isinstance(value, str) and not SCHEME.match(value):
            expanded = os.path.join(path.parent, os.path.expanduser(value))
            sections[section][key] = os.path.abspath(expanded)
    return sections


def write_worktree_config(
    root: Path, worktree: Path, cache_dir: Path, link_types: Sequence[str]
) -> None:
    """Make DVC in ``worktree`` use the main cache (so a rerun stage's outputs land there) with
    ``link_types``. The repository's own ``.dvc/config.local`` (remote credentials) is carried
    over; nothing of the user's is modified."""
    from configobj import ConfigObj

    source = root / ".dvc" / "config.local"
    local = ConfigObj(str(source)) if source.exists() else ConfigObj()
    local.filename = str(worktree / ".dvc" / "config.local")
    local.setdefault("cache", {})
    local["cache"]["dir"] = str(cache_dir)
    local["cache"]["type"] = ",".join(link_types)
    local.write()
