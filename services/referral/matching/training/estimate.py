"""Estimate the match model from a synthetic population (writes model.json).

    python -m services.referral.matching.training.estimate  # writes ../model.json

- u (P(level | different people)) from random pairs of records: almost every random pair
  is two different children, so no labels are needed.
- m (P(level | same person)) by expectation-maximisation over the candidate pairs that
  blocking produces, with u held fixed, in two sessions so that no field is estimated on
  pairs that were chosen for agreeing on it: pairs sharing a date of birth estimate the
  names, sex and identifiers (not the address: twins share it and would pass for one
  child); pairs sharing name codes estimate the date of birth, postcode, address, sex
  and identifiers (fields estimated twice are averaged). Labels are
  not used; they only report how close the estimates came to the truth.
- The thresholds from a labelled validation population (another seed), by simulating
  intake: upper is the lowest weight above which at most 1 in 1,000 best candidates is
  another child, and no 3-bit band above it has more than 2 in 100 (so a region of thin
  evidence is not carried by the clear matches above it); lower is the weight below
  which 0.5% of the true best candidates fall.
"""

from __future__ import annotations

import argparse
import json
import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from itertools import combinations
from pathlib import Path
from typing import Any

from services.referral.matching import compare
from services.referral.matching.blocking import birthday_key, blocking_keys
from services.referral.matching.decide import shares_identifier
from services.referral.matching.model import MatchModel, household_share, shows_households
from services.referral.matching.normalise import prepare
from services.referral.matching.records import PersonRecord
from services.referral.matching.training.simulate import MemoryIndex
from services.referral.matching.training.synthetic import LabelledRecord, labelled_records

Pattern = tuple[tuple[str, str], ...]
Table = dict[str, dict[str, float]]


def _birthday(record: PersonRecord) -> set[str]:
    born = prepare(record).date_of_birth
    return {birthday_key(born)} if born else set()


def _name_codes(record: PersonRecord) -> set[str]:
    return {key for key in blocking_keys(record) if key.startswith("np:")}


# session -> (the pairs it looks at: records sharing such a key, the fields it estimates)
SESSIONS: dict[str, tuple[Callable[[PersonRecord], set[str]], tuple[str, ...]]] = {
    "date of birth": (_birthday, ("given_name", "family_name", "sex", "nhs_number", "upn")),
    "name codes": (
        _name_codes,
        ("date_of_birth", "sex", "postcode", "address", "nhs_number", "upn"),
    ),
}
BAND = 3.0  # bits: width of the weight band checked just above a candidate upper threshold
MAX_BLOCK = 300  # larger blocks are sampled, so no block dominates
PRIOR_M: Table = {
    field: {
        level: (0.8 if index == 0 else 0.2 / (len(levels) - 2))
        for index, level in enumerate(levels)
        if level != "missing"
    }
    for field, levels in compare.LEVELS.items()
}


def _levels(
    first: PersonRecord, second: PersonRecord, partly_crossed: bool = False
) -> dict[str, str]:
    levels = compare.all_levels(prepare(first), prepare(second), partly_crossed)
    levels.pop("swapped", None)
    return levels


def estimate_u(
    records: list[PersonRecord], pairs: int, rng: random.Random, partly_crossed: bool = False
) -> Table:
    """u per field and level from random pairs (half a count added to every level);
    ``partly_crossed``: see compare.all_levels."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for _ in range(pairs):
        first, second = rng.sample(range(len(records)), 2)
        for field, level in _levels(records[first], records[second], partly_crossed).items():
            if level != "missing":
                counts[field][level] += 1
    return _normalised(counts)


def _normalised(counts: Mapping[str, Mapping[str, float]]) -> Table:
    table: Table = {}
    for field, levels in compare.LEVELS.items():
        present = [level for level in levels if level != "missing"]
        seen = counts.get(field, {})
        total = sum(seen.get(level, 0.0) for level in present) + 0.5 * len(present)
        table[field] = {level: (seen.get(level, 0.0) + 0.5) / total for level in present}
    return table


def candidate_patterns(
    records: list[PersonRecord],
    keys_of: Callable[[PersonRecord], set[str]],
    fields: tuple[str, ...],
    rng: random.Random,
    partly_crossed: bool = False,
) -> Counter[Pattern]:
    """Comparison patterns of record pairs that share a key."""
    blocks: dict[str, list[int]] = defaultdict(list)
    for number, record in enumerate(records):
        for key in keys_of(record):
            blocks[key].append(number)
    patterns: Counter[Pattern] = Counter()
    seen: set[tuple[int, int]] = set()
    for members in blocks.values():
        chosen = members if len(members) <= MAX_BLOCK else rng.sample(members, MAX_BLOCK)
        for first, second in combinations(chosen, 2):
            if (first, second) in seen:
                continue
            seen.add((first, second))
            levels = _levels(records[first], records[second], partly_crossed)
            patterns[tuple((field, levels[field]) for field in fields)] += 1
    return patterns


def expectation_maximisation(
    patterns: Counter[Pattern], u: Table, iterations: int = 60
) -> tuple[Table, float]:
    """m per field and level and the share of matches, with u held fixed."""
    m: Table = {field: dict(levels) for field, levels in PRIOR_M.items()}
    share = 0.1
    for _ in range(iterations):
        counts: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        matched = 0.0
        total = 0
        for pattern, count in patterns.items():
            if_match, if_not = share, 1 - share
            for field, level in pattern:
                if level != "missing":
                    if_match *= m[field][level]
                    if_not *= u[field][level]
            posterior = if_match / (if_match + if_not)
            matched += posterior * count
            total += count
            for field, level in pattern:
                if level != "missing":
                    counts[field][level] += posterior * count
        share = min(max(matched / total, 1e-6), 1 - 1e-6)
        fields = {field for pattern in patterns for field, _ in pattern}
        estimated = _normalised(counts)
        for field in fields:
            m[field] = estimated[field]
    return m, share


def true_m(labelled: list[LabelledRecord]) -> Table:
    """m measured from the labels (for reporting only): all pairs of each child's records."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    by_person: dict[str, list[PersonRecord]] = defaultdict(list)
    for item in labelled:
        by_person[item.person_id].append(item.record)
    for records in by_person.values():
        for first, second in combinations(records, 2):
            for field, level in _levels(first, second).items():
                if level != "missing":
                    counts[field][level] += 1
    return _normalised(counts)


def best_candidates(
    model: MatchModel, labelled: list[LabelledRecord]
) -> list[tuple[float, bool, bool]]:
    """For each arriving record without an identifier match: the best candidate person's
    weight, whether a field contradicts it, and whether it is the same child."""
    index = MemoryIndex()
    found: list[tuple[float, bool, bool]] = []
    for item in labelled:
        best: tuple[float, bool, bool] | None = None
        identified = False
        for number in index.candidates(item.record):
            candidate = index.records[number]
            if shares_identifier(item.record, candidate):
                identified = True
                break
            score = model.score(item.record, candidate)
            if best is None or score.total_weight > best[0]:
                same = index.people[number] == item.person_id
                best = (score.total_weight, model.contradicted(score), same)
        if best is not None and not identified:
            found.append(best)
        index.add(item.record, item.person_id)
    return found


def thresholds(
    best: list[tuple[float, bool, bool]],
    wrong_share: float = 0.001,
    band_wrong_share: float = 0.02,
    lost_share: float = 0.005,
) -> tuple[float, float]:
    """(lower, upper) from labelled best candidates (see the module docstring)."""
    linkable = [(weight, same) for weight, contradicted, same in best if not contradicted]
    if not linkable:
        return 0.0, 0.0
    steps = [
        step / 2
        for step in range(
            math.floor(min(w for w, _ in linkable) * 2),
            math.ceil(max(w for w, _ in linkable) * 2) + 1,
        )
    ]
    upper = steps[-1]
    for threshold in reversed(steps):
        above = [same for weight, same in linkable if weight >= threshold]
        band = [same for weight, same in linkable if threshold <= weight < threshold + BAND]
        if above and above.count(False) / len(above) > wrong_share:
            break
        if band and band.count(False) / len(band) > band_wrong_share:
            break
        upper = threshold
    true_weights = sorted(weight for weight, _, same in best if same)
    lower = true_weights[int(len(true_weights) * lost_share)] if true_weights else upper
    return math.floor(min(lower, upper) * 2) / 2, upper


def m_and_u(
    records: list[PersonRecord], random_pairs: int, rng: random.Random, households: float
) -> tuple[Table, Table, dict[str, float]]:
    """m and u from unlabelled records (see the module docstring), and the match share
    each EM session found. ``households`` is the records' household_share: names are
    compared partly crossed where it shows no households, as ``MatchModel`` compares them."""
    crossed = not shows_households(households)
    u = estimate_u(records, random_pairs, rng, crossed)
    sessions: dict[str, Table] = {}
    shares: dict[str, float] = {}
    for session, (keys_of, fields) in SESSIONS.items():
        patterns = candidate_patterns(records, keys_of, fields, rng, crossed)
        sessions[session], shares[session] = expectation_maximisation(patterns, u)
    m: Table = {}
    for field in compare.LEVELS:
        estimates = [
            sessions[session][field] for session, (_, fields) in SESSIONS.items() if field in fields
        ]
        m[field] = {
            level: sum(table[level] for table in estimates) / len(estimates)
            for level in estimates[0]
        }
    return m, u, shares


def fit_to_data(
    model: MatchModel, records: list[PersonRecord], seed: int = 1, random_pairs: int = 200_000
) -> MatchModel:
    """The model with m, u and the sibling share estimated afresh from a data set's own
    unlabelled records (as a linker is trained on the data it links), keeping the
    thresholds: the same method as the packaged model, on other data."""
    rng = random.Random(seed)  # noqa: S311 - reproducible sampling, not secrets
    households = household_share(records)
    m, u, shares = m_and_u(records, random_pairs, rng, households)
    about = {**model.about, "fitted_to": f"{len(records)} records", "em_match_share": shares}
    return MatchModel(m, u, model.lower, model.upper, about, households)


def _rounded(table: Table) -> Table:
    return {
        field: {level: round(p, 6) for level, p in levels.items()}
        for field, levels in table.items()
    }


def estimate(people: int, seed: int, random_pairs: int, validation_people: int) -> dict[str, Any]:
    rng = random.Random(seed)  # noqa: S311 - reproducible sampling, not secrets
    labelled = labelled_records(people, seed)
    records = [item.record for item in labelled]
    households = household_share(records)
    m, u, shares = m_and_u(records, random_pairs, rng, households)
    provisional = MatchModel(m=m, u=u, lower=0.0, upper=0.0)
    validation = labelled_records(validation_people, seed + 1)
    lower, upper = thresholds(best_candidates(provisional, validation))
    model = MatchModel(
        m=_rounded(m),
        u=_rounded(u),
        lower=lower,
        upper=upper,
        households=round(households, 4),
        about={
            "command": (
                "python -m services.referral.matching.training.estimate"
                f" --people {people} --seed {seed} --random-pairs {random_pairs}"
                f" --validation-people {validation_people}"
            ),
            "records": len(records),
            "households": (
                "share of records with a sibling (same family name and address, given name"
                " and date of birth both different): the household rules hold from 0.01"
            ),
            "u": f"{random_pairs} random record pairs",
            "m": "EM over candidate pairs, u fixed; sessions by date of birth and name codes",
            "em_match_share": {session: round(share, 5) for session, share in shares.items()},
            "thresholds": (
                "from a labelled validation population (seed + 1): upper = lowest weight "
                "with <= 0.1% wrong best candidates above it and <= 2% in any 3-bit band "
                "above it; lower = weight with 0.5% of true best candidates below it"
            ),
            "m_from_labels": _rounded(true_m(labelled)),
        },
    )
    return model.to_json()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent.parent / "model.json"
    )
    parser.add_argument("--people", type=int, default=60_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--random-pairs", type=int, default=400_000)
    parser.add_argument("--validation-people", type=int, default=20_000)
    args = parser.parse_args(argv)
    data = estimate(args.people, args.seed, args.random_pairs, args.validation_people)
    args.out.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"lower {data['lower']}, upper {data['upper']}; written to {args.out}")
    for field, levels in data["weights"].items():
        print(
            f"  {field:14}", "  ".join(f"{level} {weight:+.1f}" for level, weight in levels.items())
        )


if __name__ == "__main__":
    main()
