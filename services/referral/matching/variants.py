"""Given-name variants: Amy and Amelia, Bill and William, Alfie and Alfred.

The table is the maintained ``nicknames`` data set (hand-curated English names and their
nicknames), plus a short list of forms common for children in the UK that it lacks.
Two names are variants when one is a nickname of the other, or both are nicknames of the
same name (Liz and Beth, both Elizabeth).
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
    namer = NickNamer()
    related: dict[str, set[str]] = defaultdict(set)
    nicknames_of: dict[str, set[str]] = defaultdict(set)
    for canonical, nicknames in namer.nickname_lookup.items():
        nicknames_of[canonical] |= nicknames
    for nickname, canonical in UK_VARIANTS:
        nicknames_of[canonical].add(nickname)
    for canonical, nicknames in nicknames_of.items():
        group = {canonical, *nicknames}
        for name in group:
            related[name] |= group
    return {name: frozenset(group - {name}) for name, group in related.items()}


def variants_of(name: str) -> frozenset[str]:
    """Every known variant of a (folded, lower-case) given name, without the name itself."""
    return _table().get(name, frozenset())


def are_variants(first: str, second: str) -> bool:
    """Whether two different (folded) given names are known forms of one name."""
    return second in variants_of(first)
