"""lineage.resolve: REFs to graph nodes against a real index of real records in a real git
repository, in process. The registry is a SQLite store that does not exist, which lineage reads
as empty without creating it (or importing MLflow)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from lineage.context import Context
from lineage.errors import BadReferenceError, LineageError
from lineage.records import (
    Code,
    Data,
    MlflowRun,
    ModelVersion,
    Provenance,
    RunRecord,
    encode,
)
from lineage.resolve import Node, path_note, resolve, run_of
from tests.conftest import sh

CREATED = Provenance(at="2026-11-27T10:00:00.000Z", name="Ada", email="ada@x", tool="test")
RUN_A = "aaaa1111" + "0" * 24
RUN_B = "aaaa2222" + "0" * 24
RUN_C = "bbbb3333" + "0" * 24
RAW_V1 = "1234abcd" + "1" * 24
RAW_V2 = "1234abff" + "2" * 24
SPACED = "feedbeef" + "3" * 24


def record(
    run_id: str, commit: str, inputs: tuple[Data, ...], models: tuple[ModelVersion, ...]
) -> RunRecord:
    return RunRecord(
        evidence="observed",
        session=run_id[:8],
        code=Code(commit=commit, dirty=False),
        created=CREATED,
        run=MlflowRun(run_id, "sqlite:///x", "1", "e", None, "FINISHED", 1, 2),
        inputs=inputs,
        models=models,
    )


@pytest.fixture
def repo(git_repo: Path) -> Path:
    """Three recorded runs: two read data/raw.csv (two versions), one a file with a space in
    its name and a root-level raw.csv; they made churn/1, churn/2 and 'Project - RF'/1."""
    from lineage.adapters import git
    from lineage.adapters.store import Store

    commit = sh("git", "rev-parse", "HEAD", cwd=git_repo).stdout.strip()
    records = [
        record(RUN_A, commit, (Data("data/raw.csv", RAW_V1),), (ModelVersion("churn", 1),)),
        record(RUN_B, commit, (Data("data/raw.csv", RAW_V2),), (ModelVersion("churn", 2),)),
        record(
            RUN_C,
            commit,
            (Data("data/my file.csv", SPACED), Data("raw.csv", RAW_V1)),
            (ModelVersion("Project - RF", 1),),
        ),
    ]
    local = RunRecord("observed", "s1", Code(commit, False), CREATED)  # no MLflow run
    local_hex = RunRecord("observed", "e118b89ad46c" + "0" * 20, Code(commit, False), CREATED)
    Store(git.discover(git_repo)).append([encode(r) for r in [*records, local, local_hex]])
    return git_repo


@pytest.fixture
def ctx(repo: Path, tmp_path: Path) -> Iterator[Context]:
    environ = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/none/mlflow.db"}
    with Context(repo, environ) as context:
        yield context


def test_a_recorded_model_version_resolves_typed(ctx: Context) -> None:
    node = resolve(ctx, "churn/2")
    assert node == Node.of_model(ModelVersion("churn", 2))
    assert node.key == "model:churn/2"
    assert resolve(ctx, "models:/churn/2") == node
    assert resolve(ctx, "Project - RF/1").model == ModelVersion("Project - RF", 1)


def test_an_unrecorded_version_names_the_recorded_ones(ctx: Context) -> None:
    with pytest.raises(
        BadReferenceError, match="model 'churn' has no recorded version 7; recorded versions: 1, 2"
    ):
        resolve(ctx, "churn/7")


def test_a_model_or_path_with_thousands_of_versions_is_named_in_one_short_line(
    repo: Path, tmp_path: Path
) -> None:
    """A store grown for years: 2,000 versions of one model, 300 of one data path. The error
    still names what exists, in a line a terminal shows whole, not every version one by one."""
    from lineage.adapters import git
    from lineage.adapters.store import Store

    commit = sh("git", "rev-parse", "HEAD", cwd=repo).stdout.strip()
    md5s = [f"{n:08x}" + "9" * 24 for n in range(300)]
    runs = [
        record(
            f"{n:032x}",
            commit,
            (Data("data/daily.csv", md5s[n % 300]),),
            (ModelVersion("churn", n + 3),),  # after churn/1 and churn/2: one run 3-2002
        )
        for n in range(2000)
    ]
    Store(git.discover(repo)).append([encode(r) for r in runs])
    environ = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/none/mlflow.db"}
    with Context(repo, environ) as ctx:
        with pytest.raises(BadReferenceError) as caught:
            resolve(ctx, "churn/5000")
        assert str(caught.value) == (
            "model 'churn' has no recorded version 5000; recorded versions: 1-2002"
        )
        with pytest.raises(BadReferenceError) as caught:
            resolve(ctx, "churn")
        assert str(caught.value) == (
            "'churn' names a model; give a version or an alias: churn/2002 (recorded: 1-2002) "
            "or churn@ALIAS"
        )
        with pytest.raises(BadReferenceError) as caught:
            resolve(ctx, "data/daily.csv@ffff")
        newest = ", ".join(m[:10] for m in md5s[-10:])  # first recorded in this order
        assert str(caught.value) == (
            "data/daily.csv has no recorded version starting 'ffff'; recorded versions: "
            f"the newest 10 of 300: {newest}"
        )
        with pytest.raises(BadReferenceError) as caught:
            resolve(ctx, "data/daily.csv@000000")  # 000000 to 0000ff: 256 of them
        assert len(str(caught.value)) < 300
        assert str(caught.value).startswith(
            "data/daily.csv@000000 is ambiguous: it matches the newest 10 of 256: "
        )


def test_an_alias_asks_the_registry_which_says_what_it_has(ctx: Context, tmp_path: Path) -> None:
    with pytest.raises(LineageError) as caught:
        resolve(ctx, "Project - RF@champion")
    assert str(caught.value) == (
        "no registered model named 'Project - RF'; the registry "
        f"sqlite:///{tmp_path}/none/mlflow.db has no registered models yet"
    )
    assert not (tmp_path / "none").exists()


def test_runs_by_id_and_unique_prefix_and_ambiguity_named(ctx: Context) -> None:
    assert resolve(ctx, RUN_C) == Node("run", RUN_C)
    assert resolve(ctx, "bbbb") == Node("run", RUN_C)
    assert resolve(ctx, RUN_A.upper()) == Node("run", RUN_A)
    with pytest.raises(BadReferenceError) as caught:
        resolve(ctx, "aaaa")
    assert str(caught.value) == (
        f"'aaaa' is ambiguous: it matches run {RUN_A}, run {RUN_B}; give more characters"
    )


def test_runs_without_mlflow_by_their_whole_key_or_a_hex_prefix(ctx: Context) -> None:
    assert resolve(ctx, "local-s1") == Node("run", "local-s1")
    whole = "local-e118b89ad46c" + "0" * 20
    assert resolve(ctx, "local-e118b89ad46c") == Node("run", whole)  # as `lineage log` prints it
    assert resolve(ctx, "LOCAL-E118") == Node("run", whole)
    with pytest.raises(BadReferenceError, match="no recorded run starts with 'local-ffff'"):
        resolve(ctx, "local-ffff")
    with pytest.raises(BadReferenceError, match="nothing recorded matches 'local-s2'"):
        resolve(ctx, "local-s2")


def test_data_by_md5_and_by_path_at_prefix(ctx: Context) -> None:
    assert resolve(ctx, RAW_V1) == Node("data", RAW_V1)
    assert resolve(ctx, "data/raw.csv@1234abf") == Node("data", RAW_V2, path="data/raw.csv")
    assert resolve(ctx, "data/my file.csv@feed") == Node("data", SPACED, path="data/my file.csv")
    with pytest.raises(BadReferenceError, match=r"data/raw.csv@1234ab is ambiguous: it matches "):
        resolve(ctx, "data/raw.csv@1234ab")
    with pytest.raises(BadReferenceError, match=r"data/raw\.csv has no recorded version starting"):
        resolve(ctx, "data/raw.csv@0000")


def test_a_recorded_path_wins_over_a_model_alias_of_the_same_name(ctx: Context) -> None:
    assert resolve(ctx, "raw.csv@1234") == Node("data", RAW_V1, path="raw.csv")


def test_commits_by_revision_and_what_matches_nothing(ctx: Context, repo: Path) -> None:
    head = sh("git", "rev-parse", "HEAD", cwd=repo).stdout.strip()
    assert resolve(ctx, "HEAD") == Node("commit", head, resolved_from="HEAD")
    assert resolve(ctx, "main").ident == head  # conftest's git config names the branch main
    with pytest.raises(
        BadReferenceError,
        match=re.escape(
            "'churn' names a model; give a version or an alias: churn/1, churn/2 or churn@ALIAS"
        ),
    ):
        resolve(ctx, "churn")
    with pytest.raises(BadReferenceError, match="nothing recorded matches 'ffff0000'"):
        resolve(ctx, "ffff0000")
    with pytest.raises(BadReferenceError, match=re.escape("nothing recorded matches 'HEAD@{9}'")):
        resolve(ctx, "HEAD@{9}")


def test_run_of_follows_a_model_version_to_the_run_that_made_it(ctx: Context) -> None:
    assert run_of("churn/1", resolve(ctx, "churn/1"), ctx.index, verb="show") == (
        RUN_A,
        ModelVersion("churn", 1),
    )
    assert run_of(RUN_B, resolve(ctx, RUN_B), ctx.index, verb="show") == (RUN_B, None)
    with pytest.raises(LineageError) as caught:
        run_of("data/raw.csv", resolve(ctx, "data/raw.csv"), ctx.index, verb="diff")
    assert str(caught.value) == (
        f"data/raw.csv is data (data/raw.csv@{RAW_V2[:10]}); diff takes a model version "
        "(name/3, name@alias, models:/...) or a run id: `lineage impact data/raw.csv` lists the "
        "runs and model versions made from it"
    )
    with pytest.raises(LineageError, match=f"^{RAW_V1} is data \\({RAW_V1}\\); reproduce takes"):
        run_of(RAW_V1, resolve(ctx, RAW_V1), ctx.index, verb="reproduce")


# -- a bare data path, in the same grammar as every other REF --------------------------------

OLD = "0123" + "a" * 28
NEW = "4567" + "b" * 28
PREPARED = "89ab" + "c" * 28 + ".dir"
CAFE = "cafe0000" + "d" * 24
AGAIN = "dddd1111" + "0" * 24


def at(moment: str) -> Provenance:
    return Provenance(at=f"2026-11-27T{moment}:00.000Z", name="Ada", email="ada@x", tool="test")


@pytest.fixture
def timeline(git_repo: Path, tmp_path: Path) -> Iterator[Context]:
    """data/raw.csv read in version OLD at 10:00, NEW at 11:00 (which made data/prepared), OLD
    again at 12:00; paths that read as other REFs too: "cafe" (the prefix of a run id), "main"
    (the branch), "checkpoints/3" (a version of the recorded model "checkpoints")."""
    from lineage.adapters import git
    from lineage.adapters.store import Store

    commit = sh("git", "rev-parse", "HEAD", cwd=git_repo).stdout.strip()

    def ran(
        run_id: str,
        moment: str,
        inputs: tuple[Data, ...],
        outputs: tuple[Data, ...] = (),
        models: tuple[ModelVersion, ...] = (),
    ) -> RunRecord:
        return RunRecord(
            evidence="observed",
            session=run_id[:8],
            code=Code(commit, False),
            created=at(moment),
            run=MlflowRun(run_id, "sqlite:///x", "1", "e", None, "FINISHED", 1, 2),
            inputs=inputs,
            outputs=outputs,
            models=models,
        )

    records = [
        ran(RUN_A, "10:00", (Data("data/raw.csv", OLD),)),
        ran(
            RUN_B, "11:00", (Data("data/raw.csv", NEW),), outputs=(Data("data/prepared", PREPARED),)
        ),
        ran(AGAIN, "12:00", (Data("data/raw.csv", OLD),)),
        ran(
            CAFE,
            "12:00",
            (Data("cafe", SPACED), Data("main", SPACED), Data("checkpoints/3", SPACED)),
            models=(ModelVersion("checkpoints", 3),),
        ),
    ]
    Store(git.discover(git_repo)).append([encode(r) for r in records])
    (git_repo / "data").mkdir()
    environ = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/none/mlflow.db"}
    with Context(git_repo, environ) as context:
        yield context


def test_a_bare_path_means_the_version_first_recorded_last(timeline: Context) -> None:
    node = resolve(timeline, "data/raw.csv")  # OLD was read again later: still the older one
    assert node == Node(
        "data", NEW, resolved_from="data/raw.csv", path="data/raw.csv", versions=(OLD, NEW)
    )
    assert path_note(node) == (
        f"data/raw.csv: the latest of the 2 versions recorded, {NEW[:10]}; name another as "
        f"data/raw.csv@MD5 (older: {OLD[:10]})"
    )
    assert resolve(timeline, "data/prepared/").ident == PREPARED
    assert path_note(resolve(timeline, "data/prepared")) == (
        f"data/prepared: the only version recorded, {PREPARED[:10]}"
    )


def test_as_of_a_moment_a_bare_path_means_its_latest_version_then(timeline: Context) -> None:
    node = resolve(timeline, "data/raw.csv", recorded_before="2026-11-27T10:30:00.000Z")
    assert (node.ident, node.versions) == (OLD, (OLD,))
    assert path_note(node, as_of="2026-11-27T10:30") == (
        f"data/raw.csv: the only version recorded as of 2026-11-27T10:30, {OLD[:10]}"
    )


def test_a_path_is_also_taken_relative_to_the_working_directory(
    timeline: Context, git_repo: Path
) -> None:
    with Context(git_repo / "data", timeline.environ) as inside:
        assert resolve(inside, "raw.csv") == Node(
            "data", NEW, resolved_from="raw.csv", path="data/raw.csv", versions=(OLD, NEW)
        )
        assert resolve(inside, "../data/raw.csv").path == "data/raw.csv"
        assert resolve(inside, str(git_repo / "data" / "raw.csv")).ident == NEW
        assert resolve(inside, f"raw.csv@{OLD[:4]}") == Node("data", OLD, path="data/raw.csv")


def test_a_recorded_path_wins_over_a_prefix_a_branch_and_a_model_version(
    timeline: Context, git_repo: Path
) -> None:
    head = sh("git", "rev-parse", "HEAD", cwd=git_repo).stdout.strip()
    for text in ("cafe", "main", "checkpoints/3"):
        assert resolve(timeline, text) == Node(
            "data", SPACED, resolved_from=text, path=text, versions=(SPACED,)
        )
    # The other readings, spelt so that no path can take them:
    assert resolve(timeline, "cafe0") == Node("run", CAFE)
    assert resolve(timeline, "main~0").ident == head
    assert resolve(timeline, "models:/checkpoints/3") == Node.of_model(
        ModelVersion("checkpoints", 3)
    )


def test_an_unrecorded_path_names_what_is_recorded(timeline: Context) -> None:
    with pytest.raises(BadReferenceError) as caught:
        resolve(timeline, "data/train.csv")
    assert str(caught.value) == (
        "no recorded run read or wrote 'data/train.csv', and it names no commit or model; give "
        "a recorded one: cafe, checkpoints/3, data/prepared, data/raw.csv, main"
    )
    with pytest.raises(BadReferenceError) as caught:
        resolve(timeline, "old/raw.csv")  # recorded paths with its file name come first
    assert str(caught.value).endswith(
        "give a recorded one: data/raw.csv, cafe, checkpoints/3, data/prepared, main"
    )
    with pytest.raises(BadReferenceError) as caught:
        resolve(timeline, "data/prepared/train.csv")
    assert str(caught.value) == (
        "'data/prepared/train.csv' is inside data/prepared, a DVC directory lineage records as "
        "one piece of data; give data/prepared (or data/prepared@MD5)"
    )
    with pytest.raises(BadReferenceError) as caught:
        resolve(timeline, "data/raw.csv@ffff")
    assert str(caught.value) == (
        f"data/raw.csv has no recorded version starting 'ffff'; recorded versions: {OLD[:10]}, "
        f"{NEW[:10]}"
    )


def test_with_no_data_recorded_a_file_in_the_work_tree_says_how_to_record_some(
    git_repo: Path, tmp_path: Path
) -> None:
    environ = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/none/mlflow.db"}
    with Context(git_repo, environ) as empty, pytest.raises(BadReferenceError) as caught:
        resolve(empty, "README.md")  # no "/" in it, but it is there
    assert str(caught.value) == (
        "no recorded run read or wrote 'README.md', and it names no commit or model; no data is "
        "recorded yet: record a run with `lineage run -- CMD`"
    )
