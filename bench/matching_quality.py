"""Matching quality, blocking and scoring speed of the person-matching engine.

Run: .venv/bin/python bench/matching_quality.py [--sizes 2000,10000,40000] [--seed 11]
         [--blocking-sizes 100000,1000000] [--candidates 200] [--rounds 3]

Everything is in memory (no database); the person index's own bench measures it in
PostgreSQL and SQLite.

1. Quality, for each size (children in a synthetic labelled population, seeded,
   services.referral.matching.synthetic): records arrive one by one in a shuffled order;
   each is blocked against the index built so far, scored with the packaged model and
   linked / sent to review / made a new person by ``best_match``. Precision, recall and
   F1 are pairwise over true same-person record pairs, for automatic links only (a review
   makes a new person), then with every review decided rightly. "household" counts
   wrongly linked pairs of siblings or twins (the hard negatives).
2. Blocking, for each blocking size (children; about 2 records each): pair completeness
   (the share of true same-person pairs sharing at least one blocking key) and the
   candidate set of 2,000 sampled records (the other records sharing a key): mean, p99
   and max, with the largest single key. 1,000,000 children take about 4 minutes and
   2 GB of memory.
3. Speed: ``best_match`` of one subject against N candidates built afresh (as the index
   loads them), median over the rounds, against a baseline of N bare Jaro-Winkler calls
   on the given names (the least any fuzzy comparison per candidate costs).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rapidfuzz.distance import JaroWinkler

from services.referral.matching import MatchModel, best_match, blocking_keys
from services.referral.matching.training.simulate import simulate
from services.referral.matching.training.synthetic import labelled_records


def quality(model: MatchModel, sizes: list[int], seed: int) -> None:
    print(f"== quality (packaged model: lower {model.lower:.1f}, upper {model.upper:.1f})")
    print(
        f"{'children':>9} {'records':>8} {'precision':>9} {'recall':>7} {'F1':>6} "
        f"{'review':>7} {'household':>9} | {'after review: P':>15} {'R':>6} {'F1':>6} "
        f"{'cand. mean':>10} {'max':>4} {'s':>6}"
    )
    for size in sizes:
        labelled = labelled_records(size, seed)
        auto = simulate(model, labelled)
        decided = simulate(model, labelled, reviews_decided=True)
        print(
            f"{size:>9} {auto.records:>8} {auto.precision:>9.4f} {auto.recall:>7.4f} "
            f"{auto.f1:>6.4f} {auto.review_share:>7.2%} {auto.wrong_household_pairs:>9} | "
            f"{decided.precision:>15.4f} {decided.recall:>6.4f} {decided.f1:>6.4f} "
            f"{auto.candidates_mean:>10.1f} {auto.candidates_max:>4} {auto.seconds:>6.1f}"
        )


def blocking(sizes: list[int], seed: int) -> None:
    print("== blocking")
    print(
        f"{'children':>9} {'records':>8} {'pair completeness':>17} {'cand. mean':>10} "
        f"{'p99':>5} {'max':>5} {'largest key':>11} {'s':>6}"
    )
    for size in sizes:
        started = time.perf_counter()
        labelled = labelled_records(size, seed)
        keys = [blocking_keys(item.record) for item in labelled]
        by_key: dict[str, list[int]] = defaultdict(list)
        for number, record_keys in enumerate(keys):
            for key in record_keys:
                by_key[key].append(number)
        by_person: dict[str, list[int]] = defaultdict(list)
        for number, item in enumerate(labelled):
            by_person[item.person_id].append(number)
        pairs = met = 0
        for numbers in by_person.values():
            for i, first in enumerate(numbers):
                for second in numbers[i + 1 :]:
                    pairs += 1
                    met += bool(keys[first] & keys[second])
        rng = random.Random(seed)
        sizes_found = []
        for number in rng.sample(range(len(labelled)), min(2000, len(labelled))):
            found: set[int] = set()
            for key in keys[number]:
                found.update(by_key[key])
            sizes_found.append(len(found) - 1)
        sizes_found.sort()
        print(
            f"{size:>9} {len(labelled):>8} {met / pairs:>17.4f} "
            f"{statistics.fmean(sizes_found):>10.1f} "
            f"{sizes_found[int(len(sizes_found) * 0.99)]:>5} {sizes_found[-1]:>5} "
            f"{max(len(v) for v in by_key.values()):>11} {time.perf_counter() - started:>6.1f}"
        )
        del labelled, keys, by_key, by_person


def speed(model: MatchModel, candidates: int, rounds: int, seed: int) -> None:
    print(f"== speed: one subject against {candidates} candidates")
    labelled = labelled_records(max(1000, candidates), seed)
    subjects = [item.record for item in labelled[:50]]
    pool = [item.record for item in labelled[50 : 50 + candidates]]
    engine: list[float] = []
    baseline: list[float] = []
    for _ in range(rounds):
        fresh = [(f"p{n}", replace(record)) for n, record in enumerate(pool)]
        started = time.perf_counter()
        for subject in subjects:
            best_match(model, replace(subject), fresh)
        engine.append((time.perf_counter() - started) / len(subjects))
        started = time.perf_counter()
        for subject in subjects:
            given = subject.given_name or ""
            for _, record in fresh:
                JaroWinkler.normalized_similarity(given, record.given_name or "")
        baseline.append((time.perf_counter() - started) / len(subjects))
    first_seen = statistics.median(engine)
    print(
        f"best_match: {first_seen * 1000:.2f} ms per subject (records prepared on first"
        f" sight, cached after); baseline {statistics.median(baseline) * 1000:.3f} ms;"
        f" ratio {first_seen / statistics.median(baseline):.1f}"
    )
    cold = []
    for _ in range(rounds):
        started = time.perf_counter()
        for n, subject in enumerate(subjects):
            fresh = [
                (f"p{i}", replace(record, address_line1=f"{record.address_line1} {n}"))
                for i, record in enumerate(pool)
            ]
            best_match(model, subject, fresh)
        cold.append((time.perf_counter() - started) / len(subjects))
    print(f"best_match, every candidate new to the cache: {statistics.median(cold) * 1000:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="2000,10000,40000")
    parser.add_argument("--blocking-sizes", default="100000,1000000")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--candidates", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    model = MatchModel.load_default()
    speed(model, args.candidates, args.rounds, args.seed)
    quality(model, [int(size) for size in args.sizes.split(",") if size], args.seed)
    blocking([int(size) for size in args.blocking_sizes.split(",") if size], args.seed)


if __name__ == "__main__":
    main()
