"""docs/commands.md's "Errors and exit codes" table says what each command's ``--help`` says."""

from __future__ import annotations

import re
from pathlib import Path

import click

from lineage.cli import cli

DOC = Path(__file__).parents[1] / "docs" / "commands.md"


def _help_texts(group: click.Group, path: list[str]) -> dict[str, str]:
    out = {" ".join(path): group.help or ""}
    for name, command in group.commands.items():
        if command.hidden:
            continue
        if isinstance(command, click.Group):
            out.update(_help_texts(command, [*path, name]))
        else:
            out[" ".join([*path, name])] = command.help or ""
    return out


def _help_codes() -> dict[str, set[str]]:
    """Per command, the exit codes its ``--help`` names after ``Exit codes:``."""
    codes: dict[str, set[str]] = {}
    for name, text in _help_texts(cli, ["lineage"]).items():
        paragraph = text.partition("Exit codes:")[2].split("\n\n")[0]
        if paragraph:
            codes[name] = set(re.findall(r"(?<![\w+-])(\d{1,3})(?= [A-Za-z(])", paragraph))
    return codes


def _doc_rows() -> list[tuple[set[str], str]]:
    """The exit-code table of the section: (codes of the row, the rest of the row)."""
    section = DOC.read_text().split("## Errors and exit codes", 1)[1].split("\n## ", 1)[0]
    table = section.split("### Exit codes", 1)[1].split("\n### ", 1)[0]
    rows = []
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and re.fullmatch(r"[\d, ]+", cells[0]):
            rows.append((set(re.findall(r"\d+", cells[0])), " | ".join(cells[1:])))
    return rows


def test_every_exit_code_a_help_names_is_in_the_table_for_that_command() -> None:
    rows = _doc_rows()
    help_codes = _help_codes()
    assert {"lineage", "lineage run", "lineage audit", "lineage reproduce"} <= set(help_codes)
    for command, codes in help_codes.items():
        for code in codes:
            matching = [rest for row_codes, rest in rows if code in row_codes]
            assert matching, f"exit code {code} of `{command}` is not in the table"
            if command != "lineage":
                named = [r for r in matching if f"`{command}`" in r or "every command" in r]
                assert named, f"no row for exit code {code} names `{command}`"


def test_every_code_in_the_table_is_one_a_help_names() -> None:
    named = set().union(*_help_codes().values())
    for row_codes, rest in _doc_rows():
        assert row_codes <= named, f"{row_codes - named} in the table ({rest}) but in no --help"
