"""`lineage push` / `lineage pull` and the pre-push check, between real clones of a real bare
remote, with real DVC (a local directory remote) and runs recorded by `lineage run`.

One scenario is built per module and copied into each test's tmp_path:

    origin.git   main: Start (data/raw.csv v1, pushed to the DVC remote)
    a/           RA1 at Start (clean); branch feature: More data (raw v2, never `dvc push`ed)
                 and RA2 on a dirty tree based on it (a snapshot commit); a is on feature
    b/           a clone of origin: RB1 at Start (clean)
    dvc-remote/  DVC's remote; every path between them is relative, so copies stay separate
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lineage.adapters import git
from lineage.adapters.store import REF, Store
from lineage.commands.sync import pre_push
from lineage.context import Context
from tests.conftest import BIN, sh
from tests.helpers import TRAIN, commit_all, lineage, lineage_json, write
from tests.scenarios import hermetic_env
from tests.terminal import in_terminal

ZERO = "0" * 40


@dataclass(frozen=True)
class Scenario:
    base: Path
    runs: dict[str, str]  # RA1, RA2, RB1 -> run id
    raw: dict[str, str]  # v1, v2 -> md5 of data/raw.csv
    snapshot: str  # RA2's snapshot commit
    more_data: str  # the commit RA2's snapshot is based on

    @property
    def a(self) -> Path:
        return self.base / "a"

    @property
    def b(self) -> Path:
        return self.base / "b"

    @property
    def origin(self) -> Path:
        return self.base / "origin.git"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    base = tmp_path_factory.mktemp("sync") / "s"
    base.mkdir()
    env = hermetic_env(base.parent)
    with pytest.MonkeyPatch.context() as patch:
        for key in set(os.environ) - set(env):
            patch.delenv(key)
        for key, value in env.items():
            patch.setenv(key, value)
        return _build(base)


def _build(base: Path) -> Scenario:
    a, b = base / "a", base / "b"
    (base / "dvc-remote").mkdir()
    sh("git", "init", "-q", "--bare", "origin.git", cwd=base)
    a.mkdir()
    sh("git", "init", "-q", cwd=a)
    sh("dvc", "init", "-q", cwd=a)
    sh("dvc", "remote", "add", "-d", "storage", "../dvc-remote", cwd=a)  # relative to a/
    write(a, ".gitignore", "mlflow.db\nmlruns/\nmlartifacts/\n")
    write(a, "src/train.py", TRAIN)
    raw = {"v1": dvc_add(a, "id,value\n1,10\n2,20\n")}
    lineage(a, "init")
    commit_all(a, "Start")
    sh("git", "remote", "add", "origin", "../origin.git", cwd=a)
    sh("git", "push", "-q", "-u", "origin", "main", cwd=a)
    sh("dvc", "push", "-q", cwd=a)
    runs = {"RA1": record_run(a, "3")}

    sh("git", "checkout", "-q", "-b", "feature", cwd=a)
    raw["v2"] = dvc_add(a, "id,value\n1,10\n2,20\n3,30\n")
    more_data = commit_all(a, "More data")
    write(a, "src/train.py", TRAIN + "# tuned\n")  # a dirty tree: RA2 runs on a snapshot
    runs["RA2"] = record_run(a, "4")
    sh("git", "checkout", "-q", "--", "src/train.py", cwd=a)
    snapshot = lineage_json(a, "show", runs["RA2"])["record"]["code"]["snapshot"]

    sh("git", "clone", "-q", "origin.git", "b", cwd=base)
    sh("git", "remote", "set-url", "origin", "../origin.git", cwd=b)
    sh("dvc", "pull", "-q", cwd=b)
    runs["RB1"] = record_run(b, "5")
    return Scenario(base, runs, raw, snapshot, more_data)


def dvc_add(repo: Path, text: str) -> str:
    write(repo, "data/raw.csv", text)
    sh("dvc", "add", "-q", "data/raw.csv", cwd=repo)
    return (repo / "data" / "raw.csv.dvc").read_text().split("md5: ")[1][:32]


def record_run(repo: Path, depth: str) -> str:
    lineage(repo, "run", "--", "python", "src/train.py", depth)
    return str(lineage_json(repo, "log")[0]["run"])


@pytest.fixture
def s(built: Scenario, tmp_path: Path) -> Scenario:
    """A private copy of the scenario (repositories, both remotes)."""
    shutil.copytree(built.base, tmp_path / "s", symlinks=True)
    return Scenario(tmp_path / "s", built.runs, built.raw, built.snapshot, built.more_data)


def names(repo: Path, ref: str = REF) -> set[str]:
    return set(sh("git", "ls-tree", "-r", "--name-only", ref, cwd=repo).stdout.split())


def tip(repo: Path, ref: str = REF) -> str:
    return sh("git", "rev-parse", "-q", "--verify", ref, cwd=repo, check=False).stdout.strip()


def out(repo: Path, *args: str) -> str:
    return lineage(repo, *args).stdout.strip()


def install_hook(path: Path, script: str) -> None:
    path.parent.mkdir(exist_ok=True)  # the hermetic git template has no hooks/
    path.write_text(script)
    path.chmod(0o755)


def snapshot_lines(s: Scenario, remote: str) -> list[str]:
    """What a push says, before sending, of RA2's snapshot: a remote's first sight of it."""
    return [
        f"lineage: publishing 1 snapshot commit of a dirty tree to {remote} for the first time:",
        f"lineage:   {s.snapshot[:10]} (based on {s.more_data[:10]}) adds no files",
    ]


def n_new(count: int) -> str:
    return f"{count} new record{'' if count == 1 else 's'}"


# -- push and pull ---------------------------------------------------------------------------


@pytest.mark.parametrize("first", ["a", "b"])
def test_two_clones_converge_whichever_pushes_first(s: Scenario, first: str) -> None:
    one, two = (s.a, s.b) if first == "a" else (s.b, s.a)
    mine, theirs = names(one), names(two)
    assert mine != theirs

    assert out(one, "push") == f"pushed {n_new(len(mine))} to origin"
    # The second clone's push is rejected by git (not a fast-forward): it pulls, merges, retries.
    assert out(two, "push") == (
        f"pushed {n_new(len(theirs - mine))} to origin (after pulling {n_new(len(mine - theirs))}"
        " from it)"
    )
    assert out(one, "pull") == f"pulled {n_new(len(theirs - mine))} from origin (fast-forward)"

    assert names(s.a) == names(s.b) == names(s.origin) == mine | theirs
    assert tip(s.a) == tip(s.b) == tip(s.origin)
    # The index of each clone catches up with the merge: both answer the same.
    log_a, log_b = lineage_json(s.a, "log"), lineage_json(s.b, "log")
    assert log_a == log_b
    assert {entry["run"] for entry in log_a} == set(s.runs.values())
    # Idempotent: nothing more to exchange, in either direction.
    for repo in (s.a, s.b):
        assert out(repo, "pull") == "already up to date with origin"
        assert out(repo, "push") == "origin is up to date"
    assert tip(s.a) == tip(s.b) == tip(s.origin)


def test_peers_merging_each_other_independently_still_converge(s: Scenario) -> None:
    """Both clones merge the other directly (a URL, not a configured remote): two different
    merge commits with the same tree. Pushing both to origin still converges."""
    union = names(s.a) | names(s.b)
    shutil.copytree(s.a, s.base / "a-before", symlinks=True)
    assert out(s.a, "pull", "../b").startswith("pulled ")
    assert out(s.b, "pull", "../a-before").startswith("pulled ")
    assert names(s.a) == names(s.b) == union
    assert tip(s.a) != tip(s.b)
    assert tip(s.a, f"{REF}^{{tree}}") == tip(s.b, f"{REF}^{{tree}}")  # order-independent

    assert out(s.a, "push") == f"pushed {n_new(len(union))} to origin"
    assert out(s.b, "push") == "origin is up to date (after merging with it)"
    assert out(s.a, "pull") == "pulled 0 new records from origin (fast-forward)"
    assert tip(s.a) == tip(s.b) == tip(s.origin)
    assert names(s.origin) == union


def test_a_fresh_clone_and_pull_answer_like_the_original(s: Scenario) -> None:
    lineage(s.a, "push")
    sh("git", "clone", "-q", "origin.git", "fresh", cwd=s.base)
    fresh = s.base / "fresh"

    assert out(fresh, "pull") == f"pulled {n_new(len(names(s.a)))} from origin (created)"

    assert names(fresh) == names(s.a)
    assert lineage_json(fresh, "log") == lineage_json(s.a, "log")
    for run in (s.runs["RA1"], s.runs["RA2"]):
        assert lineage_json(fresh, "show", run) == lineage_json(s.a, "show", run)
        graph = ("graph", run, "--format", "json", "--no-aliases")
        assert out(fresh, *graph) == out(s.a, *graph)
    # The snapshot of RA2's dirty tree came along (an extra parent of the record commit), and
    # the commit it is based on with it, although branch feature was never pushed.
    sh("git", "cat-file", "-e", f"{s.snapshot}^{{commit}}", cwd=fresh)
    sh("git", "cat-file", "-e", f"{s.more_data}^{{commit}}", cwd=fresh)
    assert tip(fresh, "refs/lineage/remotes/origin/records") == tip(s.a)


def test_pulled_records_are_not_journaled_as_written_here(s: Scenario) -> None:
    journal = s.b / ".git" / "lineage" / "written"
    before = journal.read_text()
    from_a = {n.replace("/", "").removesuffix(".json") for n in names(s.a) - names(s.b)}
    lineage(s.a, "push")
    lineage(s.b, "pull")

    assert journal.read_text() == before
    store = Store(git.discover(s.b))
    assert from_a and not any(store.written_here(name) for name in from_a)
    # So reproducing A's run in B asks first (and, with no terminal to ask on, refuses).
    refused = lineage(s.b, "reproduce", s.runs["RA1"], check=False)
    assert refused.returncode == 1
    assert refused.stderr.endswith(
        "from a record this clone did not write; read it, then rerun with --yes to run it\n"
    )


def test_records_survive_rebase_squash_merge_branch_deletion_and_gc(s: Scenario) -> None:
    before = names(s.a)
    show_before = lineage_json(s.a, "show", s.runs["RA2"])
    # Rebase feature onto a new main commit, squash-merge it, delete it, forget every reflog.
    sh("git", "checkout", "-q", "main", cwd=s.a)
    write(s.a, "NOTES.md", "main moved on\n")
    commit_all(s.a, "Main moved on")
    sh("git", "rebase", "-q", "main", "feature", cwd=s.a)
    sh("git", "checkout", "-q", "main", cwd=s.a)
    sh("git", "merge", "-q", "--squash", "feature", cwd=s.a)
    commit_all(s.a, "Squashed feature")
    sh("git", "branch", "-q", "-D", "feature", cwd=s.a)
    sh("git", "reflog", "expire", "--expire=now", "--all", cwd=s.a)
    sh("git", "gc", "-q", "--prune=now", cwd=s.a)

    assert names(s.a) == before
    assert lineage_json(s.a, "show", s.runs["RA2"]) == show_before
    sh("git", "cat-file", "-e", f"{s.snapshot}^{{commit}}", cwd=s.a)
    sh("git", "cat-file", "-e", f"{s.more_data}^{{commit}}", cwd=s.a)
    # And they still travel: a clone of the remote gets them with the snapshot.
    assert out(s.a, "push") == f"pushed {n_new(len(before))} to origin"
    sh("git", "clone", "-q", "origin.git", "fresh", cwd=s.base)
    lineage(s.base / "fresh", "pull")
    assert lineage_json(s.base / "fresh", "show", s.runs["RA2"]) == show_before


def test_a_clean_run_keeps_its_commit_after_the_branch_is_deleted_and_shares_it(
    s: Scenario,
) -> None:
    # A clean run on a local branch that is never pushed, then deleted and garbage-collected.
    sh("git", "checkout", "-q", "-b", "experiment", "main", cwd=s.a)
    sh("dvc", "checkout", "-q", cwd=s.a)  # raw v1, which is in the DVC remote
    write(s.a, "src/train.py", TRAIN + "# experiment\n")
    experiment = commit_all(s.a, "Try something")
    run = record_run(s.a, "6")
    code = lineage_json(s.a, "show", run)["record"]["code"]
    assert code["commit"] == experiment and code["snapshot"] is None
    sh("git", "checkout", "-q", "main", cwd=s.a)
    sh("git", "branch", "-q", "-D", "experiment", cwd=s.a)
    sh("git", "reflog", "expire", "--expire=now", "--all", cwd=s.a)
    sh("git", "gc", "-q", "--prune=now", cwd=s.a)

    sh("git", "cat-file", "-e", f"{experiment}^{{commit}}", cwd=s.a)
    assert sh("git", "branch", "-a", "--contains", experiment, cwd=s.a).stdout == ""

    # A fresh clone gets the commit with the records, so the run can still be rebuilt there.
    lineage(s.a, "push")
    sh("git", "clone", "-q", "origin.git", "fresh", cwd=s.base)
    fresh = s.base / "fresh"
    lineage(fresh, "pull")
    sh("git", "cat-file", "-e", f"{experiment}^{{commit}}", cwd=fresh)
    plan = lineage(fresh, "reproduce", run, "--dry-run", "--yes")
    assert f'commit {experiment[:12]} "Try something"' in plan.stdout


def test_push_and_pull_edge_cases_say_what_happened(s: Scenario, tmp_path: Path) -> None:
    # The remote has no records yet.
    assert out(s.b, "pull") == "origin has no lineage records yet"
    assert tip(s.b, "refs/lineage/remotes/origin/records") == ""
    # No remote at all: one sentence with the next step.
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    sh("git", "init", "-q", cwd=lonely)
    failed = lineage(lonely, "push", check=False)
    assert failed.returncode == 1
    assert failed.stderr == (
        "lineage: error: no Git remote to share lineage with: the current branch has no "
        "upstream and there is no 'origin'; add one with `git remote add origin URL`, or name "
        "one: `lineage push REMOTE`\n"
    )
    failed = lineage(lonely, "pull", check=False)
    assert failed.returncode == 1
    assert failed.stderr.endswith("or name one: `lineage pull REMOTE`\n")
    # A remote but no records.
    sh("git", "remote", "add", "origin", str(s.origin), cwd=lonely)
    assert out(lonely, "push") == (
        "no lineage records to push yet; record a run with `lineage run`"
    )
    # The branch's upstream remote wins over origin.
    sh("git", "remote", "rename", "origin", "upstream", cwd=s.a)
    sh("git", "branch", "-q", "--set-upstream-to=upstream/main", "main", cwd=s.a)
    sh("git", "checkout", "-q", "main", cwd=s.a)
    assert out(s.a, "push").endswith(" to upstream")
    assert tip(s.a, "refs/lineage/remotes/upstream/records") == tip(s.a)
    # A remote that cannot be reached: git's reason, one line.
    gone = lineage(s.a, "push", "nowhere", check=False)
    lines = gone.stderr.splitlines()  # after naming the snapshot it would have published
    assert gone.returncode == 1 and lines[-1].startswith("lineage: error: `git push")
    assert lines[:-1] == snapshot_lines(s, "nowhere")


def test_push_to_a_remote_that_refuses_the_ref_is_a_clean_error(s: Scenario) -> None:
    install_hook(s.origin / "hooks" / "pre-receive", "#!/bin/sh\necho 'not here' >&2\nexit 1\n")
    failed = lineage(s.a, "push", check=False)
    assert failed.returncode == 1
    lines = failed.stderr.splitlines()
    assert lines[:-1] == snapshot_lines(s, "origin")
    assert lines[-1].startswith(f"lineage: error: origin refused {REF} ([remote rejected]")


def test_push_that_loses_the_remote_lock_to_a_teammate_pulls_and_pushes_again(
    s: Scenario,
) -> None:
    """Two pushes at the same instant: the remote fails one to lock the ref (git's `[remote
    rejected] (failed to update ref)`). That is a race, like `fetch first`, not a refusal. The
    origin's pre-receive hook holds the ref's lock during the first push, as a teammate's push
    does, and lets it go at the next."""
    hook = (
        "#!/bin/sh\nmkdir -p refs/lineage\n"
        "if [ -e raced ]; then rm -f refs/lineage/records.lock\n"
        "else touch raced refs/lineage/records.lock\nfi\n"
    )
    install_hook(s.origin / "hooks" / "pre-receive", hook)
    pushed = lineage(s.a, "push")
    assert (s.origin / "raced").exists()  # the first attempt did lose the race
    assert pushed.stdout == f"pushed {n_new(len(names(s.a)))} to origin (after merging with it)\n"
    assert tip(s.origin) == tip(s.a)


# -- pre-push --------------------------------------------------------------------------------


def test_pre_push_refuses_data_missing_from_the_dvc_remote_until_dvc_push(s: Scenario) -> None:
    """Through a real `git push` and the hook `lineage hooks install` puts in place."""
    lineage(s.a, "hooks", "install", "--hook", "pre-push")

    refused = sh("git", "push", "-q", "origin", "feature", cwd=s.a, check=False)

    assert refused.returncode == 1
    stderr = refused.stderr.splitlines()
    assert stderr[:3] == [
        "lineage: refusing to push: runs on these commits used 1 data object(s) that DVC "
        "remote 'storage' does not have; run `dvc push`:",
        f"lineage:   data/raw.csv {s.raw['v2']}",
        "lineage: then push again, or `git push --no-verify` to skip this check",
    ]
    heads = sh("git", "ls-remote", "origin.git", cwd=s.base).stdout
    assert "refs/heads/feature" not in heads and REF not in heads

    sh("dvc", "push", "-q", cwd=s.a)
    accepted = sh("git", "push", "-q", "origin", "feature", cwd=s.a)

    assert f"lineage: pushed {n_new(len(names(s.a)))} to origin" in accepted.stderr
    assert tip(s.origin, "refs/heads/feature") == tip(s.a, "feature")
    assert tip(s.origin) == tip(s.a)  # the records went along with the branch
    # Nothing new since: the next push of the branch does not push the records again.
    write(s.a, "NOTES.md", "more\n")
    commit_all(s.a, "More notes")
    again = sh("git", "push", "-q", "origin", "feature", cwd=s.a)
    assert "lineage:" not in again.stderr


@pytest.fixture
def ctx_a(s: Scenario) -> Iterator[Context]:
    """What the hook builds in clone a."""
    with Context(s.a, dict(os.environ)) as ctx:
        yield ctx


def test_pre_push_checks_only_the_commits_being_pushed(s: Scenario, ctx_a: Context) -> None:
    said: list[str] = []
    main = tip(s.a, "main")
    # main is on origin already: no new commit, nothing to check; the records are shared.
    assert pre_push(ctx_a, "origin", "../origin.git", [_update("main", main)], say=said.append) == 0
    assert said == [
        *[line.removeprefix("lineage: ") for line in snapshot_lines(s, "origin")],
        f"pushed {n_new(len(names(s.a)))} to origin",
    ]
    # feature's commit is new, and RA2 ran on a snapshot based on it, with data v2.
    said.clear()
    feature = tip(s.a, "feature")
    assert (
        pre_push(ctx_a, "origin", "../origin.git", [_update("feature", feature)], say=said.append)
        == 1
    )
    assert f"  data/raw.csv {s.raw['v2']}" in said
    # Deleting a branch publishes nothing.
    said.clear()
    deletion = ("(delete)", ZERO, "refs/heads/feature", feature)
    assert pre_push(ctx_a, "origin", "../origin.git", [deletion], say=said.append) == 0
    assert said == []


def test_pre_push_lists_data_lost_everywhere_and_caps_the_list(s: Scenario, ctx_a: Context) -> None:
    said: list[str] = []
    cache = s.a / ".dvc" / "cache" / "files" / "md5" / s.raw["v2"][:2] / s.raw["v2"][2:]
    cache.chmod(0o644)
    cache.unlink()
    pre_push(ctx_a, "origin", "x", [_update("feature", tip(s.a, "feature"))], say=said.append)
    assert (
        f"  data/raw.csv {s.raw['v2']} (not in this clone's DVC cache either: push it from "
        "where it was made)"
    ) in said


def test_pre_push_without_a_dvc_remote_warns_and_lets_the_push_through(s: Scenario) -> None:
    sh("dvc", "remote", "remove", "storage", cwd=s.a)
    done = pre_push_in_a_fresh_process(s.a, "feature")
    assert done.stdout == "0 ['dvc']\n"  # DVC is asked whether a global remote is configured
    assert done.stderr.splitlines() == [
        "lineage: warning: runs on these commits used DVC data, but no DVC remote is "
        "configured, so lineage cannot check the data was shared; `dvc remote add -d NAME "
        "URL` to have it checked",
        *snapshot_lines(s, "origin"),
        f"lineage: pushed {n_new(len(names(s.a)))} to origin",
    ]


def test_pre_push_does_not_import_dvc_for_a_local_directory_remote(s: Scenario) -> None:
    assert pre_push_in_a_fresh_process(s.a, "feature").stdout == "1 []\n"


def test_pre_push_warns_but_allows_when_the_records_cannot_be_pushed(
    s: Scenario, ctx_a: Context
) -> None:
    install_hook(s.origin / "hooks" / "pre-receive", "#!/bin/sh\nexit 1\n")
    said: list[str] = []
    update = _update("main", tip(s.a, "main"))
    assert pre_push(ctx_a, "origin", "../origin.git", [update], say=said.append) == 0
    assert said[:-1] == [line.removeprefix("lineage: ") for line in snapshot_lines(s, "origin")]
    assert said[-1].startswith(
        f"warning: lineage records were not pushed to ../origin.git (origin refused {REF}"
    )
    assert said[-1].endswith("; run `lineage push origin` later")


# pre_push in a process of its own, to see what the hook's path imports.
PROBE = """\
import sys
from pathlib import Path
from lineage.commands.sync import pre_push
from lineage.context import Context
update = (sys.argv[1], sys.argv[2], sys.argv[1], "0" * 40)
with Context(Path.cwd(), {}) as ctx:
    code = pre_push(ctx, "origin", "x", [update])
print(code, sorted(m for m in ("mlflow", "dvc", "networkx") if m in sys.modules))
"""


def pre_push_in_a_fresh_process(repo: Path, branch: str) -> subprocess.CompletedProcess[str]:
    sha = tip(repo, branch)
    return sh(BIN / "python", "-c", PROBE, f"refs/heads/{branch}", sha, cwd=repo, check=False)


def _update(branch: str, sha: str) -> tuple[str, str, str, str]:
    return (f"refs/heads/{branch}", sha, f"refs/heads/{branch}", ZERO)


def test_a_clone_with_records_of_its_own_shows_a_pulled_run_as_the_original(s: Scenario) -> None:
    lineage(s.a, "push")
    lineage(s.b, "pull")
    assert lineage_json(s.b, "show", s.runs["RA2"]) == lineage_json(s.a, "show", s.runs["RA2"])


# -- progress on a terminal ------------------------------------------------------------------

BAR_COUNT = re.compile(r" \d+/\d+ \[[0-9:]+<[0-9:]+, +[0-9.e+]+ objects/s\]$")


def test_on_a_terminal_push_and_pull_show_a_bar_then_their_one_line(s: Scenario) -> None:
    env = {**os.environ, "LINEAGE_PROGRESS_DELAY": "0"}  # a bar even on a push this small
    pushed = in_terminal(["lineage", "push"], cwd=s.a, env=env)
    assert pushed.code == 0, pushed.raw
    assert BAR_COUNT.search(pushed.bars("pushing records to origin")[-1])
    summary = f"pushed {n_new(len(names(s.a)))} to origin"
    assert [line for line in pushed.screen if "push" in line] == [summary]  # the bar erased

    # git counts the objects of a fetch only when it indexes the pack it receives, as it does
    # for 100 objects or more (fetch.unpackLimit): have it do so for these few.
    sh("git", "config", "fetch.unpackLimit", "1", cwd=s.b)
    pulled = in_terminal(["lineage", "pull"], cwd=s.b, env=env)
    assert pulled.code == 0, pulled.raw
    assert BAR_COUNT.search(pulled.bars("pulling records from origin")[-1])
    # RA1 and RA2 (b's own RB1 it had); the bar erased
    assert [line for line in pulled.screen if "pull" in line] == [
        "pulled 2 new records from origin (merged)"
    ]

    piped = lineage(s.b, "push", env=env)  # into a pipe: no bar
    assert "\r" not in piped.stderr and piped.stdout.startswith("pushed ")


def test_pushing_through_the_installed_hooks_on_a_terminal_never_imports_the_bar_library(
    s: Scenario,
) -> None:
    lineage(s.b, "hooks", "install")
    write(s.b, "NOTES.md", "notes\n")
    sh("git", "add", "NOTES.md", cwd=s.b)
    # Each Python process the hooks start lists what it imports on stderr, the terminal.
    env = {**os.environ, "LINEAGE_PROGRESS_DELAY": "0", "PYTHONPROFILEIMPORTTIME": "1"}
    for argv in (["git", "commit", "-q", "-m", "Notes"], ["git", "push", "-q", "origin", "main"]):
        shown = in_terminal(argv, cwd=s.b, env=env)
        assert shown.code == 0, shown.raw
        assert "| lineage.hooks" in shown.raw  # the hook ran, in Python, on this terminal
        assert "tqdm" not in shown.raw and shown.carriage_returns == 0
    assert tip(s.origin) == tip(s.b)  # the hook pushed the records along
