"""lineage.redact: credentials never reach a record, a message or a log."""

from __future__ import annotations

import pytest

from lineage.redact import redact_argv, redact_uri


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("http://user:secret@host:5000", "http://host:5000"),
        ("https://token@mlflow.example.com/prefix", "https://mlflow.example.com/prefix"),
        ("http://host:5000", "http://host:5000"),
        ("https://host/api?token=abc&experiment=3", "https://host/api?experiment=3"),
        ("https://host/x?X-Amz-Signature=1&X-Amz-Credential=2&a=b", "https://host/x?a=b"),
        ("https://host/?Password=p&API_KEY=k&Auth=x&client_secret=s", "https://host/"),
        ("postgresql://ada:pw@db:5432/mlflow", "postgresql://db:5432/mlflow"),
        ("sqlite:///mlflow.db", "sqlite:///mlflow.db"),
        ("sqlite:////abs/path/mlflow.db", "sqlite:////abs/path/mlflow.db"),
        ("file:///home/ada/mlruns", "file:///home/ada/mlruns"),
        ("/home/ada/mlruns", "/home/ada/mlruns"),
        ("databricks", "databricks"),
        ("databricks://profile", "databricks://profile"),
    ],
)
def test_redact_uri(uri: str, expected: str) -> None:
    assert redact_uri(uri) == expected


def test_redact_argv_strips_credentials_wherever_a_url_appears() -> None:
    argv = [
        "python",
        "train.py",
        "--tracking-uri=http://ada:pw@host:5000",
        "--db",
        "postgresql://ada:pw@db/x",
        "--lr",
        "0.1",
        "DSN=https://h/?token=t&a=1",
    ]

    assert redact_argv(argv) == (
        "python",
        "train.py",
        "--tracking-uri=http://host:5000",
        "--db",
        "postgresql://db/x",
        "--lr",
        "0.1",
        "DSN=https://h/?a=1",
    )
