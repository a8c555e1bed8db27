"""One way to try a bad input through the real CLI and judge the answer the way a user would.

Every case in this package goes through :func:`refused` (or :func:`warned` where the command
succeeds with a warning): the real ``lineage`` console script in a subprocess, then four checks:

- the exit code is the documented one;
- stderr carries exactly one ``lineage: error: ...`` line (click's usage errors: ``Error: ...``)
  and it names the problem (``says``, a substring, case-insensitive);
- no traceback and no "internal error" anywhere in the output;
- nothing the user owns changed: HEAD, branch, index, status, diff, and the bytes of every
  file in the working tree (``.git`` aside).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from tests.conftest import sh

_TRACEBACK_MARKS = ("Traceback (most recent call last)", "internal error", "this is a bug")


def tree_digest(repo: Path) -> dict[str, str]:
    """The md5 of every file of the working tree outside ``.git`` (symlinks by target)."""
    out: dict[str, str] = {}
    for root, dirs, files in os.walk(repo):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in files:
            path = Path(root, name)
            rel = str(path.relative_to(repo))
            if path.is_symlink():
                out[rel] = "-> " + os.readlink(path)
            else:
                try:
                    out[rel] = hashlib.md5(path.read_bytes()).hexdigest()
                except OSError as exc:  # unreadable on purpose in some cases
                    out[rel] = f"unreadable: {exc.errno}"
    return out


def user_state(repo: Path) -> dict[str, object]:
    """What a user would notice changing, ``.git`` internals aside."""
    state: dict[str, object] = {"files": tree_digest(repo)}
    if (repo / ".git").exists():
        for key, args in {
            "head": ("rev-parse", "HEAD"),
            "branch": ("symbolic-ref", "-q", "HEAD"),
            "index": ("ls-files", "-s"),
            "heads": ("for-each-ref", "refs/heads", "refs/stash"),
        }.items():
            state[key] = sh("git", *args, cwd=repo, check=False).stdout
    return state


def run_cli(
    cwd: Path,
    *args: str,
    env: dict[str, str] | None = None,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    return sh("lineage", *args, cwd=cwd, env=env, check=False, input=input)


def assert_no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    for mark in _TRACEBACK_MARKS:
        assert mark not in result.stderr and mark not in result.stdout, (
            f"{mark!r} in output\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )


def error_lines(stderr: str) -> list[str]:
    return [
        line
        for line in stderr.splitlines()
        if line.startswith("lineage: error:") or line.startswith("Error:")
    ]


def refused(
    cwd: Path,
    *args: str,
    code: int,
    says: str,
    env: dict[str, str] | None = None,
    input: str | None = None,
    repo: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``lineage ARGS`` in ``cwd`` and check it failed cleanly; ``repo`` (default ``cwd``)
    is the checkout that must come out unchanged."""
    watched = repo if repo is not None else cwd
    before = user_state(watched) if watched.exists() else None
    result = run_cli(cwd, *args, env=env, input=input)
    assert_no_traceback(result)
    assert result.returncode == code, (
        f"exit {result.returncode}, wanted {code}\nstdout:\n{result.stdout}\n"
        f"stderr:\n{result.stderr}"
    )
    errors = error_lines(result.stderr)
    assert len(errors) == 1, f"wanted one error line, got:\n{result.stderr}"
    assert says.lower() in errors[0].lower(), f"{says!r} not in {errors[0]!r}"
    if before is not None:
        assert user_state(watched) == before, "a failing command changed the user's checkout"
    return result


def warned(
    cwd: Path,
    *args: str,
    says: str,
    code: int = 0,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``lineage ARGS`` and check it answered (exit ``code``) with a warning naming
    ``says`` on stderr, and no traceback."""
    result = run_cli(cwd, *args, env=env)
    assert_no_traceback(result)
    assert result.returncode == code, (
        f"exit {result.returncode}, wanted {code}\nstdout:\n{result.stdout}\n"
        f"stderr:\n{result.stderr}"
    )
    assert says.lower() in result.stderr.lower(), f"{says!r} not in stderr:\n{result.stderr}"
    return result


def set_up_repo(
    repo: Path,
    env: dict[str, str],
    *,
    train_py: str = "print('training')\n",
    gitignore: str | None = None,
) -> Path:
    """``repo`` made a Git repository with one commit (``train.py``, and ``.gitignore`` when
    given) and lineage set up and committed: what each module's template starts from."""
    repo.mkdir()
    sh("git", "init", "-q", cwd=repo, env=env)
    (repo / "train.py").write_text(train_py)
    if gitignore is not None:
        (repo / ".gitignore").write_text(gitignore)
    sh("git", "add", "-A", cwd=repo, env=env)
    sh("git", "commit", "-q", "-m", "Initial commit", cwd=repo, env=env)
    choice = () if gitignore is not None else ("--no-gitignore",)  # as a user would, or not
    sh("lineage", "init", *choice, cwd=repo, env=env)
    sh("git", "add", "-A", cwd=repo, env=env)
    sh("git", "commit", "-q", "-m", "Set up lineage", cwd=repo, env=env)
    return repo


def copy_of(template: Path, tmp_path: Path) -> Path:
    """A fresh copy of a module's template repository for one case."""
    copy = tmp_path / "repo"
    shutil.copytree(template, copy, symlinks=True)
    return copy
