"""lineage.formatting: lists of paths as lineage prints them."""

from __future__ import annotations

from lineage.formatting import listed, newest, number_ranges, printable, short_hash


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


def test_version_numbers_read_as_runs_and_stop_after_ten_runs() -> None:
    assert number_ranges([2, 1]) == "1, 2"
    assert number_ranges([1, 2, 3, 5, 6, 9]) == "1-3, 5, 6, 9"
    assert number_ranges([*range(1, 97), 10_000_001]) == "1-96, 10000001"
    assert number_ranges(range(1, 50_001)) == "1-50000"  # a million-record store's model
    gappy = list(range(1, 40, 2))  # 20 runs of one: ten shown, the other ten counted
    assert number_ranges(gappy) == "1, 3, 5, 7, 9, 11, 13, 15, 17, 19 and 10 more"


def test_many_hashes_are_cut_to_the_newest_and_counted() -> None:
    few = [f"{n:02d}" for n in range(10)]
    assert newest(few) == ", ".join(few)
    many = [f"{n:03d}" for n in range(120)]
    assert newest(many) == "the newest 10 of 120: " + ", ".join(many[-10:])
