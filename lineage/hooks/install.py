"""`lineage hooks install` / `uninstall`: shell shims in the repository's hooks directory.

A shim is a few lines of ``sh`` that run the hook that was there before (kept beside it as
``<hook>.pre-lineage``) and then exec one Python process: the interpreter that installed it, or
``lineage hook-impl`` from PATH when that interpreter is gone. Every shim carries ``SHIM_MARK``,
so uninstall removes only what install wrote. See docs/architecture.md#hooks.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lineage.adapters import git, git_content, git_lfs
from lineage.adapters.git_lfs import is_lfs_hook
from lineage.errors import LineageError
from lineage.hooks import HOOK_TYPES

SHIM_MARK = "# lineage-hook-shim"
PREVIOUS = ".pre-lineage"  # suffix of the hook a shim replaced; it runs before lineage

# Run inside the shim with `python -c`: a missing lineage must not block the commit, so the
# import is guarded here rather than with `python -m`, which would exit 1 (a refusal).
SHIM_ENTRY = """import sys
try:
    from lineage.hooks.dispatch import main
except ModuleNotFoundError as exc:
    if exc.name not in ("lineage", "lineage.hooks", "lineage.hooks.dispatch"):
        raise
    sys.stderr.write("lineage: warning: lineage is no longer installed in " + sys.executable
                     + "; the " + sys.argv[1] + " hook did nothing (reinstall lineage, or run "
                     + "`lineage hooks uninstall`)\\n")
    sys.exit(0)
sys.exit(main(sys.argv[1:]))"""


class HooksPathError(LineageError):
    """``core.hooksPath`` points somewhere lineage will not write."""

    def __init__(self, hooks_path: str, reason: str) -> None:
        self.hooks_path = hooks_path
        super().__init__(reason)


@dataclass(frozen=True)
class HookChange:
    hook: str
    action: str  # installed, updated, chained, removed, restored, skipped, absent
    detail: str = ""


@dataclass(frozen=True)
class HooksResult:
    directory: Path
    configured: str | None  # core.hooksPath when it is set
    changes: tuple[HookChange, ...]


def shim_text(hook: str, python: str) -> str:
    """The shell script written to ``<hooks dir>/<hook>``."""
    if hook not in HOOK_TYPES:
        raise ValueError(hook)
    blocking = hook in ("pre-commit", "pre-push")  # their exit status can refuse
    lines = [
        "#!/bin/sh",
        f"{SHIM_MARK} (written by `lineage hooks install`; `lineage hooks uninstall` removes",
        f"# it and puts back the hook that was here before, kept beside it as {hook}{PREVIOUS}).",
        f"hook={hook}",
        f"python={shlex.quote(python)}",
        f'previous="${{0%/*}}/$hook{PREVIOUS}"',
    ]
    if hook == "pre-push":
        # git writes the refs being pushed to stdin once; both hooks need them.
        lines.append("stdin=$(cat)")
        feed = '{ [ -z "$stdin" ] || printf \'%s\\n\' "$stdin"; } | '
    else:
        feed = ""
    lines += [
        'if [ -f "$previous" ] && [ -x "$previous" ]; then',
        f'    {feed}"$previous" "$@"' + (" || exit $?" if blocking else ""),
        "fi",
        "# Where lineage is not set up, do nothing (and start no Python).",
        "[ -f .lineage/config.toml ] || exit 0",
        'if [ -x "$python" ]; then',
        f'    {feed}PYTHONSAFEPATH=1 "$python" -c \'{SHIM_ENTRY}\' "$hook" "$@"',
        "    exit $?",
        "fi",
        "if command -v lineage >/dev/null 2>&1; then",
        f'    {feed}lineage hook-impl "$hook" "$@"',
        "    exit $?",
        "fi",
        'echo "lineage: warning: $python is gone and lineage is not on PATH; the $hook hook did'
        ' nothing (reinstall lineage, or run \\`lineage hooks uninstall\\`)" >&2',
        "exit 0",
        "",
    ]
    return "\n".join(lines)


def is_shim(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except (FileNotFoundError, IsADirectoryError):
        return False
    return SHIM_MARK.encode() in head


def hooks_dir(paths: git.RepoPaths) -> tuple[Path, str | None]:
    """Where git looks for this repository's hooks, and ``core.hooksPath`` when it is set.

    Refused: a hooks path that switches hooks off, and one tracked in the repository (the
    shims name this machine's interpreter, so they must not be committed and shared)."""
    configured = git.config_value(paths, "core.hooksPath")
    directory = Path(os.path.join(paths.root, git.git(paths, "rev-parse", "--git-path", "hooks")))
    directory = Path(os.path.normpath(directory))
    if configured is None:
        return directory, None
    if configured == os.devnull or (directory.exists() and not directory.is_dir()):
        raise HooksPathError(
            configured,
            f"core.hooksPath is {configured}, which switches every Git hook off; unset it "
            "(`git config --unset core.hooksPath`) to use lineage's hooks",
        )
    inside = os.path.relpath(directory, paths.root)
    if (
        inside != ".."
        and not inside.startswith(f"..{os.sep}")
        and git_content.tracked_under(paths, inside)
    ):
        raise HooksPathError(
            configured,
            f"core.hooksPath is {configured}, a directory tracked in this repository; lineage "
            "will not write shims naming this machine's Python into shared files. Call "
            '`lineage hook-impl <hook> "$@"` from the hooks there (pre-push: pass its stdin '
            "on), use the pre-commit framework (.pre-commit-hooks.yaml), or unset "
            "core.hooksPath",
        )
    return directory, configured


def install(
    paths: git.RepoPaths, hooks: Sequence[str], python: str = sys.executable
) -> HooksResult:
    """Write a shim for each hook, keeping any hook already there as ``<hook>.pre-lineage``."""
    directory, configured = hooks_dir(paths)
    _check_writable(directory)
    directory.mkdir(parents=True, exist_ok=True)
    python = os.path.abspath(python)
    changes = []
    for hook in hooks:
        target, previous = directory / hook, directory / f"{hook}{PREVIOUS}"
        if is_shim(target):
            _write(target, shim_text(hook, python))
            changes.append(HookChange(hook, "updated"))
        elif target.is_dir():  # not a hook git could run: nothing to chain
            changes.append(
                HookChange(
                    hook,
                    "skipped",
                    f"{target.name} is a directory, not a hook; move it away and install again",
                )
            )
        elif _lfs_overwrote(target, previous, hook):
            # `git lfs update --force` replaced the shim with the hook already chained.
            _write(target, shim_text(hook, python))
            changes.append(HookChange(hook, "chained", f"git-lfs's hook is {previous.name}"))
        elif os.path.lexists(target):
            if os.path.lexists(previous):
                changes.append(
                    HookChange(
                        hook,
                        "skipped",
                        f"{previous.name} already exists beside a hook lineage did not write; "
                        "move one of them away and install again",
                    )
                )
                continue
            os.rename(target, previous)  # keeps its mode; a symlink stays a symlink
            _write(target, shim_text(hook, python))
            changes.append(HookChange(hook, "chained", f"the existing hook is now {previous.name}"))
        else:
            _write(target, shim_text(hook, python))
            changes.append(HookChange(hook, "installed"))
    changes += _chain_git_lfs(paths, directory)
    return HooksResult(directory, configured, tuple(changes))


def _lfs_overwrote(target: Path, previous: Path, hook: str) -> bool:
    return (
        is_lfs_hook(target, hook)
        and is_lfs_hook(previous, hook)
        and target.read_bytes() == previous.read_bytes()
    )


def _chain_git_lfs(paths: git.RepoPaths, directory: Path) -> list[HookChange]:
    """In a repository that uses Git LFS, make sure git-lfs's four hooks run: beside a shim as
    ``<hook>.pre-lineage``, else in their own place. `git lfs install` refuses to touch a hook
    it did not write, and git-lfs's quiet install on first use skips existing hooks, so a
    repository whose shims came first would otherwise push pointers without their objects."""
    if not git_lfs.uses_lfs(paths) and not any(
        is_lfs_hook(directory / f"{hook}{PREVIOUS}", hook) for hook in git_lfs.HOOKS
    ):
        return []
    if not git_lfs.installed():
        return [
            HookChange(
                "git-lfs",
                "skipped",
                "this repository uses Git LFS but git-lfs is not installed; install it and run "
                "`lineage hooks install` again",
            )
        ]
    texts = git_lfs.hook_texts(paths)
    changes = []
    for hook, text in texts.items():
        target, previous = directory / hook, directory / f"{hook}{PREVIOUS}"
        if is_shim(target) and not os.path.lexists(previous):
            _write(previous, text)
            changes.append(HookChange(hook, "chained", f"git-lfs's hook is now {previous.name}"))
        elif not os.path.lexists(target):
            _write(target, text)
            changes.append(HookChange(hook, "installed", "git-lfs's own hook"))
    return changes


def uninstall(paths: git.RepoPaths, hooks: Sequence[str] = HOOK_TYPES) -> HooksResult:
    """Remove lineage's shims and put back the hooks they replaced; leave anything else."""
    directory, configured = hooks_dir(paths)
    changes = []
    for hook in hooks:
        target, previous = directory / hook, directory / f"{hook}{PREVIOUS}"
        ours = is_shim(target)
        if os.path.lexists(target) and not ours:
            detail = "not written by lineage"
            if os.path.lexists(previous):
                detail += f"; {previous.name} left beside it"
            changes.append(HookChange(hook, "skipped", detail))
            continue
        if ours:
            target.unlink()
        if os.path.lexists(previous):
            os.rename(previous, target)
            changes.append(HookChange(hook, "restored", f"put back the hook from {previous.name}"))
        elif ours:
            changes.append(HookChange(hook, "removed"))
        else:
            changes.append(HookChange(hook, "absent"))
    return HooksResult(directory, configured, tuple(changes))


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.lineage-tmp")
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, 0o755)
    os.replace(tmp, path)


def _check_writable(directory: Path) -> None:
    """Before the first hook: one that is renamed aside and then not replaced would be a half
    install, so an unwritable directory is refused while nothing has changed."""
    from lineage.writable import directory_problem, shown

    problem = directory_problem(directory)
    if problem is not None:
        raise LineageError(
            f"cannot install hooks in {shown(directory)}: {problem}; make it writable and run "
            "`lineage hooks install` again (nothing was installed)"
        )
