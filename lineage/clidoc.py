"""Generate docs/cli.md from the commands' own --help, so the reference never drifts."""

from __future__ import annotations

import click

from lineage.cli import cli


def _help(command: click.Command, path: list[str]) -> str:
    with click.Context(command, info_name=" ".join(path)) as ctx:
        return command.get_help(ctx)


def render() -> str:
    parts = [
        "# CLI reference\n",
        "Generated from `lineage --help` by `python -m lineage.clidoc > docs/cli.md`; "
        "a test fails when it is out of date.\n",
        "## lineage\n",
        f"```\n{_help(cli, ['lineage'])}\n```\n",
    ]
    assert isinstance(cli, click.Group)
    _commands(cli, ["lineage"], parts)
    return "\n".join(parts)


def _commands(group: click.Group, path: list[str], parts: list[str]) -> None:
    """Every visible command of ``group``, a subgroup's own commands right after it."""
    for name in sorted(group.commands):
        command = group.commands[name]
        if command.hidden:
            continue
        parts.append(f"## {' '.join([*path, name])}\n")
        parts.append(f"```\n{_help(command, [*path, name])}\n```\n")
        if isinstance(command, click.Group):
            _commands(command, [*path, name], parts)


if __name__ == "__main__":
    click.echo(render(), nl=False)
