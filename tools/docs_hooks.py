"""mkdocs hooks: the command-line reference, generated at build time.

docs/reference/cli.md holds a marker that is replaced by every command and
subcommand of ``embforge.cli.build_parser()``, each with its ``--help`` text,
so the page cannot drift from the program. The parser comes from the
installed embforge (``pip install ".[docs]"`` installs it), falling back to
this checkout's ``python/`` tree when that is where a developer built it.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Iterator, List, Tuple

MARKER = "<!-- embforge-cli-reference -->"
HELP_COLUMNS = "88"  # argparse wraps to $COLUMNS; fixed so the page is the same on every machine


def _build_parser() -> argparse.ArgumentParser:
    try:
        from embforge.cli import build_parser
    except ImportError:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        sys.path.insert(0, os.path.join(root, "python"))
        try:
            from embforge.cli import build_parser
        except ImportError as error:
            raise ImportError(f"the command-line reference needs an importable embforge "
                              f"({error}): pip install '.[docs]', or build it in place with "
                              "tools/dev_build.sh") from error
    return build_parser()


def _subcommands(parser: argparse.ArgumentParser) -> List[Tuple[str, str, argparse.ArgumentParser]]:
    """(name, one-line help, parser) of each subcommand, in the parser's order."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, sub in action.choices.items():
                found.append((name, helps.get(name, ""), sub))
    return found


def _walk(parser: argparse.ArgumentParser, path: Tuple[str, ...]) -> Iterator[
        Tuple[Tuple[str, ...], str, argparse.ArgumentParser]]:
    for name, summary, sub in _subcommands(parser):
        yield path + (name,), summary, sub
        yield from _walk(sub, path + (name,))


def _anchor(path: Tuple[str, ...]) -> str:
    return "-".join(path)


def _help_text(parser: argparse.ArgumentParser) -> str:
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_COLUMNS
    try:
        return parser.format_help().rstrip()
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous


def cli_reference() -> str:
    parser = _build_parser()
    commands = list(_walk(parser, ("embforge",)))
    lines = ["| command | what it does |", "| --- | --- |"]
    for path, summary, _ in commands:
        lines.append(f"| [`{' '.join(path)}`](#{_anchor(path)}) | {summary} |")
    lines += ["", "## `embforge`", "", "```text", _help_text(parser), "```", ""]
    for path, _, sub in commands:
        depth = "#" * min(len(path), 4)
        lines += [f"{depth} `{' '.join(path)}` {{ #{_anchor(path)} }}", "",
                  "```text", _help_text(sub), "```", ""]
    return "\n".join(lines)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, cli_reference())
