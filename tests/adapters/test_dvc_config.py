"""lineage.adapters.dvc_config against the real DVC: the cache, link types and remotes DVC itself
resolves, read without importing it."""

from __future__ import annotations

from pathlib import Path

from lineage.adapters.dvc_config import CacheConfig, cache_config
from tests.conftest import sh


def test_cache_config_reads_remotes_cache_dir_and_link_types(
    dvc_repo: Path, tmp_path: Path
) -> None:
    sh("dvc", "remote", "add", "secure", "ssh://ada:s3cret@example.com/srv/dvc", cwd=dvc_repo)
    (dvc_repo / ".dvc" / "config.local").write_text(
        "[core]\n    remote = mine\n"
        '[cache]\n    dir = ../../shared-cache\n    type = "hardlink,symlink"\n'
        "['remote \"mine\"']\n    url = ../../mine\n"
    )

    config = cache_config(dvc_repo)

    assert config == CacheConfig(
        cache_dir=tmp_path / "shared-cache",  # relative to .dvc/, where the config file is
        link_types=("hardlink", "symlink"),
        default_remote="mine",  # config.local wins over config
        remotes={
            "storage": str(tmp_path / "dvc-remote"),
            "secure": "ssh://example.com/srv/dvc",
            "mine": str(tmp_path / "mine"),
        },
    )
    assert "s3cret" not in repr(config)
    from dvc.repo import Repo

    with Repo(str(dvc_repo)) as dvc:  # DVC resolves the same directory
        assert Path(dvc.cache.local.path) == tmp_path / "shared-cache" / "files" / "md5"


def test_cache_config_defaults_match_dvc(dvc_repo: Path) -> None:
    config = cache_config(dvc_repo)

    assert config.cache_dir == dvc_repo / ".dvc" / "cache"
    assert config.link_types == ("reflink", "copy")
    assert config.default_remote == "storage"
