"""Intake simulated in memory over labelled records, and the quality of its links.

Records arrive one by one; each is blocked against the index built so far, scored,
and linked / sent to review / made a new person by ``best_match``. Quality is pairwise
over true same-person pairs: a predicted pair is two records given the same person.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from services.referral.matching.blocking import blocking_keys
from services.referral.matching.decide import best_match
from services.referral.matching.model import MatchModel
from services.referral.matching.records import PersonRecord
from services.referral.matching.training.synthetic import LabelledRecord


@dataclass(frozen=True)
class Quality:
    records: int
    true_pairs: int
    linked_pairs: int
    correct_pairs: int
    reviews: int
    wrong_household_pairs: int  # linked pairs of siblings or twins: the hard negatives
    seconds: float
    candidates_mean: float
    candidates_max: int

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.linked_pairs if self.linked_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    @property
    def review_share(self) -> float:
        return self.reviews / self.records if self.records else 0.0


def _pairs(sizes: Iterable[int]) -> int:
    return sum(size * (size - 1) // 2 for size in sizes)


class MemoryIndex:
    """Records by blocking key, each with the person it was given."""

    def __init__(self) -> None:
        self.by_key: dict[str, list[int]] = defaultdict(list)
        self.records: list[PersonRecord] = []
        self.people: list[str] = []

    def candidates(self, record: PersonRecord) -> list[int]:
        found: set[int] = set()
        for key in blocking_keys(record):
            found.update(self.by_key.get(key, ()))
        return sorted(found)

    def add(self, record: PersonRecord, person_id: str) -> None:
        index = len(self.records)
        self.records.append(record)
        self.people.append(person_id)
        for key in blocking_keys(record):
            self.by_key[key].append(index)


def simulate(
    model: MatchModel,
    labelled: list[LabelledRecord],
    reviews_decided: bool = False,
    known: Sequence[LabelledRecord] = (),
    households: bool | None = None,
) -> Quality:
    """Run intake over the records in order and measure its links.

    A review makes a new person (only automatic links count), or, with
    ``reviews_decided``, is decided rightly (the subject joins the candidate person when
    that person really is the same child). ``known`` records are in the index before the
    first arrives, each a person of its own (a file loaded as it is, e.g. FEBRL4's A);
    ``households`` is passed to ``best_match``. Pairs and the review share count the
    known records too, except that ``records`` (the denominator of the review share) is
    the arriving records only.
    """
    index = MemoryIndex()
    truths: dict[str, set[str]] = defaultdict(set)  # the true children behind each person
    for number, item in enumerate(known):
        index.add(item.record, f"known-{number}")
        truths[f"known-{number}"].add(item.person_id)
    reviews = 0
    sizes: list[int] = []
    started = time.perf_counter()
    for number, item in enumerate(labelled):
        found = index.candidates(item.record)
        sizes.append(len(found))
        decision, person_id, _ = best_match(
            model,
            item.record,
            ((index.people[i], index.records[i]) for i in found),
            households=households,
        )
        reviews += decision == "review"
        given = f"new-{number}"
        if person_id is not None and (
            decision == "link"
            or (decision == "review" and reviews_decided and item.person_id in truths[person_id])
        ):
            given = person_id
        truths[given].add(item.person_id)
        index.add(item.record, given)
    seconds = time.perf_counter() - started
    everyone = [*known, *labelled]
    linked = Counter(index.people)
    truth = Counter(item.person_id for item in everyone)
    both = Counter(zip(index.people, (item.person_id for item in everyone), strict=True))
    return Quality(
        records=len(labelled),
        true_pairs=_pairs(truth.values()),
        linked_pairs=_pairs(linked.values()),
        correct_pairs=_pairs(both.values()),
        reviews=reviews,
        wrong_household_pairs=_household_pairs(index.people, everyone),
        seconds=seconds,
        candidates_mean=sum(sizes) / len(sizes) if sizes else 0.0,
        candidates_max=max(sizes, default=0),
    )


def _household_pairs(people: list[str], labelled: Sequence[LabelledRecord]) -> int:
    groups: dict[str, list[LabelledRecord]] = defaultdict(list)
    for person_id, item in zip(people, labelled, strict=True):
        groups[person_id].append(item)
    wrong = 0
    for members in groups.values():
        for i, first in enumerate(members):
            for second in members[i + 1 :]:
                if first.person_id != second.person_id and first.household == second.household:
                    wrong += 1
    return wrong
