import pytest

from tests.rebalancing.drift_world import MOMENT


@pytest.fixture
def on_the_drift_day(time_machine) -> None:
    """Move the clock to the drift world's day (its prices are dated PRICE_DATE)."""
    time_machine.move_to(MOMENT)
