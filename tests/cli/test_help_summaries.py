"""Command listings (`xrm --help`, `xrm records --help`, plugins' groups) show each command's
first sentence whole: click cut summaries to the width beside the longest name, with "..."."""
from __future__ import annotations

import click
from click.testing import CliRunner

from xrm_core.cli.main import build_cli


def _groups(group: click.Group, path=()):
    yield path, group
    for name, cmd in sorted(group.commands.items()):
        if isinstance(cmd, click.Group):
            yield from _groups(cmd, path + (name,))


def test_no_command_summary_is_cut():
    cli = build_cli()  # with the installed plugins' commands
    groups = list(_groups(cli))
    assert len(groups) > 8  # the core's groups and the plugins'
    for path, group in groups:
        result = CliRunner().invoke(cli, [*path, "--help"], terminal_width=80)
        assert result.exit_code == 0, result.output
        listing = result.output.split("Commands:", 1)[1]
        assert "..." not in listing, f"xrm {' '.join(path)} --help:\n{listing}"
        shown = " ".join(listing.split())
        for name, cmd in group.commands.items():
            summary = cmd.get_short_help_str()
            assert f"{name} {summary}" in shown, (path, name)  # whole, wrapped if need be
            if cmd.help and not cmd.help.lstrip().startswith(summary.rstrip(".")[:20]):
                continue  # a summary of its own (``short_help=``)
            assert not summary.endswith("..."), (path, name)


def test_a_long_first_sentence_is_cut_at_the_limit_only():
    from xrm_core.cli import main
    group = click.Group("g", commands=[click.Command("c", help="word " * 60 + "end.")])
    main._whole_summaries(group)
    summary = group.commands["c"].short_help
    assert summary.endswith("...") and len(summary) <= main.SUMMARY_LIMIT
