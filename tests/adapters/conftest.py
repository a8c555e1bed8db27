"""Fixtures shared by the adapter tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.adapters.dvc_helpers import (
    FIT,
    IMAGES,
    PIPELINE,
    PREPARE,
    SUB_PIPELINE,
    hermetic_env,
    write,
)
from tests.conftest import sh


@pytest.fixture(scope="session")
def pipeline_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DVC repository with raw data and a committed pipeline run by `dvc repro`: a foreach
    stage with a wdir, and a nested sub/dvc.yaml. Built once: each DVC command takes ~1 s."""
    base = tmp_path_factory.mktemp("pipeline")
    env = hermetic_env(base / "home")
    root = base / "repo"
    write(root / "data" / "raw.csv", "id,value\n1,10\n2,20\n3,30\n")
    write(root / "src" / "prepare.py", PREPARE)
    write(root / "src" / "fit.py", FIT)
    write(root / "params.yaml", "threshold: 0.5\n")
    write(root / "dvc.yaml", PIPELINE)
    (root / "models").mkdir()
    write(root / "sub" / "dvc.yaml", SUB_PIPELINE)
    sh("git", "init", "-q", cwd=root, env=env)
    sh("dvc", "init", "-q", cwd=root, env=env)
    sh("dvc", "add", "-q", "data/raw.csv", cwd=root, env=env)
    sh("dvc", "repro", "-q", "dvc.yaml", "sub/dvc.yaml", cwd=root, env=env)
    sh("git", "add", "-A", cwd=root, env=env)
    sh("git", "commit", "-q", "-m", "Track raw data and the pipeline", cwd=root, env=env)
    return root


@pytest.fixture
def pipeline_repo(pipeline_template: Path, tmp_path: Path) -> Path:
    """A private copy of pipeline_template for a test to change."""
    return Path(shutil.copytree(pipeline_template, tmp_path / "repo", symlinks=True))


@pytest.fixture
def images_repo(dvc_repo: Path) -> Path:
    """dvc_repo plus data/images, a DVC-tracked directory of four files in nested folders."""
    for rel, text in IMAGES.items():
        (dvc_repo / "data" / "images" / rel).parent.mkdir(parents=True, exist_ok=True)
        (dvc_repo / "data" / "images" / rel).write_text(text)
    sh("dvc", "add", "-q", "data/images", cwd=dvc_repo)
    sh("git", "add", "-A", cwd=dvc_repo)
    sh("git", "commit", "-q", "-m", "Track images", cwd=dvc_repo)
    return dvc_repo
