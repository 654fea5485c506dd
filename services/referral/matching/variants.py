"""Given-name variants: Amy and Amelia, Bill and William, Alfie and Alfred.

The table is the maintained ``nicknames`` data set (hand-curated English names and their
nicknames), plus a short list of forms common for children in the UK that it lacks.
Two names are variants when one is a nickname of the other, or both are nicknames of one
name and begin alike (Ollie and Olly; but not Daisy and Megan, though both are Margaret).
"""

from __future__ import annotations

from collections import defaultdict
from functools import cache

from nicknames import NickNamer

UK_VARIANTS = (
    ("alfie", "alfred"),
    ("freddie", "alfred"),
    ("freddie", "frederick"),
    ("olly", "oliver"),
    ("ollie", "oliver"),
    ("izzy", "isabella"),
    ("izzy", "isabelle"),
    ("izzy", "isobel"),
    ("issy", "isabelle"),
    ("bella", "isabelle"),
    ("evie", "eve"),
    ("evie", "evelyn"),
    ("maddie", "madison"),
    ("maddie", "madeleine"),
    ("poppy", "penelope"),
    ("archie", "archibald"),
    ("charlie", "charlotte"),
    ("lottie", "charlotte"),
    ("ellie", "eleanor"),
    ("ellie", "ellen"),
    ("nell", "eleanor"),
    ("harry", "harrison"),
    ("teddy", "edward"),
    ("teddy", "theodore"),
    ("theo", "theodore"),
    ("sammy", "samuel"),
    ("jamie", "james"),
    ("josh", "joshua"),
    ("joey", "joseph"),
    ("benji", "benjamin"),
    ("alex", "alexander"),
    ("alex", "alexandra"),
    ("lexi", "alexandra"),
    ("zac", "zachary"),
    ("zak", "zachary"),
    ("mo", "mohammed"),
    ("mo", "muhammad"),
    ("mohammed", "muhammad"),
    ("mohammad", "muhammad"),
    ("mohamed", "mohammed"),
    ("abi", "abigail"),
    ("gabby", "gabriella"),
    ("katie", "katherine"),
    ("katie", "kathryn"),
    ("becca", "rebecca"),
    ("soph", "sophie"),
    ("lily", "lillian"),
    ("rosie", "rose"),
    ("georgie", "georgia"),
    ("liam", "william"),
    ("millie", "amelia"),
    ("milly", "amelia"),
    ("jake", "jacob"),
    ("kai", "malakai"),
    ("frankie", "francesca"),
    ("tilly", "matilda"),
    ("mattie", "matilda"),
    ("ruby", "reuben"),
    ("seb", "sebastian"),
    ("max", "maximilian"),
)


@cache
def _table() -> dict[str, frozenset[str]]:
    related: dict[str, set[str]] = defaultdict(set)
    pairs = [
        (nickname, canonical)
        for canonical, nicknames in NickNamer().nickname_lookup.items()
        for nickname in nicknames
    ]
    nicknames_of: dict[str, set[str]] = defaultdict(set)
    for nickname, canonical in [*pairs, *UK_VARIANTS]:
        if nickname != canonical:
            related[nickname].add(canonical)
            related[canonical].add(nickname)
            nicknames_of[canonical].add(nickname)
    for nicknames in nicknames_of.values():
        for one in nicknames:
            related[one] |= {other for other in nicknames if other[:2] == one[:2] != ""}
            related[one].discard(one)
    return {name: frozenset(group) for name, group in related.items()}


def variants_of(name: str) -> frozenset[str]:
    """Every known variant of a (folded, lower-case) given name, without the name itself."""
    return _table().get(name, frozenset())


def are_variants(first: str, second: str) -> bool:
    """Whether two different (folded) given names are known forms of one name."""
    return second in variants_of(first)
