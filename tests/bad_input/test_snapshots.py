"""Bad input around snapshots of a dirty tree: untracked secrets, large files, odd names, and
broken `[snapshot]` settings, tried through the real `lineage run` and `lineage push`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.bad_input.harness import refused, run_cli, warned
from tests.conftest import sh
from tests.helpers import commit_all, write
from tests.scenarios import hermetic_env

# The command each case runs; it leaves a file behind, so a run that should have been refused
# before anything ran changes the checkout, which `refused` notices.
RUN = ("run", "--", "python", "-c", "open('ran.txt', 'w').write('ran')")
CONFIG = ".lineage/config.toml"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A committed project with `lineage init`, and a bare remote holding its main branch."""
    base = tmp_path_factory.mktemp("snapshots") / "t"
    base.mkdir()
    env = hermetic_env(base.parent)
    sh("git", "init", "-q", "--bare", "origin.git", cwd=base, env=env)
    repo = base / "repo"
    repo.mkdir()
    sh("git", "init", "-q", cwd=repo, env=env)
    write(repo, ".gitignore", "mlflow.db\nmlruns/\nmlartifacts/\nran.txt\n")
    write(repo, "train.py", "print('training')\n")
    sh("lineage", "init", cwd=repo, env=env)
    sh("git", "add", "-A", cwd=repo, env=env)
    sh("git", "commit", "-q", "-m", "Start", cwd=repo, env=env)
    sh("git", "remote", "add", "origin", "../origin.git", cwd=repo, env=env)
    sh("git", "push", "-q", "-u", "origin", "main", cwd=repo, env=env)
    return base


@pytest.fixture
def repo(template: Path, tmp_path: Path) -> Path:
    shutil.copytree(template, tmp_path / "t", symlinks=True)
    return tmp_path / "t" / "repo"


def _configure(repo: Path, old: str, new: str) -> None:
    """Edit the committed config and commit it, so only the case's own files are dirty."""
    path = repo / CONFIG
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    commit_all(repo, "Configure")


def _append(repo: Path, text: str) -> None:
    path = repo / CONFIG
    path.write_text(path.read_text() + text)
    commit_all(repo, "Configure")


# -- broken [snapshot] settings: refused before anything runs ------------------------------


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        pytest.param(
            "untracked = true",
            'untracked = "no"',
            "[snapshot] untracked must be true or false, not 'no'",
            id="untracked-is-a-string",
        ),
        pytest.param(
            "untracked = true",
            "untracked = 1",
            "[snapshot] untracked must be true or false, not 1",
            id="untracked-is-a-number",
        ),
        pytest.param(
            "exclude = []",
            'exclude = "*.db"',
            "[snapshot] exclude must be a list of gitignore-style patterns",
            id="exclude-is-a-string",
        ),
        pytest.param(
            "exclude = []",
            'exclude = ["*.db", ""]',
            "[snapshot] exclude must be a list of gitignore-style patterns",
            id="exclude-holds-an-empty-pattern",
        ),
        pytest.param(
            "exclude = []",
            "exclude = [1, 2]",
            "[snapshot] exclude must be a list of gitignore-style patterns",
            id="exclude-holds-numbers",
        ),
        pytest.param(
            "# max_file_mb = 10",
            "max_file_mb = -1",
            "[hooks] max_file_mb must be a positive number",
            id="negative-size-limit",
        ),
    ],
)
def test_a_broken_snapshot_setting_is_refused_before_the_command_runs(
    repo: Path, old: str, new: str, says: str
) -> None:
    _configure(repo, old, new)
    write(repo, "helper.py", "x = 1\n")
    refused(repo, *RUN, code=1, says=says)


def test_a_snapshot_key_that_is_not_a_table_is_refused(repo: Path) -> None:
    path = repo / CONFIG
    path.write_text("snapshot = 5\n" + path.read_text().replace("[snapshot]\n", "[snapshot_]\n"))
    commit_all(repo, "Configure")
    refused(repo, *RUN, code=1, says="snapshot must be a table")


# -- untracked files a snapshot must not hold: left out, and said -------------------------


@pytest.mark.parametrize(
    ("name", "says"),
    [
        pytest.param(".env", ".env (named like secrets)", id="dotenv"),
        pytest.param(".env.production", ".env.production (named like secrets)", id="dotenv-prod"),
        pytest.param("deploy.pem", "deploy.pem (named like secrets)", id="pem"),
        pytest.param("id_ed25519", "id_ed25519 (named like secrets)", id="ssh-key"),
        pytest.param(".netrc", ".netrc (named like secrets)", id="netrc"),
        pytest.param("credentials.json", "credentials.json (named like secrets)", id="creds"),
    ],
)
def test_an_untracked_secret_is_left_out_of_the_snapshot_and_named(
    repo: Path, name: str, says: str
) -> None:
    write(repo, name, "SECRET=hunter2\n")
    write(repo, "helper.py", "x = 1\n")
    result = warned(repo, *RUN, says=f"left out of the snapshot, untracked: {says}")
    assert "lineage: snapshot holds 1 untracked file: helper.py\n" in result.stderr
    files = _snapshot_files(repo)
    assert "helper.py" in files and name not in files


def test_an_untracked_secret_alone_leaves_the_tree_clean(repo: Path) -> None:
    write(repo, ".env", "SECRET=hunter2\n")
    result = warned(repo, *RUN, says="left out of the snapshot, untracked: .env")
    assert "dirty" not in result.stderr and "snapshot holds" not in result.stderr
    assert "+ snapshot" not in result.stderr.splitlines()[-1]


def test_an_untracked_file_over_max_file_mb_is_left_out(repo: Path) -> None:
    _configure(repo, "# max_file_mb = 10", "max_file_mb = 0.5")
    (repo / "server.db").write_bytes(b"row\n" * 200_000)  # 0.76 MiB
    write(repo, "helper.py", "x = 1\n")
    warned(repo, *RUN, says="server.db (over max_file_mb = 0.5)")
    files = _snapshot_files(repo)
    assert "helper.py" in files and "server.db" not in files


def test_exclude_patterns_leave_more_out_and_a_negation_lets_one_back_in(repo: Path) -> None:
    _configure(repo, "exclude = []", 'exclude = ["notes.md", "!.env.example"]')
    write(repo, "notes.md", "private notes\n")
    write(repo, ".env.example", "SECRET=\n")
    result = warned(repo, *RUN, says="notes.md ([snapshot] exclude)")
    assert "snapshot holds 1 untracked file: .env.example" in result.stderr
    assert ".env.example" in _snapshot_files(repo)


def test_untracked_false_leaves_every_untracked_file_out(repo: Path) -> None:
    _configure(repo, "untracked = true", "untracked = false")
    write(repo, "helper.py", "x = 1\n")
    write(repo, "train.py", "print('tuned')\n")
    warned(repo, *RUN, says="helper.py ([snapshot] untracked = false)")
    files = _snapshot_files(repo)
    assert "train.py" in files and "helper.py" not in files


def test_many_untracked_files_are_named_five_and_counted(repo: Path) -> None:
    for n in range(12):
        write(repo, f"helper_{n:02}.py", f"x = {n}\n")
    warned(
        repo,
        *RUN,
        says="snapshot holds 12 untracked files: helper_00.py, helper_01.py, helper_02.py, "
        "helper_03.py, helper_04.py and 7 more",
    )


def test_a_file_name_with_a_newline_is_escaped_in_runs_and_pushes_messages(repo: Path) -> None:
    write(repo, "evil\nlineage: error: fake.py", "x = 1\n")
    result = warned(repo, *RUN, says="snapshot holds 1 untracked file: 'evil\\nlineage: error:")
    assert not any(line.startswith("lineage: error") for line in result.stderr.splitlines())
    pushed = run_cli(repo, "push")
    assert pushed.returncode == 0, pushed.stderr
    assert "adds 'evil\\nlineage: error: fake.py'" in pushed.stderr
    assert not any(line.startswith("lineage: error") for line in pushed.stderr.splitlines())


def test_push_of_a_snapshot_that_adds_nothing_says_so(repo: Path) -> None:
    write(repo, "train.py", "print('tuned')\n")
    write(repo, ".env", "SECRET=hunter2\n")
    warned(repo, *RUN, says="left out of the snapshot, untracked: .env")
    pushed = run_cli(repo, "push")
    assert pushed.returncode == 0, pushed.stderr
    assert pushed.stderr.splitlines()[-1].endswith(") adds no files")


def _snapshot_files(repo: Path) -> set[str]:
    """The files of the newest run's snapshot (empty when it ran on a clean commit)."""
    records = sh("git", "log", "-1", "--format=%P", "refs/lineage/records", cwd=repo).stdout
    for parent in records.split():  # the previous tip (if any), then the code that ran
        subject = sh("git", "log", "-1", "--format=%s", parent, cwd=repo).stdout.strip()
        if subject == "lineage snapshot of a dirty working tree":
            listing = sh("git", "ls-tree", "-r", "-z", "--name-only", parent, cwd=repo).stdout
            return set(listing.split("\0")) - {""}
    return set()
