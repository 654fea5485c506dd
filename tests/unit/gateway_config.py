"""The gateway's nginx configuration read into directives, for tests that check it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


CONFIG = ROOT / "deploy" / "nginx" / "mash.conf"


@dataclass
class Directive:
    """One nginx directive: its name, arguments, and the block it opens (if any)."""

    name: str
    args: list[str]
    children: list[Directive] = field(default_factory=list)

    def all(self, name: str) -> list[Directive]:
        return [d for d in self.children if d.name == name]

    def one(self, name: str) -> Directive:
        found = self.all(name)
        assert len(found) == 1, f"expected one {name!r} in {self.name}, found {len(found)}"
        return found[0]


# Whitespace, a comment, a quoted string, punctuation, or a word (which may hold ${NAME}).
_TOKEN = re.compile(
    r"""\s+|\#[^\n]*|'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|([{};])"""
    r"""|((?:\$\{\w+\}|[^\s{};'"#])+)"""
)


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        assert match, f"cannot read {CONFIG.name} at {text[position:position + 40]!r}"
        single, double, punctuation, word = match.groups()
        for value in (single, double, punctuation, word):
            if value is not None:
                tokens.append(value)
                break
        position = match.end()
    return tokens


def parse(text: str) -> Directive:
    """The whole file as a tree of directives (quotes, comments and blocks handled)."""
    stack: list[Directive] = [Directive("main", [])]
    words: list[str] = []
    for token in _tokens(text):
        if token == "{":
            opened = Directive(words[0], words[1:])
            stack[-1].children.append(opened)
            stack.append(opened)
            words = []
        elif token == ";":
            stack[-1].children.append(Directive(words[0], words[1:]))
            words = []
        elif token == "}":
            assert not words, f"unterminated directive {words}"
            stack.pop()
        else:
            words.append(token)
    assert len(stack) == 1 and not words, "unbalanced braces"
    return stack[0]
