"""DVC projects for the adapter tests: a pipeline layout (foreach stage with a wdir, a nested
dvc.yaml), data sets with awkward names, and helpers reading what DVC itself wrote."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import BIN

PREPARE = """\
import pathlib, sys
rows = pathlib.Path(sys.argv[1]).read_text().splitlines()
out = pathlib.Path(sys.argv[2])
out.mkdir(exist_ok=True)
(out / "header.csv").write_text(rows[0] + "\\n")
(out / "rows.csv").write_text("\\n".join(rows[1:]) + "\\n")
"""

FIT = """\
import pathlib, sys
rows = (pathlib.Path(sys.argv[1]) / "rows.csv").read_text()
pathlib.Path(sys.argv[2]).write_text(f"model {sys.argv[2]} on {len(rows)} bytes\\n")
"""

PIPELINE = """\
stages:
  prepare:
    cmd: python src/prepare.py data/raw.csv data/prepared
    deps: [src/prepare.py, data/raw.csv]
    params: [threshold]
    outs: [data/prepared]
  train:
    foreach: [a, b]
    do:
      wdir: models
      cmd: python ../src/fit.py ../data/prepared model-${item}.txt
      deps: [../src/fit.py, ../data/prepared]
      outs: ["model-${item}.txt"]
"""

SUB_PIPELINE = """\
stages:
  report:
    cmd: wc -l ../data/raw.csv > report.txt
    deps: [../data/raw.csv]
    outs: [report.txt]
"""


def md5_of(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def dvc_outs(root: Path, pointer: str) -> list[dict[str, Any]]:
    """The outs exactly as DVC wrote them, read without our parser."""
    outs: list[dict[str, Any]] = yaml.safe_load((root / pointer).read_text())["outs"]
    return outs


def age(*paths: Path, seconds: float = 3600) -> None:
    """Set mtimes in the past, out of StatCache's racy window (files, or whole trees)."""
    when = time.time() - seconds
    for path in paths:
        targets = [path, *path.rglob("*")] if path.is_dir() else [path]
        for target in targets:
            os.utime(target, (when, when), follow_symlinks=False)


def write(path: Path, content: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def make_dataset(directory: Path) -> None:
    """Nested subdirectories, unicode and spaces, an empty file, names that sort trickily."""
    write(directory / "a.csv", "id,value\n1,10\n")
    write(directory / "empty", b"")
    write(directory / "sub" / "deeper" / "weights.bin", bytes(range(256)) * 6000)  # > 1 MiB
    write(directory / "sub-dash" / "c.txt", "dash sorts before slash\n")
    write(directory / "sub.txt", "dot sorts before slash too\n")
    write(directory / "ünïcødé" / "名 前" / "with space.txt", "unicode\r\nand CRLF\r\n")
    (directory / "emptydir").mkdir()


def hermetic_env(home: Path) -> dict[str, str]:
    """conftest's hermetic environment, for a fixture built once per module (before it runs)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GIT_", "MLFLOW_", "LINEAGE_", "DVC_"))
    }
    (home / "templates").mkdir(parents=True)
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Ada Lovelace\n\temail = ada@example.com\n[init]\n\tdefaultBranch = main\n"
    )
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_TEMPLATE_DIR=str(home / "templates"),
        DVC_NO_ANALYTICS="1",
        DVC_SITE_CACHE_DIR=str(home / ".dvc-site"),
        PYTHONWARNINGS="ignore",
        PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
    )
    return env


IMAGES = {"a.txt": "alpha\n", "b.txt": "beta\n", "sub/c.txt": "gamma\n", "sub/deep/d.txt": "d\n"}
ABSENT = "0123456789abcdef0123456789abcdef"


def pointer_md5(root: Path, pointer: str) -> str:
    return str(yaml.safe_load((root / pointer).read_text())["outs"][0]["md5"])


def cache_dir(root: Path) -> Path:
    from lineage.adapters.dvc_config import cache_config

    return cache_config(root).cache_dir
