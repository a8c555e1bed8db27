"""lineage.adapters.dvc_plots: a plots file's numbers, in every format DVC plots, and the
original's bytes found by md5."""

from __future__ import annotations

from pathlib import Path

from lineage.adapters.dvc_hash import blob_md5
from lineage.adapters.dvc_plots import numbers, original_bytes


def test_json_and_yaml_plots_are_flattened_with_their_list_positions() -> None:
    document = b'{"prc": [{"precision": 0.5, "recall": 1}, {"precision": 1.0, "recall": 0}]}'
    assert numbers(document, "eval/plots/prc.json") == {
        "prc.0.precision": 0.5,
        "prc.0.recall": 1,
        "prc.1.precision": 1.0,
        "prc.1.recall": 0,
    }
    assert numbers(b"roc:\n- fpr: 1e-3\n  tpr: 0.5\n", "roc.yaml") == {
        "roc.0.fpr": 0.001,  # YAML 1.2, as DVC reads it
        "roc.0.tpr": 0.5,
    }


def test_csv_and_tsv_plots_are_read_by_row_and_column() -> None:
    assert numbers(b"fpr,tpr,label\n0.0,0.5,a\n", "roc.csv") == {
        "0.fpr": 0.0,
        "0.tpr": 0.5,
        "0.label": "a",
    }
    assert numbers(b"step\tloss\n1\t0.25\n", "loss.tsv") == {"0.step": 1.0, "0.loss": 0.25}


def test_an_image_or_a_broken_file_has_no_numbers() -> None:
    assert numbers(b"\x89PNG\r\n", "importance.png") is None
    assert numbers(b'{"prc": [', "prc.json") is None
    assert numbers(b"\xff\xfe", "prc.json") is None


def test_the_original_bytes_are_the_first_copy_that_hashes_to_the_md5(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    stale, current = tmp_path / "stale.json", tmp_path / "current.json"
    stale.write_bytes(b'{"x": 1}')
    current.write_bytes(b'{"x": 2}')
    md5 = blob_md5(b'{"x": 2}')
    assert original_bytes(cache, md5, [stale, current]) == b'{"x": 2}'
    assert original_bytes(cache, md5, [stale]) is None
    obj = cache / "files" / "md5" / md5[:2] / md5[2:]
    obj.parent.mkdir(parents=True)
    obj.write_bytes(b'{"x": 2}')
    assert original_bytes(cache, md5, []) == b'{"x": 2}'
