"""Walk an argparse parser tree and list what its ``--help`` would show badly."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator

# Markup that reads as noise in a terminal: ``literal``, `ticks`, :role:`target`, *emphasis* marks.
RST_MARKUP = re.compile(r"``|`|:[a-z]+:`|\*\*")


def walk(parser: argparse.ArgumentParser) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every parser of the tree with its command path (``gitops policy test``)."""
    yield parser.prog, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):  # aliases map to one parser
                yield from walk(child)


def problems(parser: argparse.ArgumentParser) -> list[str]:
    """One line per option without help, and per text (help or description) with markup."""
    found: list[str] = []
    for prog, each in walk(parser):
        texts = {"description": each.description or ""}
        for action in each._actions:
            name = "/".join(action.option_strings) or str(action.metavar or action.dest)
            if action.help is None or not action.help.strip():
                found.append(f"{prog} {name}: no help")
            elif action.help != argparse.SUPPRESS:
                texts[name] = action.help
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    if not choice.help:
                        found.append(f"{prog} {choice.dest}: no help in the command list")
                    else:
                        texts[f"{choice.dest} (command list)"] = choice.help
        found += [
            f"{prog} {name}: markup in {text!r}"
            for name, text in texts.items()
            if RST_MARKUP.search(text)
        ]
    return found
