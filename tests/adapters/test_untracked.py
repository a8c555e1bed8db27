"""Which untracked files a snapshot may hold: secrets' names, [snapshot] exclude, size."""

from __future__ import annotations

from pathlib import Path

import pytest

from lineage.adapters.untracked import (
    EXCLUDED,
    SECRET,
    TOO_LARGE,
    UNTRACKED_OFF,
    Chosen,
    LeftOut,
    choose,
)

MIB = 2**20


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        ".env.production",
        "config/.env",
        "deploy.pem",
        "tls/server.key",
        "id_rsa",
        "id_dsa",
        "id_ecdsa",
        "id_ecdsa_sk",
        "id_ed25519",
        "id_ed25519_sk",
        "keys/id_rsa_github",
        ".netrc",
        "_netrc",
        ".pgpass",
        ".git-credentials",
        "credentials",
        "credentials.json",
        "vault.kdbx",
        "client.p12",
        "client.pfx",
        ".npmrc",
        ".pypirc",
        "secrets.yaml",
        "secrets.py",
    ],
)
def test_a_file_named_like_a_secret_is_left_out(tmp_path: Path, path: str) -> None:
    assert choose(tmp_path, [path], max_bytes=MIB) == Chosen((), (LeftOut(path, SECRET),))


@pytest.mark.parametrize(
    "path",
    [
        "train_helper.py",
        "id_rsa.pub",
        "id_ed25519.pub",
        "id_map.csv",
        "envs.py",
        "prod.env.example",
    ],
)
def test_code_and_public_keys_are_kept(tmp_path: Path, path: str) -> None:
    assert choose(tmp_path, [path], max_bytes=MIB) == Chosen((path,), ())


def test_exclude_patterns_add_to_the_secrets_and_may_let_one_back_in(tmp_path: Path) -> None:
    chosen = choose(
        tmp_path,
        ["notes/todo.md", "scratch.sqlite", ".env.example", "train.py"],
        exclude=["notes/", "*.sqlite", "!.env.example"],
        max_bytes=MIB,
    )
    assert chosen == Chosen(
        (".env.example", "train.py"),
        (LeftOut("notes/todo.md", EXCLUDED), LeftOut("scratch.sqlite", EXCLUDED)),
    )


def test_a_file_over_the_size_limit_is_left_out_and_one_at_it_is_kept(tmp_path: Path) -> None:
    (tmp_path / "server.db").write_bytes(b"x" * (MIB + 1))
    (tmp_path / "small.db").write_bytes(b"x" * MIB)
    chosen = choose(tmp_path, ["server.db", "small.db"], max_bytes=MIB)
    assert chosen == Chosen(("small.db",), (LeftOut("server.db", TOO_LARGE),))


def test_a_symlink_is_kept_whatever_size_its_target(tmp_path: Path) -> None:
    (tmp_path / "big.bin").write_bytes(b"x" * (MIB + 1))
    (tmp_path / "link").symlink_to("big.bin")
    assert choose(tmp_path, ["link"], max_bytes=MIB) == Chosen(("link",), ())


def test_untracked_off_leaves_every_untracked_file_out(tmp_path: Path) -> None:
    chosen = choose(tmp_path, ["a.py", ".env"], max_bytes=MIB, include=False)
    assert chosen == Chosen((), (LeftOut("a.py", UNTRACKED_OFF), LeftOut(".env", UNTRACKED_OFF)))
