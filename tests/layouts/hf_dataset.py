"""A Hugging Face Hub dataset repository's layout in miniature, with synthetic data: the Hub's
default ``.gitattributes`` (every repository the Hub creates gets it: archives, arrays, model
weights and parquet shards go through Git LFS, ``*.parquet filter=lfs diff=lfs merge=lfs
-text``), split shards named as ``datasets`` writes them (``data/train-00000-of-00001.parquet``),
a dataset card ``README.md``, and a small ``train.py`` that reads the shards.

``build(root, remote)`` makes it a project: git with Git LFS's filters, ``lineage init``, one
commit, and ``remote`` a bare repository on disk that is both the Git and the LFS remote
(git-lfs's standalone file transfer: no server); nothing pushed yet.
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import sh

# A subset of the Hub's default .gitattributes, in its order (huggingface_hub writes it into
# every new repository).
GITATTRIBUTES = """\
*.7z filter=lfs diff=lfs merge=lfs -text
*.arrow filter=lfs diff=lfs merge=lfs -text
*.bin filter=lfs diff=lfs merge=lfs -text
*.gz filter=lfs diff=lfs merge=lfs -text
*.npy filter=lfs diff=lfs merge=lfs -text
*.parquet filter=lfs diff=lfs merge=lfs -text
*.pkl filter=lfs diff=lfs merge=lfs -text
*.safetensors filter=lfs diff=lfs merge=lfs -text
*.zip filter=lfs diff=lfs merge=lfs -text
"""
TRAIN_SHARD = "data/train-00000-of-00001.parquet"
TEST_SHARD = "data/test-00000-of-00001.parquet"
CARD = """\
---
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*
  - split: test
    path: data/test-*
---
# churn (synthetic)
"""
TRAIN = """\
import pathlib

shards = sorted(pathlib.Path("data").glob("*.parquet"))
print("read", sum(len(p.read_bytes()) for p in shards), "bytes from", len(shards), "shards")
"""


def shard_bytes(split: str, rows: int) -> bytes:
    """Synthetic stand-in for a parquet shard: deterministic, binary, distinct per split."""
    return b"PAR1" + b"".join(f"{split},{i},{i * 7 % 13}\n".encode() for i in range(rows))


def write(root: Path) -> None:
    (root / "data").mkdir(parents=True, exist_ok=True)
    (root / ".gitattributes").write_text(GITATTRIBUTES)
    (root / "README.md").write_text(CARD)
    (root / "train.py").write_text(TRAIN)
    (root / ".gitignore").write_text("mlflow.db\nmlruns/\nmlartifacts/\n")
    (root / TRAIN_SHARD).write_bytes(shard_bytes("train", 400))
    (root / TEST_SHARD).write_bytes(shard_bytes("test", 100))


def build(root: Path, remote: Path) -> Path:
    """The project, committed, with ``origin`` a bare repository (Git and LFS remote)."""
    sh("git", "lfs", "install", "--skip-repo", cwd=root.parent)  # the filters, in ~/.gitconfig
    root.mkdir(parents=True)
    write(root)
    sh("git", "init", "-q", cwd=root)
    sh("lineage", "init", cwd=root)
    sh("git", "add", "-A", cwd=root)
    sh("git", "commit", "-q", "-m", "Dataset shards in Git LFS", cwd=root)
    sh("git", "init", "-q", "--bare", remote, cwd=root.parent)
    sh("git", "remote", "add", "origin", remote, cwd=root)
    return root
