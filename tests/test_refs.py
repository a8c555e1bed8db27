"""lineage.refs: every REF form parsed into its typed value and formatted back, in milliseconds,
with no index, git or MLflow behind it."""

from __future__ import annotations

import pytest

from lineage.errors import BadReferenceError
from lineage.model_version import ModelVersion
from lineage.refs import (
    AtRef,
    HexRef,
    LocalRunRef,
    ModelRef,
    Ref,
    RevisionRef,
    data_path,
    is_model_name,
    parse,
    parse_model,
)

MD5 = "5ff7a1e3c0d94b8b8f1f6c0e2a9d7b31"


def same(a: Ref, b: Ref) -> bool:
    """The same REF: named tuples compare by value alone, so the type is compared too."""
    return type(a) is type(b) and a == b


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # model versions and aliases, as lineage and as MLflow's URIs write them
        ("churn/3", ModelRef("churn", version=3)),
        ("churn@champion", AtRef("churn", "champion")),
        ("models:/churn/3", ModelRef("churn", version=3, uri=True)),
        ("models:/churn@champion", ModelRef("churn", alias="champion", uri=True)),
        ("churn-model/12", ModelRef("churn-model", version=12)),
        # names MLflow accepts: spaces, dots, and '@' (an alias splits at the last '@')
        (
            "ProjectExp1 - RandomForestClassifier@champion",
            AtRef("ProjectExp1 - RandomForestClassifier", "champion"),
        ),
        (
            "models:/ProjectExp1 - RandomForestClassifier@champion",
            ModelRef("ProjectExp1 - RandomForestClassifier", alias="champion", uri=True),
        ),
        (
            "ProjectExp1 - RandomForestClassifier/2",
            ModelRef("ProjectExp1 - RandomForestClassifier", 2),
        ),
        ("team@corp/3", ModelRef("team@corp", version=3)),
        ("models:/team@corp@prod", ModelRef("team@corp", alias="prod", uri=True)),
        ("v1.0/3", ModelRef("v1.0", version=3)),
        # data at a path: spaces in it, '@' in it, directories
        ("data/raw.csv@5ff7", AtRef("data/raw.csv", "5ff7")),
        ("data/my file.csv@e5eb", AtRef("data/my file.csv", "e5eb")),
        ("data/x@2.csv@e5eb", AtRef("data/x@2.csv", "e5eb")),
        ("data/images/@ab12", AtRef("data/images/", "ab12")),
        # hex: a run id, data md5 (also of a directory), commit or record id, or a prefix of one
        (MD5, HexRef(MD5)),
        (MD5.upper(), HexRef(MD5)),
        ("5ff7", HexRef("5ff7")),
        (f"{MD5}.dir", HexRef(f"{MD5}.dir")),
        ("a" * 64, HexRef("a" * 64)),
        # a Git LFS oid, as records spell it, or a prefix of one
        (f"sha256:{'b' * 64}", HexRef(f"sha256:{'b' * 64}")),
        ("SHA256:5FF7", HexRef("sha256:5ff7")),
        ("sha256:5ff", RevisionRef("sha256:5ff")),  # too short to be looked up
        ("data/train.parquet@sha256:5ff7", AtRef("data/train.parquet", "sha256:5ff7")),
        # runs without MLflow, as `lineage log` prints them
        ("local-e118b89ad46c", LocalRunRef("local-e118b89ad46c")),
        ("LOCAL-E118", LocalRunRef("LOCAL-E118")),
        ("local-mlflow-import", LocalRunRef("local-mlflow-import")),
        ("local-churn/3", ModelRef("local-churn", version=3)),  # a model's name may start so
        ("local-churn@champion", AtRef("local-churn", "champion")),
        # git revisions and bare names
        ("HEAD", RevisionRef("HEAD")),
        ("HEAD~3", RevisionRef("HEAD~3")),
        ("main", RevisionRef("main")),
        ("origin/main", RevisionRef("origin/main")),
        ("churn", RevisionRef("churn")),
        ("HEAD@{1}", AtRef("HEAD", "{1}")),  # neither a path nor an alias: resolve asks git
    ],
)
def test_every_form_parses_to_its_typed_value(text: str, expected: Ref) -> None:
    assert same(parse(text), expected)


@pytest.mark.parametrize(
    "text",
    [
        "churn/3",
        "models:/churn/3",
        "models:/churn@champion",
        "ProjectExp1 - RandomForestClassifier@champion",
        "data/my file.csv@e5eb",
        MD5,
        "local-e118b89ad46c",
        "HEAD~3",
    ],
)
def test_a_parsed_ref_formats_back_to_what_was_typed(text: str) -> None:
    assert str(parse(text)) == text
    assert same(parse(str(parse(text))), parse(text))


@pytest.mark.parametrize(
    ("text", "why"),
    [
        # too short to be looked up as a prefix: they stay names (a branch "abc" is valid)
        ("abc", RevisionRef("abc")),
        ("ab.dir", RevisionRef("ab.dir")),
        # longer than any id, or not hex: not a prefix either
        ("a" * 65, RevisionRef("a" * 65)),
        ("5ff7g", RevisionRef("5ff7g")),
        # a '/' in the name part: MLflow refuses such model names, so it is not a version
        ("data/images/3", RevisionRef("data/images/3")),
        ("a:b/3", RevisionRef("a:b/3")),
        ("churn/3a", RevisionRef("churn/3a")),
        ("churn/", RevisionRef("churn/")),
    ],
)
def test_what_cannot_be_an_id_or_a_version_is_left_to_git(text: str, why: Ref) -> None:
    assert same(parse(text), why)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "malformed REF ''; use one of:"),
        (" churn/3", "malformed REF ' churn/3'; use one of:"),
        ("churn/3\n", "malformed REF 'churn/3\\n'; use one of:"),
        ("models:/churn", "malformed model URI 'models:/churn'; use models:/NAME/VERSION or"),
        ("models:churn/3", "malformed model URI 'models:churn/3'"),
        ("models:/", "malformed model URI 'models:/'"),
        ("models:/churn/Production", "malformed model URI 'models:/churn/Production'"),
        ("models:/churn/latest", "malformed model URI"),
        ("models:/a/b/3", "malformed model URI"),
        ("models:/churn@", "malformed model URI"),
        ("models:/churn@not an alias", "malformed model URI"),
    ],
)
def test_malformed_refs_are_refused_with_the_forms_that_work(text: str, message: str) -> None:
    with pytest.raises(BadReferenceError) as caught:
        parse(text)
    assert str(caught.value).startswith(message)
    assert caught.value.ref == text


def test_a_local_run_is_looked_up_whole_and_as_a_prefix_only_when_hex() -> None:
    assert LocalRunRef("LOCAL-E118b").prefix == "local-e118b"
    assert LocalRunRef("local-e11").prefix is None  # too short to look up as a prefix
    assert LocalRunRef("local-s1").prefix is None  # not hex: only the whole key matches


def test_an_at_ref_carries_both_readings() -> None:
    both = parse("churn@beef")
    assert isinstance(both, AtRef)
    assert both.model is not None and same(both.model, ModelRef("churn", alias="beef"))
    assert both.path == "churn"

    path_only = parse("data/raw.csv@beef")
    assert isinstance(path_only, AtRef) and path_only.model is None  # names hold no '/'
    not_an_alias = parse("churn@{1}")
    assert isinstance(not_an_alias, AtRef) and not_an_alias.model is None
    assert parse("data/images/@ab").path == "data/images"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("churn-model", ModelRef("churn-model")),
        ("ProjectExp1 - RandomForestClassifier", ModelRef("ProjectExp1 - RandomForestClassifier")),
        ("churn-model/3", ModelRef("churn-model", version=3)),
        ("churn-model@champion", ModelRef("churn-model", alias="champion")),
        ("models:/churn-model@champion", ModelRef("churn-model", alias="champion", uri=True)),
        ("beef", ModelRef("beef")),  # looks like hex, names a model here
        ("models:/churn-model", ModelRef("churn-model", uri=True)),
        ("local-churn/3", ModelRef("local-churn", version=3)),
    ],
)
def test_parse_model_takes_a_whole_model_too(text: str, expected: ModelRef) -> None:
    assert same(parse_model(text), expected)


@pytest.mark.parametrize("text", ["data/raw.csv@5ff7", "origin/main", "a:b", "", " churn"])
def test_parse_model_refuses_what_names_no_model(text: str) -> None:
    with pytest.raises(BadReferenceError, match=r"is not a model, version or alias|malformed"):
        parse_model(text)


def test_model_names_follow_mlflows_rules() -> None:
    assert is_model_name("ProjectExp1 - RandomForestClassifier")
    assert is_model_name("team@corp")
    assert not is_model_name("a/b")
    assert not is_model_name("catalog:model")
    assert not is_model_name("   ")


def test_model_versions_are_typed_ordered_and_print_as_name_slash_version() -> None:
    versions = [ModelVersion("b", 1), ModelVersion("a", 10), ModelVersion("a", 2)]
    ordered = [ModelVersion("a", 2), ModelVersion("a", 10), ModelVersion("b", 1)]
    assert sorted(versions, key=lambda v: v.sort_key) == ordered
    assert str(ModelVersion("my model", 3)) == "my model/3"


@pytest.mark.parametrize(
    ("text", "spelt"),
    [
        ("data/raw.csv", "data/raw.csv"),
        ("./data/raw.csv", "data/raw.csv"),
        ("data/prepared/", "data/prepared"),
        ("data//my file.csv", "data/my file.csv"),
        ("cafe", "cafe"),  # hex: also a prefix; resolve tries the path first
        ("churn/3", "churn/3"),  # also a model version; the same
        ("", None),
        ("./", None),
        ("/abs/data.csv", None),  # resolve tries it relative to the repository instead
        ("../data.csv", None),
        ("data/../../x", None),
        ("models:/churn/3", None),  # a URI always names a model
    ],
)
def test_any_text_but_a_uri_or_a_path_leaving_the_repository_may_be_a_data_path(
    text: str, spelt: str | None
) -> None:
    assert data_path(text) == spelt
