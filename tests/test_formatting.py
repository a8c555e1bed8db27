"""lineage.formatting: lists of paths as lineage prints them."""

from __future__ import annotations

from lineage.formatting import listed, printable, short_hash


def test_a_plain_name_prints_as_it_is_and_a_control_character_is_escaped() -> None:
    assert printable("src/train helper.py") == "src/train helper.py"
    assert printable("evil\nlineage: error: x") == "'evil\\nlineage: error: x'"
    assert printable("bell\x07\x7f") == "'bell\\x07\\x7f'"


def test_a_list_names_the_first_five_and_counts_the_rest() -> None:
    assert listed(["a", "b"]) == "a, b"
    assert listed([f"f{n}" for n in range(7)]) == "f0, f1, f2, f3, f4 and 2 more"
    assert listed(["a", "b\tc"], most=1) == "a and 1 more"


def test_a_short_hash_keeps_an_lfs_oid_prefix() -> None:
    assert short_hash("3f2a0b9c1d4e5f60718293a4b5c6d7e8") == "3f2a0b9c1d"
    assert short_hash("sha256:" + "ab" * 32, 12) == "sha256:abababababab"
