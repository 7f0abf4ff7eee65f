"""Fuzzing the lab's free-text limits and views and its numbers (hypothesis, a bounded number
of examples): never a server error (the test client raises on one)."""

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portfolios import demo
from tests.construction.data import ALL_CLASSES

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    derandomize=True,
)
codes = st.sampled_from([*ALL_CLASSES, "bitcoin", "", "us-stocks\x00"])
numbers = st.one_of(
    st.sampled_from(["0", "100", "-5", "1.2.3", "1e400", "nan", "999999", "12%", "(5)", "\uff15"]),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
)
lines = st.one_of(
    st.builds(lambda c, a, b: f"{c} {a}-{b}", codes, numbers, numbers),
    st.builds(lambda c, a: f"{c} {a}", codes, numbers),
    st.builds(lambda c, d, a: f"{c} > {d} {a}", codes, codes, numbers),
    st.text(max_size=20),
)


@FUZZ
@given(
    method=st.sampled_from(["max_sharpe", "efficient_return", "efficient_risk", "black_litterman",
                            "risk_parity", "nope"]),
    limits=st.lists(lines, max_size=3),
    views=st.lists(lines, max_size=3),
    target=numbers,
    bonds_min=numbers,
)  # fmt: skip
def test_fuzzed_lab_inputs_never_fail(
    client: Client, user, method, limits, views, target, bonds_min
) -> None:
    demo.seed_reference_data()
    client.force_login(user)
    query = {
        "asset_classes": ALL_CLASSES, "method": method, "limits": "\n".join(limits),
        "views": "\n".join(views), "target_return": target, "target_volatility": target,
        "bonds_min": bonds_min,
    }  # fmt: skip
    assert client.get(reverse("lab:index"), query).status_code == 200
