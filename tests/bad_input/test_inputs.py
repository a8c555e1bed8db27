"""Bad input through the real CLI: malformed REFs and options, garbage, missing and unknown
MLflow stores, a bare repository, unreachable remotes (issue 14, "silently wrong or misleading").

Each case runs in its own copy of a small template repository (``git init``, one commit,
``lineage init``): nothing here trains.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from tests.bad_input.harness import copy_of, refused, run_cli, set_up_repo, warned
from tests.conftest import sh
from tests.scenarios import hermetic_env


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A repository with one commit and lineage set up (committed), built once per module."""
    base = tmp_path_factory.mktemp("inputs-template")
    env = hermetic_env(base)
    repo = set_up_repo(base / "repo", env, gitignore="mlflow.db\nmlruns/\nmlartifacts/\n")
    return repo


@pytest.fixture
def repo(template: Path, tmp_path: Path) -> Path:
    copy = copy_of(template, tmp_path)
    return copy


def with_env(**values: str) -> dict[str, str]:
    return {**os.environ, **values}


# -- MLflow stores that are garbage, missing or of an unknown kind ------------------------------


def _random_bytes(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * 16)


def _empty_file(path: Path) -> None:
    path.write_bytes(b"")


def _other_database(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    db.commit()
    db.close()


GARBAGE = {
    "random-bytes": (_random_bytes, "is not a SQLite database"),
    "empty-file": (_empty_file, "is an empty file, not an MLflow store"),
    "another-programs-database": (_other_database, "is a SQLite database, but not MLflow's"),
}


@pytest.mark.parametrize("command", [["audit"], ["import", "mlflow"]], ids=["audit", "import"])
@pytest.mark.parametrize("kind", sorted(GARBAGE))
def test_a_reading_command_names_a_garbage_tracking_store(
    repo: Path, tmp_path: Path, command: list[str], kind: str
) -> None:
    make, says = GARBAGE[kind]
    store = tmp_path / "store.db"
    make(store)
    before = store.read_bytes()

    result = refused(
        repo, *command, code=1, says=says, env=with_env(MLFLOW_TRACKING_URI=f"sqlite:///{store}")
    )

    assert f"the MLflow tracking store sqlite:///{store} cannot be used" in result.stderr
    assert store.read_bytes() == before  # never "repaired" by MLflow creating its tables


@pytest.mark.parametrize(
    "command",
    [
        ["show", "churn@champion"],
        ["graph", "churn/1", "--format", "json"],
        ["reproduce", "churn@champion", "--dry-run"],
    ],
    ids=["show", "graph", "reproduce"],
)
@pytest.mark.parametrize("kind", ["random-bytes", "another-programs-database"])
def test_a_garbage_registry_apart_from_tracking_is_named_with_its_variable(
    repo: Path, tmp_path: Path, command: list[str], kind: str
) -> None:
    """MLflow opens a registry other than its tracking store on first use, inside SQLAlchemy:
    the file is checked first, so the error names the registry and MLFLOW_REGISTRY_URI, not
    a server to start (it was a traceback)."""
    make, says = GARBAGE[kind]
    registry = tmp_path / "registry.db"
    make(registry)
    before = registry.read_bytes()

    result = refused(
        repo,
        *command,
        code=1,
        says=says,
        env=with_env(
            MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}",
            MLFLOW_REGISTRY_URI=f"sqlite:///{registry}",
        ),
    )

    assert f"the MLflow model registry sqlite:///{registry} cannot be used" in result.stderr
    assert result.stderr.rstrip().endswith("check MLFLOW_REGISTRY_URI")
    assert registry.read_bytes() == before


@pytest.mark.parametrize("kind", ["random-bytes", "another-programs-database"])
def test_run_refuses_a_garbage_tracking_store_before_running_anything(
    repo: Path, tmp_path: Path, kind: str
) -> None:
    make, says = GARBAGE[kind]
    store = tmp_path / "store.db"
    make(store)

    result = refused(
        repo,
        "run",
        "--",
        "touch",
        "marker",
        code=1,
        says=says,
        env=with_env(MLFLOW_TRACKING_URI=f"sqlite:///{store}"),
    )

    assert "nothing was run" in result.stderr
    assert not (repo / "marker").exists()


def test_run_accepts_an_empty_store_file_mlflow_sets_up_itself(repo: Path, tmp_path: Path) -> None:
    store = tmp_path / "store.db"
    store.write_bytes(b"")

    result = run_cli(
        repo, "run", "--", "touch", "marker", env=with_env(MLFLOW_TRACKING_URI=f"sqlite:///{store}")
    )

    assert result.returncode == 0, result.stderr
    assert (repo / "marker").exists()


@pytest.mark.parametrize(
    "command",
    [["audit"], ["import", "mlflow"], ["run", "--", "touch", "marker"]],
    ids=["audit", "import", "run"],
)
def test_an_unknown_tracking_scheme_is_refused(repo: Path, command: list[str]) -> None:
    refused(
        repo,
        *command,
        code=1,
        says="the MLflow tracking store foo://server/x cannot be",
        env=with_env(MLFLOW_TRACKING_URI="foo://server/x"),
    )
    assert not (repo / "marker").exists()


def test_an_unknown_scheme_names_the_scheme_and_hides_credentials(repo: Path) -> None:
    result = refused(
        repo,
        "audit",
        code=1,
        says="unknown scheme 'foo'",
        env=with_env(MLFLOW_TRACKING_URI="foo://ada:s3cret@server/x"),
    )
    assert "s3cret" not in result.stderr


@pytest.mark.parametrize("command", [["audit"], ["import", "mlflow"]], ids=["audit", "import"])
def test_a_tracking_store_that_does_not_exist_fails_instead_of_finding_nothing(
    repo: Path, command: list[str]
) -> None:
    refused(
        repo,
        *command,
        code=1,
        says="the MLflow tracking store sqlite:////nodir/x.db cannot be used: it does not exist "
        "(no file /nodir/x.db); check MLFLOW_TRACKING_URI",
        env=with_env(MLFLOW_TRACKING_URI="sqlite:////nodir/x.db"),
    )
    assert not Path("/nodir").exists()


def test_a_missing_store_file_is_not_created_by_reading_it(repo: Path, tmp_path: Path) -> None:
    store = tmp_path / "typo.db"

    refused(
        repo,
        "audit",
        code=1,
        says="it does not exist",
        env=with_env(MLFLOW_TRACKING_URI=f"sqlite:///{store}"),
    )

    assert not store.exists()


@pytest.mark.parametrize("command", [["audit"], ["import", "mlflow"]], ids=["audit", "import"])
def test_a_model_registry_that_does_not_exist_is_named(
    repo: Path, tmp_path: Path, command: list[str]
) -> None:
    # A server's tracking store is not checked here; the registry file beside it is.
    refused(
        repo,
        *command,
        code=1,
        says=f"the MLflow model registry sqlite:///{tmp_path}/registry.db cannot be used: it "
        "does not exist",
        env=with_env(
            MLFLOW_TRACKING_URI="http://127.0.0.1:9",
            MLFLOW_REGISTRY_URI=f"sqlite:///{tmp_path}/registry.db",
        ),
    )
    assert not (tmp_path / "registry.db").exists()


def test_a_missing_store_is_redacted_in_the_message(repo: Path) -> None:
    result = refused(
        repo,
        "import",
        "mlflow",
        code=1,
        says="does not exist",
        env=with_env(MLFLOW_TRACKING_URI="file://ada:s3cret@localhost/nodir/mlruns"),
    )
    assert "s3cret" not in result.stderr


# -- import mlflow where lineage is not set up, or before the first commit ---------------------


def test_import_mlflow_needs_lineage_init_as_run_does(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    sh("git", "init", "-q", cwd=plain)
    (plain / "a.txt").write_text("a\n")
    sh("git", "add", "-A", cwd=plain)
    sh("git", "commit", "-q", "-m", "first", cwd=plain)

    run = refused(plain, "run", "--", "true", code=1, says="run `lineage init` first")
    imported = refused(plain, "import", "mlflow", code=1, says="run `lineage init` first")

    assert imported.stderr == run.stderr
    assert sh("git", "for-each-ref", "refs/lineage", cwd=plain).stdout == ""


def test_import_mlflow_refuses_a_repository_with_no_commit_yet(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    sh("git", "init", "-q", cwd=empty)
    sh("lineage", "init", cwd=empty)

    refused(
        empty,
        "import",
        "mlflow",
        code=1,
        says=f"{empty} has no commit yet, so no commit MLflow names can be found in it; commit "
        "your code first",
    )
    assert sh("git", "for-each-ref", "refs/lineage", cwd=empty).stdout == ""


# -- audit with nothing in scope ------------------------------------------------------------


def _empty_mlflow_store(path: Path) -> str:
    """A real, empty MLflow SQLite store (MLflow's own tables, no model)."""
    sh(
        "python",
        "-c",
        "import mlflow; mlflow.MlflowClient(tracking_uri=f'sqlite:///{__import__(\"sys\").argv[1]}')"
        ".search_experiments()",
        str(path),
        cwd=path.parent,
    )
    return f"sqlite:///{path}"


def test_audit_with_nothing_in_scope_says_so_and_passes(repo: Path, tmp_path: Path) -> None:
    uri = _empty_mlflow_store(tmp_path / "mlflow.db")

    result = run_cli(repo, "audit", env=with_env(MLFLOW_TRACKING_URI=uri))

    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "nothing to audit: no model version matches (versions holding an alias or the "
        "Production stage) (`--strict` fails when nothing matches)\n"
    )


def test_audit_strict_fails_when_nothing_is_in_scope(repo: Path, tmp_path: Path) -> None:
    uri = _empty_mlflow_store(tmp_path / "mlflow.db")

    refused(
        repo,
        "audit",
        "--strict",
        "--alias",
        "champion",
        code=1,
        says="nothing to audit under --strict: no model version matches (versions with alias "
        "@champion)",
        env=with_env(MLFLOW_TRACKING_URI=uri),
    )


def test_audit_strict_json_says_it_did_not_pass(repo: Path, tmp_path: Path) -> None:
    uri = _empty_mlflow_store(tmp_path / "mlflow.db")

    result = warned(
        repo,
        "audit",
        "--strict",
        "--json",
        says="nothing to audit",
        code=1,
        env=with_env(MLFLOW_TRACKING_URI=uri),
    )

    assert '"passed":false' in result.stdout.replace(" ", "")


# -- options that contradict each other, tolerances that are no numbers ------------------------


@pytest.mark.parametrize(
    ("flags", "given"),
    [
        (["--upstream", "--downstream"], "--upstream and --downstream"),
        (["--downstream", "--both"], "--downstream and --both"),
        (["--both", "--upstream"], "--upstream and --both"),
    ],
    ids=["upstream-downstream", "downstream-both", "both-upstream"],
)
def test_graph_refuses_two_directions(repo: Path, flags: list[str], given: str) -> None:
    refused(
        repo,
        "graph",
        "HEAD",
        *flags,
        code=2,
        says=f"give one of --upstream, --downstream and --both, not {given}",
    )


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--atol", "nan", "Invalid value for '--atol': 'nan' is not a finite number"),
        ("--rtol", "inf", "Invalid value for '--rtol': 'inf' is not a finite number"),
        ("--atol", "-1e-9", "Invalid value for '--atol': -1e-09 is not in the range x>=0"),
    ],
    ids=["atol-nan", "rtol-inf", "atol-negative"],
)
def test_reproduce_refuses_a_tolerance_that_is_no_finite_number(
    repo: Path, option: str, value: str, says: str
) -> None:
    refused(repo, "reproduce", "HEAD", option, value, code=2, says=says)


def _configure(repo: Path, old: str, new: str) -> None:
    path = repo / ".lineage" / "config.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ('main = ""', "main = 5", "[metrics] main must be a metric name in quotes, not 5"),
        ("atol = 0.0", "atol = nan", "[reproduce] atol must be a finite number >= 0, not nan"),
        ("rtol = 0.0", "rtol = inf", "[reproduce] rtol must be a finite number >= 0, not inf"),
        ('remote = "origin"', "remote = 1", "[audit] remote must be a Git remote's name"),
        ("[metrics]\n", "metrics = 5\n[metrics2]\n", "metrics must be a table"),
    ],
    ids=["main-metric-a-number", "atol-nan", "rtol-inf", "remote-a-number", "metrics-not-a-table"],
)
def test_a_config_value_of_the_wrong_type_is_refused(
    repo: Path, old: str, new: str, says: str
) -> None:
    _configure(repo, old, new)
    refused(repo, "log", code=1, says=says)


def test_an_unknown_config_key_is_warned_about(repo: Path) -> None:
    _configure(repo, 'main = ""', 'main = ""\nmian = "accuracy"')
    warned(repo, "log", says="unknown key 'mian' in [metrics] is ignored; known: main")


# -- a bare repository, the inside of .git, a path holding a newline -------------------------


@pytest.mark.parametrize(
    "command",
    [["log"], ["show", "HEAD"], ["run", "--", "touch", "marker"], ["audit"], ["init"]],
    ids=["log", "show", "run", "audit", "init"],
)
def test_a_bare_repository_is_called_bare_with_the_next_step(
    tmp_path: Path, command: list[str]
) -> None:
    bare = tmp_path / "project.git"
    sh("git", "init", "-q", "--bare", str(bare), cwd=tmp_path)

    refused(
        bare,
        *command,
        code=1,
        says=f"{bare} is a bare Git repository, with no working tree to run or record in; run "
        f"lineage in a clone of it that has one (`git clone {bare} DIR`)",
    )
    assert not (bare / "marker").exists()


def test_inside_the_git_directory_says_to_use_the_working_tree(repo: Path) -> None:
    refused(
        repo / ".git" / "refs",
        "log",
        code=1,
        says=f"{repo}/.git/refs is inside the .git directory {repo}/.git; run lineage in the "
        "working tree instead",
        repo=repo,
    )


def test_a_repository_whose_path_holds_a_newline_is_not_called_bare(tmp_path: Path) -> None:
    odd = tmp_path / "two\nlines"
    odd.mkdir()
    sh("git", "init", "-q", cwd=odd)
    sh("lineage", "init", cwd=odd)
    sh("git", "add", "-A", cwd=odd)
    sh("git", "commit", "-q", "-m", "Set up lineage", cwd=odd)

    ran = run_cli(odd, "run", "--", "true")
    logged = run_cli(odd, "log")

    assert ran.returncode == 0, ran.stderr
    assert "recorded 1 run(s)" in ran.stderr
    assert logged.returncode == 0 and "SUCCEEDED" in logged.stdout


def test_a_missing_directory_with_a_newline_is_named_escaped(tmp_path: Path) -> None:
    missing = str(tmp_path / "no\nsuch")
    refused(
        tmp_path,
        "-C",
        "no\nsuch",
        "log",
        code=1,
        says=f"{missing!r} is not a directory; check the path given to -C",
    )


# -- remotes that are not there: git's own message, one line -------------------------------


def test_pull_from_an_unknown_remote_shows_gits_message(repo: Path) -> None:
    result = refused(
        repo,
        "pull",
        "nosuchremote",
        code=1,
        says="failed: fatal: 'nosuchremote' does not appear to be a git repository; check the "
        "remote's name or URL (`git remote -v`) and that you can reach it",
    )
    assert "and the repository exists" not in result.stderr


def test_push_to_a_missing_path_shows_gits_message(repo: Path, tmp_path: Path) -> None:
    sh("lineage", "run", "--", "true", cwd=repo)  # something to push
    before = sh("git", "rev-parse", "refs/lineage/records", cwd=repo).stdout
    missing = tmp_path / "nonexistent.git"

    refused(
        repo,
        "push",
        str(missing),
        code=1,
        says=f"failed: fatal: '{missing}' does not appear to be a git repository",
    )
    assert sh("git", "rev-parse", "refs/lineage/records", cwd=repo).stdout == before
    assert not missing.exists()


def test_a_remote_name_with_an_escape_sequence_is_echoed_escaped(repo: Path) -> None:
    result = refused(repo, "pull", "evil\x1b[31mred", code=1, says="`git fetch evil\\x1b[31mred")
    assert "\x1b" not in result.stderr


# -- REFs: too short, and control characters echoed escaped -----------------------------------


@pytest.mark.parametrize(
    ("args", "ref"),
    [
        (["show", "a"], "a"),
        (["show", "abc"], "abc"),
        (["graph", "ab"], "ab"),
        (["impact", "abc"], "abc"),
        (["diff", "ab", "local-abcd"], "ab"),
        (["reproduce", "--dry-run", "abc"], "abc"),
        (["show", "local-ab"], "local-ab"),
    ],
    ids=["show-a", "show-abc", "graph-ab", "impact-abc", "diff-ab", "reproduce-abc", "local-ab"],
)
def test_a_prefix_under_four_hex_digits_is_too_short(repo: Path, args: list[str], ref: str) -> None:
    refused(
        repo,
        *args,
        code=1,
        says=f"{ref!r} is too short to look up: an id prefix needs at least 4 hex digits",
    )


@pytest.mark.parametrize(
    ("command", "ref", "shown"),
    [
        (["show"], "x\x1b[31my", "'x\\x1b[31my'"),
        (["show"], "churn\x07@prod", "'churn\\x07@prod'"),
        (["graph"], "models:/m\x1b@a", "'models:/m\\x1b@a'"),
        (["impact"], "data\n/x", "'data\\n/x'"),
        (["reproduce", "--dry-run"], "HEAD\x1b", "'HEAD\\x1b'"),
        (["show"], "churn/1\n", "'churn/1\\n'"),
    ],
    ids=[
        "escape",
        "bell-in-model",
        "model-uri",
        "newline-in-path",
        "reproduce",
        "trailing-newline",
    ],
)
def test_control_characters_in_a_ref_are_echoed_escaped(
    repo: Path, command: list[str], ref: str, shown: str
) -> None:
    result = refused(repo, *command, ref, code=1, says=shown)
    assert not any(ord(c) < 32 for c in result.stderr.replace("\n", ""))
    assert result.stderr.count("\n") == 1


def test_audit_of_a_model_name_with_a_control_character_is_escaped(
    repo: Path, tmp_path: Path
) -> None:
    uri = _empty_mlflow_store(tmp_path / "mlflow.db")
    result = refused(
        repo,
        "audit",
        "churn\x1b",
        code=1,
        says="'churn\\x1b'",
        env=with_env(MLFLOW_TRACKING_URI=uri),
    )
    assert "\x1b" not in result.stderr
