"""lineage.adapters.git, git_content and git_remote against real git repositories: what lineage
asks of git, answered exactly as git answers it, and nothing of the user's touched."""

from __future__ import annotations

from pathlib import Path

import pytest

from lineage.adapters import git, git_content, git_remote
from lineage.adapters.mlflow_uri import MlflowStores, sqlite_uri
from lineage.adapters.tool_stores import ToolStores
from lineage.errors import NotARepositoryError
from tests.conftest import sh
from tests.helpers import commit_all, repo_state, write


def rev(repo: Path, name: str = "HEAD") -> str:
    return sh("git", "rev-parse", name, cwd=repo).stdout.strip()


def test_discover_from_a_subdirectory_and_from_a_linked_worktree(git_repo: Path) -> None:
    paths = git.discover(git_repo / "src")
    assert paths == git.RepoPaths(git_repo, git_repo / ".git", git_repo / ".git")
    assert paths.lineage_dir == git_repo / ".git" / "lineage"

    linked = git_repo.parent / "linked"
    sh("git", "worktree", "add", "-q", "--detach", str(linked), cwd=git_repo)
    other = git.discover(linked)
    assert other.root == linked and other.common_dir == git_repo / ".git"
    assert other.git_dir == git_repo / ".git" / "worktrees" / "linked"
    assert other.lineage_dir == paths.lineage_dir  # one index and store for every worktree


def test_discover_outside_a_repository_says_so(tmp_path: Path) -> None:
    with pytest.raises(NotARepositoryError, match="is not inside a Git repository"):
        git.discover(tmp_path)


def test_head_and_status_before_the_first_commit(tmp_path: Path) -> None:
    sh("git", "init", "-q", cwd=tmp_path)
    write(tmp_path, "train.py", "print(1)\n")
    paths = git.discover(tmp_path)
    head, dirt = git.status(paths)
    assert head == git.Head(commit=None, branch="main")
    assert dirt == git.Dirt(changed=(), untracked=("train.py",)) and dirt.dirty


def test_dirt_is_tracked_changes_and_untracked_files_beside_tracked_ones(git_repo: Path) -> None:
    write(git_repo, "src/train.py", "print('edited')\n")
    write(git_repo, "src/helper.py", "x = 1\n")  # beside tracked code: part of the code
    write(git_repo, "scratch/notes.txt", "later\n")  # a directory with nothing tracked
    head, dirt = git.status(git.discover(git_repo))
    assert head == git.Head(rev(git_repo), "main")
    assert dirt == git.Dirt(changed=("src/train.py",), untracked=("src/helper.py",))


def test_a_snapshot_holds_the_exact_tree_and_touches_nothing_of_the_user(git_repo: Path) -> None:
    write(git_repo, "src/train.py", "print('edited')\n")
    write(git_repo, "src/helper.py", "x = 1\n")
    sh("git", "add", "src/train.py", cwd=git_repo)  # half staged: the index must survive
    write(git_repo, "README.md", "# changed after staging\n")
    paths = git.discover(git_repo)
    before = repo_state(git_repo)
    head, dirt = git.status(paths)

    snapshot = git.snapshot(paths, head.commit, dirt, message="lineage snapshot")

    assert repo_state(git_repo) == before
    assert git_content.tree_diff(paths, head.commit or "", snapshot) == [
        "README.md",
        "src/helper.py",
        "src/train.py",
    ]
    shown = sh("git", "show", f"{snapshot}:README.md", cwd=git_repo).stdout
    assert shown == "# changed after staging\n"
    assert git_content.commit_parents(paths, snapshot) == (snapshot, [head.commit])


def test_ref_tip_reads_loose_and_packed_refs_and_update_ref_is_compare_and_swap(
    git_repo: Path,
) -> None:
    paths = git.discover(git_repo)
    first = rev(git_repo)
    assert git.ref_tip(paths, "refs/lineage/records") is None
    assert git.update_ref(paths, "refs/lineage/records", first, None, "create")
    assert not git.update_ref(paths, "refs/lineage/records", first, None, "must not exist yet")
    write(git_repo, "x.txt", "x\n")
    commit_all(git_repo, "Second")
    second = rev(git_repo)
    assert not git.update_ref(paths, "refs/lineage/records", second, second, "stale old value")
    assert git.update_ref(paths, "refs/lineage/records", second, first, "move")
    assert git.ref_tip(paths, "refs/lineage/records") == second
    sh("git", "pack-refs", "--all", cwd=git_repo)
    assert not (git_repo / ".git" / "refs" / "lineage" / "records").exists()
    assert git.ref_tip(paths, "refs/lineage/records") == second  # read from packed-refs


def test_commits_by_prefix_summaries_and_presence(git_repo: Path) -> None:
    paths = git.discover(git_repo)
    sha = rev(git_repo)
    assert git.resolve_commit_prefix(paths, sha[:7]) == sha
    assert git.resolve_commit_prefix(paths, "no-such-branch") is None
    assert git.has_commit(paths, sha) and not git.has_commit(paths, "0" * 40)
    assert git_content.commit_summary(paths, sha) == (
        "Initial commit",
        sh("git", "log", "-1", "--format=%cI", cwd=git_repo).stdout.strip(),
    )
    assert git_content.commit_summaries(paths, [sha, "1" * 40]).keys() == {sha}
    assert git.identity(paths) == ("Ada Lovelace", "ada@example.com")


def test_a_worktree_of_any_commit_is_added_and_removed_without_a_trace(git_repo: Path) -> None:
    paths = git.discover(git_repo)
    before = repo_state(git_repo)
    dest = git_repo.parent / "wt"
    git.worktree_add(paths, dest, rev(git_repo))
    assert (dest / "src" / "train.py").exists()
    git.worktree_remove(paths, dest)
    assert not dest.exists()
    assert repo_state(git_repo) == before
    assert sh("git", "worktree", "list", "--porcelain", cwd=git_repo).stdout.count("worktree ") == 1


def test_staged_changes_object_sizes_and_objects_as_a_hook_sees_them(git_repo: Path) -> None:
    paths = git.discover(git_repo)
    write(git_repo, "big.bin", "x" * 5000)
    sh("git", "add", "big.bin", cwd=git_repo)
    sh("git", "rm", "-q", "README.md", cwd=git_repo)
    changes = {c.path: c for c in git_content.staged_changes(paths)}
    assert {p: c.status for p, c in changes.items()} == {"README.md": "D", "big.bin": "A"}
    sha = changes["big.bin"].new_sha
    assert git_content.object_sizes(paths, [sha]) == {sha: 5000}
    found = git_content.read_objects(paths, [sha, "HEAD:README.md", "HEAD:absent"])
    assert found == {sha: b"x" * 5000, "HEAD:README.md": b"# demo\n", "HEAD:absent": None}
    assert git_content.index_shas(paths, ["*.bin"]) == {"big.bin": sha}


def test_a_past_commits_tree_is_read_in_process(git_repo: Path) -> None:
    first = rev(git_repo)
    write(git_repo, "src/train.py", "print('v2')\n")
    commit_all(git_repo, "v2")
    tree = git_content.CommitTrees(git.discover(git_repo)).at(first)
    assert sorted(tree.files()) == [".gitignore", "README.md", "src/train.py"]
    assert tree.text("src/train.py") == "print('training')\n"  # as it was, not as it is
    assert tree.contents("src") == {"train.py": b"print('training')\n"}
    assert tree.is_file("README.md") and not tree.is_file("src")
    assert tree.text("absent") is None and tree.contents("absent") is None


def test_remotes_and_fetching_a_ref_the_remote_does_not_have(
    git_repo: Path, tmp_path: Path
) -> None:
    origin = tmp_path / "origin.git"
    sh("git", "init", "-q", "--bare", str(origin), cwd=tmp_path)
    sh("git", "remote", "add", "origin", str(origin), cwd=git_repo)
    paths = git.discover(git_repo)
    assert git_remote.remotes(paths) == ["origin"]
    dst = "refs/lineage/remotes/origin/records"
    assert git_remote.fetch_ref(paths, "origin", "refs/lineage/records", dst) is False

    pushed = git_remote.push_ref(paths, "origin", rev(git_repo), "refs/lineage/records")
    assert pushed.flag == "*" and not pushed.stale  # a new ref
    assert git_remote.fetch_ref(paths, "origin", "refs/lineage/records", dst) is True
    assert git.ref_tip(paths, dst) == rev(git_repo)
    again = git_remote.push_ref(paths, "origin", rev(git_repo), "refs/lineage/records")
    assert again.flag == "="


def test_a_push_and_a_fetch_count_their_objects_for_a_progress_bar(
    git_repo: Path, tmp_path: Path
) -> None:
    origin = tmp_path / "origin.git"
    sh("git", "init", "-q", "--bare", str(origin), cwd=tmp_path)
    sh("git", "remote", "add", "origin", str(origin), cwd=git_repo)
    paths = git.discover(git_repo)
    objects = len(sh("git", "rev-list", "--objects", "HEAD", cwd=git_repo).stdout.split("\n")) - 1
    counted: list[tuple[int, int | None]] = []

    def advance(n: int = 1, *, total: int | None = None) -> None:
        counted.append((n, total))

    pushed = git_remote.push_ref(
        paths, "origin", rev(git_repo), "refs/lineage/records", progress=advance
    )
    assert pushed.flag == "*"  # the porcelain answer is still read
    assert sum(n for n, _ in counted) == objects and counted[-1][1] == objects

    clone = tmp_path / "clone"
    sh("git", "init", "-q", str(clone), cwd=tmp_path)
    sh("git", "config", "fetch.unpackLimit", "1", cwd=clone)  # index the pack: git counts
    counted.clear()
    dst = "refs/lineage/remotes/origin/records"
    assert git_remote.fetch_ref(
        git.discover(clone), str(origin), "refs/lineage/records", dst, progress=advance
    )
    assert sum(n for n, _ in counted) == objects and counted[-1][1] == objects
    assert (
        git_remote.fetch_ref(git.discover(clone), str(origin), "absent", dst, progress=advance)
        is False
    )


# -- tools' stores: never dirt, never in a snapshot, never in a diff ---------------------------


def test_tool_stores_are_never_dirt_wherever_they_sit(git_repo: Path) -> None:
    (git_repo / ".gitignore").unlink()  # nothing ignored: lineage must not rely on it
    write(git_repo, ".dvc/config", "")
    write(git_repo, "src/wandb/settings", "[default]\n")  # W&B's settings, committed
    write(git_repo, "experiments/README.md", "runs go here\n")
    commit_all(git_repo, "Track settings")
    for store in (
        "mlflow.db",
        "src/mlflow.db",
        "src/mlflow.db-journal",
        "mlruns/0/meta.yaml",
        "src/wandb/debug.log",  # beside a tracked file: would be code if it were not W&B's
        "src/wandb/offline-run-20260101_000000-abc/files/output.log",
        ".dvc/tmp/lock",
        ".dvc/cache/files/md5/ab/cdef",
        "experiments/runs.db",
    ):
        write(git_repo, store, "written by a tool\n")
    paths = git.discover(git_repo)
    named = ToolStores.of(
        git_repo, MlflowStores(sqlite_uri(str(git_repo / "experiments" / "runs.db")), "databricks")
    )

    head, dirt = git.status(paths, named)

    assert head.commit == rev(git_repo)
    assert dirt == git.Dirt(changed=(), untracked=()) and not dirt.dirty
    # Without the tracking URI, a SQLite file of another name beside tracked files is code.
    assert git.status(paths)[1].untracked == ("experiments/runs.db",)


def test_before_anything_is_tracked_stores_in_new_directories_stay_out(tmp_path: Path) -> None:
    sh("git", "init", "-q", cwd=tmp_path)
    write(tmp_path, "train.py", "print(1)\n")
    write(tmp_path, "src/model.py", "x = 1\n")
    write(tmp_path, "src/mlflow.db", "runs\n")  # MLflow started in src/
    write(tmp_path, "src/wandb/debug.log", "log\n")
    write(tmp_path, "mlruns/0/meta.yaml", "name: Default\n")
    paths = git.discover(tmp_path)

    head, dirt = git.status(paths)
    snapshot = git.snapshot(paths, head.commit, dirt, message="lineage snapshot")

    assert dirt == git.Dirt(changed=(), untracked=("src/model.py", "train.py"))
    files = sh("git", "ls-tree", "-r", "--name-only", snapshot, cwd=tmp_path).stdout
    assert files == "src/model.py\ntrain.py\n"


def test_a_snapshot_keeps_a_tracked_tool_store_as_the_base_has_it(git_repo: Path) -> None:
    (git_repo / ".gitignore").unlink()
    write(git_repo, "mlflow.db", "runs v1\n")
    write(git_repo, "src/mlruns/0/meta.yaml", "name: Default\n")
    base = commit_all(git_repo, "Commit the tracking store (odd, but the user's choice)")
    write(git_repo, "mlflow.db", "runs v2\n")
    sh("git", "add", "mlflow.db", cwd=git_repo)  # even staged, it is not code
    (git_repo / "src" / "mlruns" / "0" / "meta.yaml").unlink()
    write(git_repo, "src/train.py", "print('edited')\n")
    paths = git.discover(git_repo)
    before = repo_state(git_repo)

    head, dirt = git.status(paths)
    snapshot = git.snapshot(paths, head.commit, dirt, message="lineage snapshot")

    assert dirt == git.Dirt(
        changed=("src/train.py",),
        untracked=(),
        tool_changes=("mlflow.db", "src/mlruns/0/meta.yaml"),
    )
    assert git_content.tree_diff(paths, base, snapshot) == ["src/train.py"]
    assert repo_state(git_repo) == before
    # Only a tracked store changed: the tree is clean.
    sh("git", "checkout", "-q", "--", "src/train.py", cwd=git_repo)
    assert not git.status(paths)[1].dirty


def test_a_diff_stat_leaves_tool_stores_out(git_repo: Path) -> None:
    first = rev(git_repo)
    write(git_repo, "src/train.py", "print('v2')\n")
    write(git_repo, "src/mlflow.db", "runs\n")
    write(git_repo, "wandb/debug.log", "log\n")
    commit_all(git_repo, "v2 and, by accident, a store")
    sh("git", "add", "-f", "src/mlflow.db", cwd=git_repo)
    sh("git", "commit", "-q", "-m", "Force the store in", cwd=git_repo)

    stat = git_content.diff_stat(git.discover(git_repo), first, rev(git_repo))

    assert stat == " src/train.py | 2 +-\n 1 file changed, 1 insertion(+), 1 deletion(-)"


def test_ignore_rules_say_which_rule_decides_each_path(git_repo: Path) -> None:
    write(git_repo, ".gitignore", "*.db\n!keep.db\nmlflow.db\n/build/\n")
    write(git_repo, "src/.gitignore", "wandb/\n")
    write(git_repo, ".git/info/exclude", "mlartifacts/\n")
    rules = git.ignore_rules(
        git.discover(git_repo),
        ["mlflow.db", "keep.db", "other.db", "build/", "mlruns/", "src/wandb/", "wandb/",
         "mlartifacts/"],
    )  # fmt: skip
    assert rules == {
        "mlflow.db": "mlflow.db",
        "keep.db": "!keep.db",  # kept in on purpose: decided too
        "other.db": "*.db",
        "build/": "/build/",
        "src/wandb/": "wandb/",
        "mlartifacts/": "mlartifacts/",
    }
