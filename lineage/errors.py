"""The one error root and the exit codes every command documents."""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_BUG = 3
EXIT_DIFFERS = 4  # `lineage reproduce`: the rerun finished but its results differ
EXIT_RERUN_FAILED = 5  # `lineage reproduce`: the rerun itself failed
EXIT_WITHIN_TOLERANCE = 6  # `lineage reproduce`: reproduced, but only within the tolerances
EXIT_UNVERIFIED = 7  # `lineage reproduce`: the rerun succeeded, but nothing could be compared
EXIT_NOT_FOUND = 127
EXIT_NOT_EXECUTABLE = 126
EXIT_INTERRUPTED = 130
# What read the output went away (`lineage log | head`): what a shell shows for git, which
# SIGPIPE kills there (128 + 13). Not 0: `set -o pipefail` must not pass an audit cut short.
EXIT_OUTPUT_CLOSED = 141


class LineageError(Exception):
    """A failure the user can act on; the message is one sentence with the next step."""

    exit_code = EXIT_ERROR


class NotARepositoryError(LineageError):
    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(
            f"{path} is not inside a Git repository; run `git init` there first, "
            "or cd into your project"
        )


class NotInitializedError(LineageError):
    def __init__(self, root: str) -> None:
        self.root = root
        super().__init__(f"lineage is not set up in {root}; run `lineage init` first")


class TrackingUnreachableError(LineageError):
    """An MLflow store that cannot be used: the tracking store, or (``what``) a model
    registry set apart from it, whose variable the next step then names."""

    def __init__(
        self,
        uri: str,
        reason: str,
        next_step: str | None = None,
        what: str = "tracking store",
    ) -> None:
        self.uri = uri
        self.reason = reason
        self.what = what
        self.next_step = next_step
        variable = "MLFLOW_REGISTRY_URI" if what == "model registry" else "MLFLOW_TRACKING_URI"
        step = next_step or f"start the server or fix {variable}"
        super().__init__(f"the MLflow {what} {uri} cannot be reached ({reason}); {step}")

    def as_registry(self) -> TrackingUnreachableError:
        """The same failure, of a model registry set apart from the tracking store."""
        if self.what != "tracking store" or type(self) is not TrackingUnreachableError:
            return self  # already named, or a subclass that words itself
        return TrackingUnreachableError(self.uri, self.reason, self.next_step, "model registry")


class CommandNotFoundError(LineageError):
    exit_code = EXIT_NOT_FOUND

    def __init__(self, command: str) -> None:
        self.command = command
        super().__init__(
            f"command '{command}' was not found; check its spelling and your PATH "
            "(nothing was run or recorded)"
        )


class CommandNotExecutableError(LineageError):
    exit_code = EXIT_NOT_EXECUTABLE

    def __init__(self, command: str) -> None:
        self.command = command
        super().__init__(
            f"command '{command}' is not executable; `chmod +x` it or run it through its "
            "interpreter (nothing was run or recorded)"
        )


class BadReferenceError(LineageError):
    """REF could not be parsed, matched nothing, or matched more than one node."""

    def __init__(self, ref: str, message: str) -> None:
        self.ref = ref
        super().__init__(printable(message))  # a REF's control characters, escaped


class CorruptRecordError(LineageError):
    def __init__(self, record_id: str, reason: str) -> None:
        self.record_id = record_id
        self.reason = reason
        super().__init__(
            f"record {record_id[:12]} in the lineage store is corrupted ({reason}); "
            "fetch a good copy with `git fetch <remote> 'refs/lineage/*:refs/lineage/*'` "
            "from a clone that has it"
        )


class UnsafePathError(LineageError):
    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(
            f"path {path!r} is outside the repository; lineage records only "
            "repository-relative paths"
        )


class InterruptedByUser(LineageError):
    exit_code = EXIT_INTERRUPTED


class DamagedRefError(LineageError):
    """``refs/lineage/records`` names something other than a commit of records (a blob, a
    tree, an object the repository lacks). Defined here, not in the store, so that the hooks'
    dispatch can tell it apart (and only warn) without importing the store."""

    def __init__(
        self,
        ref: str,
        tip: str,
        found: str,
        last_good: str | None = None,
        *,
        broken_file: str | None = None,
    ) -> None:
        self.ref = ref
        self.tip = tip
        self.found = found
        self.last_good = last_good
        if broken_file:  # git itself cannot update or delete a ref it cannot read
            repair = (
                f"git cannot read it either: delete {broken_file}, then point the ref back at "
                f"its last commit with `git update-ref {ref} <commit>` (`git fsck --lost-found` "
                "lists dangling commits) or `lineage pull` the team's records"
            )
        elif last_good:
            repair = (
                f"the index last read it at commit {last_good}: put it back with "
                f"`git update-ref {ref} {last_good}`"
            )
        else:
            repair = (
                f"point it back at its last commit with `git update-ref {ref} <commit>` (`git "
                f"fsck --lost-found` lists dangling commits), or drop it with `git update-ref "
                f"-d {ref}` and `lineage pull` the team's records"
            )
        super().__init__(f"{ref} points at {found} ({tip[:10]}), not a commit of records; {repair}")


def printable(text: str) -> str:
    """``text`` with control characters escaped (``\\n``, ``\\x1b``): what a message echoes
    back from input or from git is never printed raw to a terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
