"""Running the real console script on a terminal (a pseudo-terminal with a window size), and
reading what the user's screen shows afterwards: progress bars are drawn only on a terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import termios
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Shown:
    code: int
    raw: str  # every byte written to the terminal (bars included, "\r\n" as the tty makes it)

    @property
    def screen(self) -> list[str]:
        """The lines left on screen: each "\\r" returns to the line's start, later text
        overwrites earlier, trailing blanks dropped (how an erased bar disappears)."""
        lines = []
        for line in self.raw.replace("\r\n", "\n").split("\n"):
            cells: list[str] = []
            col = 0
            for char in line:
                if char == "\r":
                    col = 0
                    continue
                cells[col : col + 1] = [char]
                col += 1
            lines.append("".join(cells).rstrip())
        return lines

    def bars(self, desc: str) -> list[str]:
        """Each drawing of the bar named ``desc`` (the text between carriage returns)."""
        return [p for p in re.split(r"[\r\n]", self.raw) if p.startswith(f"{desc}:")]

    @property
    def carriage_returns(self) -> int:
        """Carriage returns that are not a line end: what only a bar writes."""
        return self.raw.replace("\r\n", "\n").count("\r")


def in_terminal(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], columns: int = 120
) -> Shown:
    """Run ``argv`` with stdin, stdout and stderr on one pseudo-terminal ``columns`` wide
    (tqdm draws nothing on a 0-column terminal), and return what it wrote there."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: only system calls until exec
        try:
            fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
            os.chdir(cwd)
            os.execvpe(argv[0], list(argv), dict(env))
        finally:
            os._exit(127)
    chunks = []
    try:
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the child closed its end and all was read
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
        _, status = os.waitpid(pid, 0)
    return Shown(os.waitstatus_to_exitcode(status), b"".join(chunks).decode(errors="replace"))
