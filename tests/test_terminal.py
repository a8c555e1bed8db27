from __future__ import annotations

import io
from pathlib import Path

from lineage.terminal import EscapingWriter
from tests.conftest import sh
from tests.helpers import commit_all, lineage

TITLE = "\x1b]0;pwned\x07"  # would retitle a terminal window
OVERWRITE = "ok\rFAKE"  # would print FAKE over ok


def test_control_characters_are_written_as_their_escapes_tabs_and_newlines_kept() -> None:
    raw = io.StringIO()
    writer = EscapingWriter(raw)  # type: ignore[arg-type]

    assert writer.write(f"a\tb {TITLE} {OVERWRITE} \x9b2J\n") == len(
        f"a\tb {TITLE} {OVERWRITE} \x9b2J\n"
    )

    assert raw.getvalue() == "a\tb \\x1b]0;pwned\\x07 ok\\rFAKE \\x9b2J\n"


def test_a_recorded_command_holding_escape_sequences_is_printed_escaped(git_repo: Path) -> None:
    sh("lineage", "init", "--no-gitignore", cwd=git_repo)
    commit_all(git_repo, "Set up lineage")
    lineage(git_repo, "run", "--", "true", TITLE, OVERWRITE)

    run = lineage(git_repo, "log").stdout.split()[2]

    for args in (("log",), ("show", run), ("show", run, "--json")):
        out = lineage(git_repo, *args).stdout
        assert "\x1b" not in out and "\r" not in out and "\x07" not in out, args
    assert "\\x1b]0;pwned\\x07 ok\\rFAKE" in lineage(git_repo, "show", run).stdout
