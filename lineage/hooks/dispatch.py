"""The one entry point every hook calls: ``lineage hook-impl <hook> ARGS`` or, from the shims,
the interpreter that installed them running ``main([hook, *args])``.

It finds the repository without a git process when it can (git runs hooks at the top of the
work tree), does nothing where lineage is not set up, and imports only the module its hook
needs. Exit codes: 0 let git go on, 1 refused (pre-commit, pre-push), 3 a bug (with the
traceback; `--no-verify` gets past it), 130 interrupted.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from lineage.errors import (
    EXIT_BUG,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    DamagedRefError,
    LineageError,
)
from lineage.hooks import HOOK_TYPES
from lineage.terminal import escape_output

TYPE_CHECKING = False  # not typing's: importing typing costs the hook ~3 ms
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import TextIO

    from lineage.adapters import git
    from lineage.context import Context

ZERO = "0" * 40
BLOCKING = ("pre-commit", "pre-push")  # git refuses the operation when these exit non-zero


def main(argv: Sequence[str] | None = None, *, cwd: Path | None = None) -> int:
    """Run the hook ``argv[0]`` with git's arguments ``argv[1:]``; return the exit code."""
    escape_output()  # what a hook prints may quote records pulled from others (terminal.py)
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in HOOK_TYPES:
        sys.stderr.write(f"usage: lineage hook-impl {{{','.join(HOOK_TYPES)}}} [ARGS...]\n")
        return EXIT_USAGE
    hook = argv[0]
    next_step = "; or commit with --no-verify" if hook == "pre-commit" else ""
    if hook == "pre-push":
        next_step = "; or push with --no-verify"
    try:
        return run_hook(hook, argv[1:], cwd=cwd or Path.cwd(), environ=os.environ, stdin=sys.stdin)
    except DamagedRefError as exc:
        # The records cannot be read until the ref is repaired; the user's commit or push
        # must not wait for that.
        sys.stderr.write(f"lineage: warning: {exc}\n")
        return 0
    except LineageError as exc:
        sys.stderr.write(f"lineage: error: {exc}{next_step}\n")
        return exc.exit_code if hook in BLOCKING else 0
    except KeyboardInterrupt:
        sys.stderr.write("lineage: interrupted\n")
        return EXIT_INTERRUPTED
    except Exception:
        import traceback

        from lineage import __version__

        traceback.print_exc()
        sys.stderr.write(
            f"lineage: internal error in the {hook} hook (lineage {__version__}); this is a bug: "
            f"please report it with the traceback above{next_step}\n"
        )
        return EXIT_BUG if hook in BLOCKING else 0


def run_hook(
    hook: str, args: Sequence[str], *, cwd: Path, environ: Mapping[str, str], stdin: TextIO
) -> int:
    """Run one hook in the repository at ``cwd``; return its exit code."""
    where = locate(cwd, environ)
    if where is None or not (where[0] / ".lineage" / "config.toml").is_file():
        return 0  # not a repository lineage is set up in: a hook there does nothing
    if hook == "pre-commit":
        from lineage.hooks import quick

        if quick.nothing_to_refuse(str(where[0]), str(where[2] / "lineage")):
            return 0
    from lineage.adapters.git import RepoPaths
    from lineage.context import Context

    paths = RepoPaths(root=where[0], git_dir=where[1], common_dir=where[2])
    with Context(where[0], environ, paths=paths) as ctx:  # a hook stays quiet about the index
        if hook == "pre-commit":
            return _pre_commit(ctx)
        if hook == "post-commit":
            return _post_commit(ctx)
        if hook == "pre-push":
            return _pre_push(ctx, args, stdin)
        return _post_checkout(ctx, args)


def locate(cwd: Path, environ: Mapping[str, str]) -> tuple[Path, Path, Path] | None:
    """(work tree, git dir, common git dir) of the repository a hook runs in. Git starts hooks
    at the top of the work tree, so a plain ``.git`` directory there answers without a git
    process (or importing the git adapter); anything else asks git."""
    dot_git = cwd / ".git"
    if "GIT_DIR" not in environ and "GIT_WORK_TREE" not in environ and dot_git.is_dir():
        return cwd, dot_git, dot_git
    from lineage.adapters import git

    try:
        paths = git.discover(cwd)
    except LineageError:
        return None
    return paths.root, paths.git_dir, paths.common_dir


def _pre_commit(ctx: Context) -> int:
    from lineage.hooks.pre_commit import check

    refusals = check(ctx)
    for refusal in refusals:
        sys.stderr.write(refusal.render())
    return EXIT_ERROR if refusals else 0


def _post_commit(ctx: Context) -> int:
    from lineage.hooks.post_commit import attach

    for a in attach(ctx):
        sys.stderr.write(
            f"lineage: run {a.run[:12]} (made on a dirty tree, snapshot {a.snapshot[:10]}) now "
            f"has its code in commit {a.commit[:10]}\n"
        )
    return 0


def _pre_push(ctx: Context, args: Sequence[str], stdin: TextIO) -> int:
    from lineage.commands.sync import pre_push

    environ = ctx.environ
    if len(args) >= 2:
        remote, url = args[0], args[1]
        updates = parse_push_lines(stdin.read())
    else:  # the pre-commit framework read stdin itself and passes one ref in the environment
        remote = environ.get("PRE_COMMIT_REMOTE_NAME", "")
        url = environ.get("PRE_COMMIT_REMOTE_URL", "")
        updates = _framework_update(ctx.paths, environ)
    return pre_push(ctx, remote, url, updates)


def parse_push_lines(text: str) -> list[tuple[str, str, str, str]]:
    """git's pre-push stdin: ``<local ref> <local sha> <remote ref> <remote sha>`` per line."""
    updates = []
    for line in text.splitlines():
        parts = line.rsplit(maxsplit=3)
        if len(parts) == 4:
            updates.append((parts[0], parts[1], parts[2], parts[3]))
    return updates


def _framework_update(
    paths: git.RepoPaths, environ: Mapping[str, str]
) -> list[tuple[str, str, str, str]]:
    """The one update pre-commit describes in PRE_COMMIT_* variables. Its FROM_REF is the remote
    sha, or for a new branch the parent of its first new commit (same range); none at all when
    the whole history is new."""
    local_ref = environ.get("PRE_COMMIT_LOCAL_BRANCH", "")
    if not local_ref:
        return []
    from lineage.adapters import git

    local_sha = environ.get("PRE_COMMIT_TO_REF") or git.git(paths, "rev-parse", local_ref)
    remote_ref = environ.get("PRE_COMMIT_REMOTE_BRANCH", local_ref)
    return [(local_ref, local_sha, remote_ref, environ.get("PRE_COMMIT_FROM_REF") or ZERO)]


def _post_checkout(ctx: Context, args: Sequence[str]) -> int:
    """After a branch checkout, bring the query index level with the records (a no-op costing
    one ref read when nothing was fetched), so the next `lineage` query answers at once."""
    flag = args[2] if len(args) >= 3 else ctx.environ.get("PRE_COMMIT_CHECKOUT_TYPE", "1")
    if flag != "1":
        return 0  # a file checkout (`git checkout -- path`)
    _ = ctx.index  # opening it catches it up; the context closes it
    return 0
