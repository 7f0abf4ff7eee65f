"""Each flag fires on a household crafted for it and on no other; a clean household raises
none; the list is one query whatever the number of households."""

import pytest

from advisor.console import selectors
from advisor.core import clock
from tests.console.households import MUTATIONS, clean_household

pytestmark = pytest.mark.django_db

EVERYONE = selectors.Scope(adviser_id=None)


def _list(**kwargs):
    return selectors.household_list(EVERYONE, now=clock.now(), today=clock.today(), **kwargs)


def test_the_mutations_cover_every_flag() -> None:
    assert set(MUTATIONS) == set(selectors.FLAG_CODES)


def test_a_clean_household_raises_no_flag() -> None:
    account = clean_household("clean@example.com")
    (row,) = _list().rows
    assert row.id == account.owner_id
    assert row.flags == []
    assert row.value == pytest.approx(10_000.0)
    assert row.numbers["top_share"] == pytest.approx(0.19)


@pytest.mark.parametrize("code", selectors.FLAG_CODES)
def test_each_flag_fires_on_its_crafted_household_only(code: str) -> None:
    clean = clean_household("clean@example.com")
    crafted = clean_household(f"{code.replace('_', '-')}@example.com")
    MUTATIONS[code](crafted)
    listing = _list()
    flags = {row.id: row.flags for row in listing.rows}
    assert flags == {clean.owner_id: [], crafted.owner_id: [code]}
    assert listing.counts == {c: int(c == code) for c in selectors.FLAG_CODES}
    only = _list(flag=code)
    assert [row.id for row in only.rows] == [crafted.owner_id] and only.total == 1
    one = selectors.household_flags(
        EVERYONE, crafted.owner_id, now=clock.now(), today=clock.today()
    )
    assert one is not None and one.flags == [code]


def test_the_numbers_behind_the_flags() -> None:
    account = clean_household("numbers@example.com")
    MUTATIONS["concentration"](account)
    (row,) = _list().rows
    assert row.numbers["top_ticker"] == "AAA"
    assert row.numbers["top_share"] == pytest.approx(2900 / 11000)
    account2 = clean_household("losses@example.com")
    MUTATIONS["losses"](account2)
    row2 = selectors.household_flags(
        EVERYONE, account2.owner_id, now=clock.now(), today=clock.today()
    )
    assert row2.numbers["losses"] == pytest.approx(1200.0)
    assert row2.numbers["loss_share"] == pytest.approx(0.12)
    assert row2.numbers["drawdown"] is None  # no drawdown episode on record


def test_the_list_is_one_query_for_one_or_many_households(django_assert_num_queries) -> None:
    clean_household("first@example.com")
    with django_assert_num_queries(1):
        _list()
    for n in range(12):
        account = clean_household(f"more{n}@example.com")
        list(MUTATIONS.values())[n % len(MUTATIONS)](account)
    with django_assert_num_queries(1):
        listing = _list(limit=5)
    assert listing.total == 13 and len(listing.rows) == 5
    assert listing.rows[0].flags  # most flags first
