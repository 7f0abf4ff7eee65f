"""The `__any` lookup: membership in a list of ids passed as one parameter."""

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from advisor.core.lookups import Ids
from portfolios.models import Portfolio, TaxLot
from tests.factories import PortfolioFactory, TaxLotFactory

pytestmark = pytest.mark.django_db


def test_any_matches_in_for_lists_arrays_and_ids():
    portfolios = [PortfolioFactory() for _ in range(4)]
    wanted = [portfolios[0].pk, portfolios[2].pk]
    expected = set(Portfolio.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    for value in (wanted, tuple(wanted), np.array(wanted), Ids(wanted), Ids(Ids(wanted))):
        assert set(Portfolio.objects.filter(pk__any=value).values_list("pk", flat=True)) == expected
    assert not Portfolio.objects.filter(pk__any=[]).exists()


def test_any_works_across_a_foreign_key():
    lot = TaxLotFactory()
    TaxLotFactory()
    owner = lot.portfolio.owner_id
    found = TaxLot.objects.filter(portfolio__owner_id__any=Ids([owner]))
    assert list(found.values_list("pk", flat=True)) == [lot.pk]


def test_the_sql_does_not_grow_with_the_list():
    with CaptureQueriesContext(connection) as small:
        list(Portfolio.objects.filter(pk__any=Ids(range(10))))
    with CaptureQueriesContext(connection) as large:
        list(Portfolio.objects.filter(pk__any=Ids(range(10_000))))
    template = [
        q["sql"].split("ANY")[0] for q in (*small.captured_queries, *large.captured_queries)
    ]
    assert template[0] == template[1]
    assert "::bigint[]" in large.captured_queries[0]["sql"]
