"""A seeded, labelled population of synthetic children and their agencies' records.

``labelled_records(people, seed)`` makes households of children (siblings share a
family name and address; some are twins, who also share a date of birth), then one to
four records per child as police, health, schools and social care would hold them, each
with realistic corruption: nicknames, typos, initials, swapped names, double-barrelled
and changed family names, transposed and one-digit-off dates of birth, a house move,
missing fields and identifiers. Every record carries the true person id, so linkage
can be scored. NHS numbers are from the 999 test range with valid check digits and UPNs
have valid check letters. The same arguments always give the same records.
"""

from __future__ import annotations

import math
import random
import string
from bisect import bisect
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import accumulate

from stdnum.gb import upn as stdnum_upn

from services.referral.matching import names
from services.referral.matching.compare import names_close
from services.referral.matching.normalise import fold
from services.referral.matching.records import PersonRecord
from services.referral.matching.variants import are_variants, variants_of

TODAY = date(2026, 9, 1)
OLDEST_DAYS = 18 * 365
POSTCODE_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


@dataclass(frozen=True)
class Address:
    postcode: str
    line1: str


@dataclass(frozen=True)
class Child:
    """The truth about one synthetic child."""

    person_id: str
    household: int
    twin_of: str | None
    given_name: str
    other_names: tuple[str, ...]
    family_name: str
    date_of_birth: date
    sex: str
    addresses: tuple[Address, ...]  # the first is where the child lives now
    nhs_number: str | None
    upn: str | None


@dataclass(frozen=True)
class LabelledRecord:
    """One agency's record of a child, with the child's true person id."""

    person_id: str
    household: int
    source: str
    record: PersonRecord


class _Zipf:
    """Draws from a list, most frequent first, P(rank k) proportional to 1/k**exponent."""

    def __init__(self, items: tuple[str, ...] | list[str], exponent: float) -> None:
        self.items = list(items)
        self.cumulative = list(accumulate(1 / (k**exponent) for k in range(1, len(items) + 1)))

    def draw(self, rng: random.Random) -> str:
        return self.items[bisect(self.cumulative, rng.random() * self.cumulative[-1])]


_GIRLS = _Zipf(names.GIRLS, 0.5)
_BOYS = _Zipf(names.BOYS, 0.5)
_SURNAMES = _Zipf(names.SURNAMES, 0.5)


def _made_up_surname(rng: random.Random) -> str:
    return rng.choice(names.SYLLABLES_START) + rng.choice(names.SYLLABLES_END)


def _made_up_given(rng: random.Random) -> str:
    start = rng.choice(names.SYLLABLES_START)
    return start + rng.choice(("a", "ie", "o", "en", "ia", "an", "y", "is"))


def _surname(rng: random.Random) -> str:
    return _SURNAMES.draw(rng) if rng.random() < 0.45 else _made_up_surname(rng)


def _given(rng: random.Random, sex: str) -> str:
    if rng.random() < 0.12:
        return _made_up_given(rng)
    return (_GIRLS if sex == "F" else _BOYS).draw(rng)


def _distinct_given(rng: random.Random, sex: str, taken: list[str]) -> str:
    """A given name unlike every sibling's (not equal, not a variant, not one typo away:
    twins named Ava and Ada can only be told apart by their identifiers)."""
    while True:
        name = _given(rng, sex)
        folded = fold(name)
        if all(
            folded != fold(other)
            and not are_variants(folded, fold(other))
            and not names_close(folded, fold(other))
            for other in taken
        ):
            return name


def _nhs_numbers(rng: random.Random, count: int) -> list[str | None]:
    """Distinct valid NHS numbers from the 999 test range (about 909,000 exist)."""
    wanted = min(count, 900_000)
    drawn = rng.sample(range(1_000_000), min(1_000_000, int(wanted * 1.12) + 50))
    numbers: list[str | None] = []
    for body in drawn:
        digits = f"999{body:06d}"
        total = sum(int(d) * w for d, w in zip(digits, range(10, 1, -1), strict=True))
        check = (11 - total % 11) % 11
        if check != 10:
            numbers.append(digits + str(check))
        if len(numbers) == wanted:
            break
    return numbers + [None] * (count - len(numbers))


def _upn(index: int, born: date) -> str:
    local_authority = names.LOCAL_AUTHORITY_CODES[index % len(names.LOCAL_AUTHORITY_CODES)]
    school = 2000 + (index // 1000) % 8000
    serial = index % 1000
    body = f"{local_authority:03d}{school:04d}{(born.year + 5) % 100:02d}{serial:03d}"
    return stdnum_upn.calc_check_digit(body) + body


class _Places:
    """Postcodes (about 12 households each) grouped in sectors and districts."""

    def __init__(self, rng: random.Random, households: int) -> None:
        self.rng = rng
        postcodes = max(1, households // 12)
        districts = max(4, math.ceil(postcodes / 240))
        areas = names.AREAS
        self.districts = [f"{areas[i % len(areas)]}{1 + i // len(areas)}" for i in range(districts)]
        self.postcodes: list[tuple[str, str]] = []  # (postcode, street)
        seen: set[str] = set()
        while len(self.postcodes) < postcodes:
            district = rng.choice(self.districts)
            code = f"{district} {rng.randrange(10)}{rng.choice(POSTCODE_LETTERS)}"
            code += rng.choice(POSTCODE_LETTERS)
            if code in seen:
                continue
            seen.add(code)
            street = f"{rng.choice(names.STREETS)} {rng.choice(names.STREET_TYPES)}"
            self.postcodes.append((code, street))
        self.next_number = [1] * len(self.postcodes)

    def address(self, near: str | None = None) -> Address:
        index = self.rng.randrange(len(self.postcodes))
        if near is not None and self.rng.random() < 0.6:
            district = near.split(" ")[0]
            for _ in range(20):
                index = self.rng.randrange(len(self.postcodes))
                if self.postcodes[index][0].startswith(district + " "):
                    break
        postcode, street = self.postcodes[index]
        number = self.next_number[index]
        self.next_number[index] += self.rng.choice((1, 2))
        return Address(postcode, f"{number} {street}")


def population(people: int, seed: int) -> list[Child]:
    """About ``people`` children in households (siblings, twins), deterministic by seed."""
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    places = _Places(rng, max(1, people // 2))
    nhs_numbers = _nhs_numbers(rng, people + 8)
    children: list[Child] = []
    household = 0
    while len(children) < people:
        household += 1
        size = rng.choices((1, 2, 3, 4), weights=(40, 35, 17, 8))[0]
        size = min(size, people - len(children))
        surname = _surname(rng)
        if rng.random() < 0.06:
            surname = f"{surname}-{_surname(rng)}"
        home = places.address()
        moved_to = places.address(near=home.postcode) if rng.random() < 0.2 else None
        taken: list[str] = []
        born = TODAY - timedelta(days=rng.randrange(OLDEST_DAYS))
        twins = size >= 2 and rng.random() < 0.1
        for position in range(size):
            if position > 0 and not (twins and position == 1):
                born = born + timedelta(days=rng.randrange(365, 5 * 365))
                if born > TODAY:
                    born = TODAY - timedelta(days=rng.randrange(OLDEST_DAYS))
            sex = rng.choice("FM")
            given = _distinct_given(rng, sex, taken)
            taken.append(given)
            middle = _given(rng, sex)
            others = (middle,) if rng.random() < 0.6 and middle != given else ()
            family = surname if rng.random() > 0.08 else _surname(rng)  # half-siblings
            index = len(children)
            person_id = f"P{seed}-{index:07d}"
            addresses = (moved_to, home) if moved_to else (home,)
            upn = _upn(index, born) if (TODAY - born).days > 4 * 365 else None
            children.append(
                Child(
                    person_id=person_id,
                    household=household,
                    twin_of=children[-1].person_id if twins and position == 1 else None,
                    given_name=given,
                    other_names=others,
                    family_name=family,
                    date_of_birth=born,
                    sex=sex,
                    addresses=addresses,
                    nhs_number=nhs_numbers[index],
                    upn=upn,
                )
            )
    return children


# --- corruption -------------------------------------------------------------------------


def _typo(rng: random.Random, value: str) -> str:
    if len(value) < 3:
        return value
    at = rng.randrange(1, len(value))
    kind = rng.randrange(4)
    letter = rng.choice(string.ascii_lowercase)
    if kind == 0:
        return value[:at] + letter + value[at + 1 :]
    if kind == 1:
        return value[:at] + value[at + 1 :]
    if kind == 2:
        return value[:at] + letter + value[at:]
    if at < len(value) - 1:
        return value[:at] + value[at + 1] + value[at] + value[at + 2 :]
    return value[:at]


def _styled(rng: random.Random, value: str) -> str:
    """How different systems write the same name: capitals, no diacritics, no apostrophe."""
    roll = rng.random()
    if roll < 0.1:
        return value.upper()
    if roll < 0.15:
        return fold(value).replace("-", " ")
    if roll < 0.2:
        return value.lower()
    return value


def _given_as_recorded(rng: random.Random, child: Child) -> str | None:
    roll = rng.random()
    name = child.given_name
    if roll < 0.01:
        return None
    if roll < 0.13:
        known = sorted(known for known in variants_of(fold(name)) if len(known) > 2)
        if known:
            return rng.choice(known).capitalize()
    if roll < 0.18:
        return _typo(rng, name)
    if roll < 0.195:
        return name[0] + "."
    if roll < 0.205 and child.other_names:
        return child.other_names[0]
    return _styled(rng, name)


def _family_as_recorded(rng: random.Random, child: Child) -> str | None:
    roll = rng.random()
    name = child.family_name
    if roll < 0.015:
        return None
    if roll < 0.055:
        return _typo(rng, name)
    if roll < 0.095:
        parts = name.split("-")
        if len(parts) > 1:
            return rng.choice(parts)
        return f"{name}-{_surname(rng)}" if rng.random() < 0.5 else f"{_surname(rng)}-{name}"
    if roll < 0.115:
        return _surname(rng)  # changed family name
    return _styled(rng, name)


def _date_as_recorded(rng: random.Random, born: date) -> date | None:
    roll = rng.random()
    try:
        if roll < 0.02:
            return None
        if roll < 0.04 and born.day <= 12 and born.day != born.month:
            return born.replace(month=born.day, day=born.month)
        if roll < 0.07:
            digits = list(born.strftime("%Y%m%d"))
            at = rng.choice((3, 5, 6, 7))
            digits[at] = str((int(digits[at]) + rng.choice((1, 9))) % 10)
            text = "".join(digits)
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        if roll < 0.08:
            return born.replace(day=rng.randrange(1, 29))
        if roll < 0.085:
            return born - timedelta(days=rng.randrange(40, 3000))
    except ValueError:
        return born
    return born


def _address_as_recorded(rng: random.Random, address: Address) -> tuple[str | None, str | None]:
    postcode: str | None = address.postcode
    line1: str | None = address.line1
    if rng.random() < 0.05:
        postcode = None
    if rng.random() < 0.1:
        line1 = None
    elif rng.random() < 0.2 and line1 is not None:
        words = line1.split(" ")
        short = {"Street": "St", "Road": "Rd", "Avenue": "Ave", "Close": "Cl", "Lane": "Ln"}
        words[-1] = short.get(words[-1], words[-1])
        line1 = " ".join(words).upper() if rng.random() < 0.5 else " ".join(words) + ","
    return postcode, line1


SOURCES = {  # share of records from each source, P(NHS number), P(UPN | school age)
    "police": (0.35, 0.1, 0.0),
    "health": (0.3, 0.92, 0.0),
    "school": (0.25, 0.15, 0.9),
    "social_care": (0.1, 0.6, 0.3),
}


def _record(rng: random.Random, child: Child, source: str, sibling: Child | None) -> PersonRecord:
    _, p_nhs, p_upn = SOURCES[source]
    given = _given_as_recorded(rng, child)
    family = _family_as_recorded(rng, child)
    if rng.random() < 0.015:
        given, family = family, given
    address = child.addresses[0] if rng.random() < 0.6 else rng.choice(child.addresses)
    postcode, line1 = _address_as_recorded(rng, address)
    sex_roll = rng.random()
    sex: str | None = child.sex
    if sex_roll < 0.05:
        sex = None
    elif sex_roll < 0.08:
        sex = "U"
    elif sex_roll < 0.085:
        sex = "M" if child.sex == "F" else "F"
    nhs = child.nhs_number if rng.random() < p_nhs else None
    if nhs is not None and sibling is not None and rng.random() < 0.003:
        nhs = sibling.nhs_number  # the wrong child's number, as happens with siblings
    return PersonRecord(
        given_name=given,
        family_name=family,
        other_names=child.other_names if rng.random() < 0.5 else (),
        date_of_birth=_date_as_recorded(rng, child.date_of_birth),
        sex=sex,
        postcode=postcode,
        address_line1=line1,
        nhs_number=nhs,
        upn=child.upn if child.upn and rng.random() < p_upn else None,
    )


def records_of(children: list[Child], seed: int) -> list[LabelledRecord]:
    """One to four corrupted records per child, in a shuffled (arrival) order."""
    rng = random.Random(seed * 7919 + 1)  # noqa: S311 - reproducible test data
    by_household: dict[int, list[Child]] = {}
    for child in children:
        by_household.setdefault(child.household, []).append(child)
    sources = list(SOURCES)
    shares = [SOURCES[source][0] for source in sources]
    labelled: list[LabelledRecord] = []
    for child in children:
        siblings = [other for other in by_household[child.household] if other is not child]
        sibling = siblings[0] if siblings else None
        count = rng.choices((1, 2, 3, 4), weights=(35, 35, 20, 10))[0]
        for source in rng.choices(sources, weights=shares, k=count):
            record = _record(rng, child, source, sibling)
            labelled.append(LabelledRecord(child.person_id, child.household, source, record))
    rng.shuffle(labelled)
    return labelled


def labelled_records(people: int, seed: int) -> list[LabelledRecord]:
    """The labelled records of a population of ``people`` children."""
    return records_of(population(people, seed), seed)


def clean_record(child: Child) -> PersonRecord:
    """The child's true details as one record."""
    return PersonRecord(
        given_name=child.given_name,
        family_name=child.family_name,
        other_names=child.other_names,
        date_of_birth=child.date_of_birth,
        sex=child.sex,
        postcode=child.addresses[0].postcode,
        address_line1=child.addresses[0].line1,
        nhs_number=child.nhs_number,
        upn=child.upn,
    )


__all__ = [
    "Child",
    "LabelledRecord",
    "clean_record",
    "labelled_records",
    "population",
    "records_of",
]
