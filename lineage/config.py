"""The project's lineage configuration: ``.lineage/config.toml``, committed with the code."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

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
"""


@dataclass(frozen=True)
class Config:
    main_metric: str | None = None
    env_variables: tuple[str, ...] = ()


def config_file(root: Path) -> Path:
    return root / CONFIG_PATH


def is_initialized(root: Path) -> bool:
    return config_file(root).is_file()


def load(root: Path) -> Config:
    path = config_file(root)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotInitializedError(str(root)) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise LineageError(f"{CONFIG_PATH} is not valid TOML ({exc}); fix or delete it") from None
    metrics = data.get("metrics", {})
    env = data.get("environment", {})
    variables = env.get("variables", [])
    if not isinstance(variables, list) or not all(isinstance(v, str) for v in variables):
        raise LineageError(
            f"{CONFIG_PATH}: [environment] variables must be a list of names, "
            'e.g. variables = ["SEED"]'
        )
    return Config(main_metric=metrics.get("main") or None, env_variables=tuple(variables))
