"""The documentation site's command-line page (tools/docs_hooks.py), built
from the argument parser: every command and subcommand gets a section, and
every option of every parser appears on the page. Needs no mkdocs."""
import argparse
import importlib.util
import os

from embforge.cli import build_parser

HOOKS = os.path.join(os.path.dirname(__file__), "..", "tools", "docs_hooks.py")


def load_hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", HOOKS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def all_parsers(parser, path=("embforge",)):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from all_parsers(sub, path + (name,))


def test_every_command_has_a_section():
    page = load_hooks().cli_reference()
    for command in ("vocab", "train", "eval", "similar", "cooccur", "finetune", "plot",
                    "plot history", "plot map", "plot eval"):
        anchor = "embforge-" + command.replace(" ", "-")
        assert f"## `embforge {command}` {{ #{anchor} }}" in page
        assert f"(#{anchor})" in page   # listed in the table at the top


def test_every_option_is_on_the_page():
    page = load_hooks().cli_reference()
    for path, parser in all_parsers(build_parser()):
        for action in parser._actions:
            for option in action.option_strings:
                assert option in page, (" ".join(path), option)


def test_the_page_replaces_only_its_marker():
    hooks = load_hooks()
    assert hooks.on_page_markdown("# other page\n", None, None, None) == "# other page\n"
    page = hooks.on_page_markdown(f"# Command line\n\n{hooks.MARKER}\n", None, None, None)
    assert hooks.MARKER not in page and "embforge train" in page
