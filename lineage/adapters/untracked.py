"""Which untracked files a snapshot of a dirty tree may hold.

A snapshot commit is reachable from ``refs/lineage/records``, so ``lineage push`` and the
pre-push hook publish every blob in it. Untracked files are not the user's choice the way
tracked ones are (git already has those), so three kinds never enter a snapshot: files named
like secrets (SSH keys, ``.env``, ``.netrc``, ...) or matching ``[snapshot] exclude``
(gitignore-style patterns, matched with pathspec as git matches them), files larger than
``max_file_mb``, and every untracked file when ``[snapshot] untracked = false``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# Names of files that hold credentials, as the tools that write them name them. A user's
# `[snapshot] exclude` comes after these, so a `!pattern` there lets one back in.
SECRET_PATTERNS = (
    ".env",
    ".env.*",
    "*.pem",
    "*.key",
    # ssh-keygen's private keys (id_rsa, id_ed25519_sk, id_rsa_work, ...), not the .pub halves
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    "id_xmss*",
    "!id_*.pub",
    ".netrc",
    "_netrc",
    ".pgpass",
    ".git-credentials",
    "credentials*",
    "*.kdbx",
    "*.p12",
    "*.pfx",
    ".npmrc",
    ".pypirc",
    "secrets.*",
)

SECRET = "secret"  # named like a file that holds credentials
EXCLUDED = "exclude"  # matched [snapshot] exclude
TOO_LARGE = "size"  # larger than max_file_mb
UNTRACKED_OFF = "off"  # [snapshot] untracked = false


@dataclass(frozen=True)
class LeftOut:
    """An untracked file kept out of a snapshot, and why (one of the constants above)."""

    path: str
    why: str


@dataclass(frozen=True)
class Chosen:
    kept: tuple[str, ...]
    left_out: tuple[LeftOut, ...]


def choose(
    root: Path,
    untracked: Sequence[str],
    *,
    exclude: Sequence[str] = (),
    max_bytes: int,
    include: bool = True,
) -> Chosen:
    """Split ``untracked`` (repository-relative paths) into what a snapshot may hold and what
    it must not."""
    if not untracked:
        return Chosen((), ())
    if not include:
        return Chosen((), tuple(LeftOut(p, UNTRACKED_OFF) for p in untracked))
    import pathspec  # only a dirty tree with untracked files pays for it

    secrets = pathspec.GitIgnoreSpec.from_lines(SECRET_PATTERNS)
    everything = pathspec.GitIgnoreSpec.from_lines([*SECRET_PATTERNS, *exclude])
    kept: list[str] = []
    left_out: list[LeftOut] = []
    for path in untracked:
        if everything.match_file(path):
            left_out.append(LeftOut(path, SECRET if secrets.match_file(path) else EXCLUDED))
        elif _size(root / path) > max_bytes:
            left_out.append(LeftOut(path, TOO_LARGE))
        else:
            kept.append(path)
    return Chosen(tuple(kept), tuple(left_out))


def _size(path: Path) -> int:
    """A regular file's size; 0 for a symlink (git stores its target) or what vanished."""
    try:
        info = os.lstat(path)
    except OSError:
        return 0
    return info.st_size if stat.S_ISREG(info.st_mode) else 0
