"""The project's lineage configuration: ``.lineage/config.toml``, committed with the code."""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lineage.errors import LineageError, NotInitializedError

CONFIG_PATH = ".lineage/config.toml"

DEFAULT_CONFIG = """\
# lineage configuration, shared by everyone who clones this repository: commit it.
# Reference: docs/configuration.md

[metrics]
# The metric `lineage log` shows for each run; empty means the first metric by name.
main = ""

[environment]
# Environment variables recorded with each run, on top of lineage's built-in allow-list
# (PYTHONHASHSEED, CUDA_VISIBLE_DEVICES, OMP_NUM_THREADS, ...). Never list credentials here.
variables = []

[audit]
# `lineage audit`: a production model's commit must be on one of these branches, and on this
# Git remote.
protected_branches = ["main", "master"]
remote = "origin"

[reproduce]
# `lineage reproduce` (and `lineage audit`, which reads its verdicts): a rerun's value is
# within the tolerance when |rerun - original| <= atol + rtol * |original|. Outputs matching
# one of ignore_outputs (globs, e.g. "model.pkl") are left out, always named; plots files
# (`plots:` in dvc.yaml) are compared by their numbers within the tolerance ("tolerance") or
# left out ("ignore"). Command-line options override these.
rtol = 0.0
atol = 0.0
ignore_outputs = []
plots = "tolerance"

[hooks]
# The pre-commit hook (`lineage hooks install`) refuses staged files larger than this many
# megabytes (MiB, default 10): they belong in DVC, not in Git.
# max_file_mb = 10

[snapshot]
# A snapshot of a dirty tree (`lineage run`) is published by `lineage push`. Untracked files
# named like secrets (.env, *.pem, id_rsa, .netrc, credentials*, ...), or larger than
# max_file_mb, never enter it. Add gitignore-style patterns to keep more out, or set
# untracked = false to keep every untracked file out.
untracked = true
exclude = []
"""

DEFAULT_MAX_FILE_MB = 10.0
PLOTS_POLICIES = ("tolerance", "ignore")


@dataclass(frozen=True)
class ReproduceDefaults:
    """``[reproduce]``: how a rerun is judged unless the command line says otherwise."""

    rtol: float = 0.0
    atol: float = 0.0
    ignore_outputs: tuple[str, ...] = ()  # globs of DVC outputs left out of the verdict
    plots: str = "tolerance"  # plots files: compared by their numbers, or "ignore"d


@dataclass(frozen=True)
class SnapshotRules:
    """``[snapshot]``: which untracked files a snapshot of a dirty tree may hold."""

    untracked: bool = True  # False: none at all
    exclude: tuple[str, ...] = ()  # gitignore-style patterns, on top of secrets' names


@dataclass(frozen=True)
class Config:
    main_metric: str | None = None
    env_variables: tuple[str, ...] = ()
    protected_branches: tuple[str, ...] = ("main", "master")
    audit_remote: str = "origin"
    max_file_mb: float = DEFAULT_MAX_FILE_MB  # [hooks]: larger staged files belong in DVC
    reproduce: ReproduceDefaults = ReproduceDefaults()
    snapshot: SnapshotRules = SnapshotRules()


def config_file(root: Path) -> Path:
    return root / CONFIG_PATH


def is_initialized(root: Path) -> bool:
    # exists(), not is_file(): a directory in its place is a broken setup that load() names,
    # not a repository where `lineage init` never ran.
    return config_file(root).exists()


# Every key lineage reads, by table: anything else is a typo, warned about (never an error,
# so a config written by a newer lineage still works here).
KNOWN_KEYS: dict[str, frozenset[str]] = {
    "metrics": frozenset({"main"}),
    "environment": frozenset({"variables"}),
    "audit": frozenset({"protected_branches", "remote"}),
    "reproduce": frozenset({"rtol", "atol", "ignore_outputs", "plots"}),
    "hooks": frozenset({"max_file_mb"}),
    "snapshot": frozenset({"untracked", "exclude"}),
}


def load(root: Path, warn: Callable[[str], None] | None = None) -> Config:
    """The configuration in ``root``; a key of the wrong type is refused, an unknown key or
    table is ``warn``ed about."""
    path = config_file(root)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotInitializedError(str(root)) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise LineageError(f"{CONFIG_PATH} is not valid TOML ({exc}); fix or delete it") from None
    except OSError as exc:  # a directory in its place, unreadable
        raise LineageError(
            f"cannot read {path} ({exc.strerror or exc}); make it the file `lineage init` "
            "writes (move it aside and run `lineage init`)"
        ) from None
    for message in _unknown_keys(data):
        if warn is not None:
            warn(message)
    metrics = _table(data, "metrics")
    main = metrics.get("main", "")
    if not isinstance(main, str):
        raise LineageError(
            f"{CONFIG_PATH}: [metrics] main must be a metric name in quotes, not {main!r}, "
            'e.g. main = "accuracy"'
        )
    env = _table(data, "environment")
    variables = env.get("variables", [])
    if not isinstance(variables, list) or not all(isinstance(v, str) for v in variables):
        raise LineageError(
            f"{CONFIG_PATH}: [environment] variables must be a list of names, "
            'e.g. variables = ["SEED"]'
        )
    audit = _table(data, "audit")
    branches = audit.get("protected_branches", ["main", "master"])
    if not isinstance(branches, list) or not all(isinstance(b, str) for b in branches):
        raise LineageError(
            f'{CONFIG_PATH}: [audit] protected_branches must be a list, e.g. ["main"]'
        )
    remote = audit.get("remote", "origin")
    if not isinstance(remote, str) or not remote:
        raise LineageError(
            f"{CONFIG_PATH}: [audit] remote must be a Git remote's name in quotes, not "
            f'{remote!r}, e.g. remote = "origin"'
        )
    max_file_mb = _table(data, "hooks").get("max_file_mb", DEFAULT_MAX_FILE_MB)
    if (
        isinstance(max_file_mb, bool)
        or not isinstance(max_file_mb, int | float)
        or max_file_mb <= 0
    ):
        raise LineageError(
            f"{CONFIG_PATH}: [hooks] max_file_mb must be a positive number of megabytes, "
            "e.g. max_file_mb = 10"
        )
    return Config(
        main_metric=main or None,
        env_variables=tuple(variables),
        protected_branches=tuple(branches),
        audit_remote=remote,
        max_file_mb=float(max_file_mb),
        reproduce=_reproduce_defaults(_table(data, "reproduce")),
        snapshot=_snapshot_rules(data.get("snapshot", {})),
    )


def _table(data: dict[str, Any], name: str) -> dict[str, Any]:
    table = data.get(name, {})
    if not isinstance(table, dict):
        raise LineageError(
            f"{CONFIG_PATH}: {name} must be a table ([{name}] on a line of its own), not {table!r}"
        )
    return table


def _unknown_keys(data: dict[str, Any]) -> list[str]:
    """A warning for each table and key lineage does not read (a typo is otherwise silent)."""
    found = []
    for name, table in data.items():
        if name not in KNOWN_KEYS:
            known = ", ".join(f"[{t}]" for t in KNOWN_KEYS)
            found.append(f"{CONFIG_PATH}: unknown table [{name}] is ignored; known: {known}")
        elif isinstance(table, dict):
            for key in table:
                if key not in KNOWN_KEYS[name]:
                    known = ", ".join(sorted(KNOWN_KEYS[name]))
                    found.append(
                        f"{CONFIG_PATH}: unknown key {key!r} in [{name}] is ignored; known: {known}"
                    )
    return found


def _reproduce_defaults(table: dict[str, Any]) -> ReproduceDefaults:
    tolerances = {}
    for key in ("rtol", "atol"):
        value = table.get(key, 0.0)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not 0 <= value < math.inf  # TOML has nan and inf: neither is a tolerance
        ):
            raise LineageError(
                f"{CONFIG_PATH}: [reproduce] {key} must be a finite number >= 0, not {value!r}, "
                f"e.g. {key} = 1e-9"
            )
        tolerances[key] = float(value)
    ignored = table.get("ignore_outputs", [])
    if not isinstance(ignored, list) or not all(isinstance(g, str) and g for g in ignored):
        raise LineageError(
            f"{CONFIG_PATH}: [reproduce] ignore_outputs must be a list of paths or globs, "
            'e.g. ignore_outputs = ["model.pkl"]'
        )
    plots = table.get("plots", "tolerance")
    if plots not in PLOTS_POLICIES:
        raise LineageError(
            f'{CONFIG_PATH}: [reproduce] plots must be "tolerance" or "ignore", not {plots!r}'
        )
    return ReproduceDefaults(
        rtol=tolerances["rtol"],
        atol=tolerances["atol"],
        ignore_outputs=tuple(ignored),
        plots=str(plots),
    )


def _snapshot_rules(table: object) -> SnapshotRules:
    if not isinstance(table, dict):
        raise LineageError(
            f"{CONFIG_PATH}: snapshot must be a table: a `[snapshot]` line, then its keys"
        )
    untracked = table.get("untracked", True)
    if not isinstance(untracked, bool):
        raise LineageError(
            f"{CONFIG_PATH}: [snapshot] untracked must be true or false, not {untracked!r}"
        )
    exclude = table.get("exclude", [])
    if not isinstance(exclude, list) or not all(isinstance(p, str) and p for p in exclude):
        raise LineageError(
            f"{CONFIG_PATH}: [snapshot] exclude must be a list of gitignore-style patterns, "
            'e.g. exclude = ["*.sqlite", "notes/"]'
        )
    return SnapshotRules(untracked=untracked, exclude=tuple(exclude))
