"""lineage.redact: credentials never reach a record, a message or a log."""

from __future__ import annotations

import pytest

from lineage.redact import (
    REDACTED,
    Redaction,
    missing_values,
    redact_argv,
    redact_command,
    redact_uri,
    redact_value,
    restore_values,
)


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


# Real-looking command lines: what lineage keeps of them, and the values it hid.
@pytest.mark.parametrize(
    ("command", "kept", "hidden"),
    [
        (
            "python train.py --token s3cr3t --lr 0.1",
            "python train.py --token <redacted> --lr 0.1",
            [("--token", "TOKEN")],
        ),
        (
            "python train.py --password=hunter2 --epochs 3",
            "python train.py --password=<redacted> --epochs 3",
            [("--password", "PASSWORD")],
        ),
        (
            "python finetune.py --hf-token hf_abc --api-key=sk-1 --apiKey Q",
            "python finetune.py --hf-token <redacted> --api-key=<redacted> --apiKey <redacted>",
            [("--hf-token", "HF_TOKEN"), ("--api-key", "API_KEY"), ("--apiKey", "API_KEY")],
        ),
        (
            "env API_KEY=abc PASSWORD=xyz python train.py",
            "env API_KEY=<redacted> PASSWORD=<redacted> python train.py",
            [("API_KEY", "API_KEY"), ("PASSWORD", "PASSWORD")],
        ),
        (
            "python train.py trainer.api_key=K +db.password=P lr=0.1 seed=4",
            "python train.py trainer.api_key=<redacted> +db.password=<redacted> lr=0.1 seed=4",
            [("trainer.api_key", "TRAINER_API_KEY"), ("+db.password", "DB_PASSWORD")],
        ),
        (
            "curl -u ada:pw -o data.csv https://example.com/data.csv",
            "curl -u ada:<redacted> -o data.csv https://example.com/data.csv",
            [("-u", "USER_PASSWORD")],
        ),
        (
            "python fetch.py --user=ada:pw --aws-secret-access-key AKIA --client-secret c",
            "python fetch.py --user=ada:<redacted> --aws-secret-access-key <redacted> "
            "--client-secret <redacted>",
            [
                ("--user", "USER_PASSWORD"),
                ("--aws-secret-access-key", "AWS_SECRET_ACCESS_KEY"),
                ("--client-secret", "CLIENT_SECRET"),
            ],
        ),
        (
            "python t.py PGPASSWORD=x AZURE_STORAGE_CONNECTION_STRING=y --auth basic:x --key k",
            "python t.py PGPASSWORD=<redacted> AZURE_STORAGE_CONNECTION_STRING=<redacted> "
            "--auth <redacted> --key <redacted>",
            [
                ("PGPASSWORD", "PGPASSWORD"),
                ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_CONNECTION_STRING"),
                ("--auth", "AUTH"),
                ("--key", "KEY"),
            ],
        ),
        # Honest commands lineage must rerun as they were.
        (
            "python generate.py --max-tokens 512 --keys a,b --monkey 3 --tokenizer gpt2",
            "python generate.py --max-tokens 512 --keys a,b --monkey 3 --tokenizer gpt2",
            [],
        ),
        (
            "python join.py --key-column id --sort-key ts --primary-key uid --token-budget 5",
            "python join.py --key-column id --sort-key ts --primary-key uid --token-budget 5",
            [],
        ),
        (
            "python t.py --password-file secrets/pw.txt --auth-type basic --secret-name prod",
            "python t.py --password-file secrets/pw.txt --auth-type basic --secret-name prod",
            [],
        ),
        (
            "python t.py --use-auth-token data/train.csv --no-auth --token --verbose",
            "python t.py --use-auth-token data/train.csv --no-auth --token --verbose",
            [],
        ),
        ("python -u train.py", "python -u train.py", []),
        ("docker run -u 1000:1000 trainer", "docker run -u 1000:1000 trainer", []),
        ("python t.py --token= TOKEN=", "python t.py --token= TOKEN=", []),
    ],
)
def test_redact_command_hides_secret_looking_values(
    command: str, kept: str, hidden: list[tuple[str, str]]
) -> None:
    redacted = redact_command(command.split())

    assert " ".join(redacted.argv) == kept
    assert [(r.name, r.variable) for r in redacted.redacted] == hidden
    for r in redacted.redacted:
        assert REDACTED in redacted.argv[r.at]


def test_a_url_losing_its_credentials_is_marked_as_not_given_back() -> None:
    redacted = redact_command(["python", "load.py", "--src", "https://ada:pw@host/d.csv"])

    assert redacted.argv == ("python", "load.py", "--src", "https://host/d.csv")
    assert redacted.redacted == (Redaction(3, "https://host/d.csv", None),)


def test_redacting_a_redacted_command_changes_nothing() -> None:
    once = redact_command(["env", "API_KEY=k", "python", "t.py", "--token", "t", "-u", "a:b"])

    assert redact_command(once.argv) == once


def test_restore_values_puts_each_hidden_value_back_from_its_variable() -> None:
    redacted = redact_command(
        ["env", "API_KEY=k", "python", "t.py", "--token", "t", "-u", "ada:pw"]
    )
    environ = {"API_KEY": "k2", "TOKEN": "t2", "USER_PASSWORD": "pw2"}

    assert missing_values(redacted.redacted, environ) == []
    assert restore_values(redacted.argv, redacted.redacted, environ) == (
        ["env", "API_KEY=k2", "python", "t.py", "--token", "t2", "-u", "ada:pw2"]
    )


def test_missing_values_names_each_variable_not_set_and_every_url() -> None:
    redacted = redact_command(["python", "t.py", "--token", "t", "https://a:b@h/", "PWD_X=1"])

    missing = missing_values(redacted.redacted, {"TOKEN": ""})

    assert [(r.name, r.variable) for r in missing] == [("--token", "TOKEN"), ("https://h/", None)]


@pytest.mark.parametrize(
    ("name", "kept"),
    [("max_tokens", True), ("key_column", True), ("alpha", True), ("token", False)],
)
def test_a_named_parameter_is_hidden_by_the_same_rule_as_an_option(name: str, kept: bool) -> None:
    value = redact_value(name, "512")
    assert (value == "512") is kept
    assert (
        redact_command(["mlflow", "run", ".", "-P", f"{name}=512"])
        .argv[-1]
        .endswith("512" if kept else REDACTED)
    )


def test_a_url_python_cannot_parse_still_loses_its_user_info() -> None:
    assert redact_uri("http://u:pw@[bad/x") == "http://[bad/x"
    assert redact_argv(["curl", "--url=http://u:pw@[bad/x"]) == ("curl", "--url=http://[bad/x")
