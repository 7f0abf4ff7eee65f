"""The investor's settings: each change validated, saved, audited; refused values change
nothing; the next scan and the proposal page use them."""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import AuditEvent, InvestorProfile
from advisor.core import clock
from portfolios import ledger
from portfolios.models import Portfolio
from rebalancing.engine import tax
from rebalancing.models import HarvestSettings, Notification, PolicyGuardrails, RebalancePolicy
from rebalancing.selectors import policies as policy_selectors
from rebalancing.selectors import tax as tax_selectors
from rebalancing.services import drift, investor_settings, notifications
from tests.factories import PortfolioFactory, SecurityFactory
from tests.rebalancing.proposal_data import drifted_household, last_weekday

pytestmark = pytest.mark.django_db

D = Decimal


def _tax(user, **overrides):
    values = {
        "filing_status": "single",
        "federal_short_term_rate": D("0.32"),
        "federal_long_term_rate": D("0.15"),
        "state_rate": D("0.05"),
        "carryover_short_term_loss": D("0"),
        "carryover_long_term_loss": D("0"),
        "carryover_tax_year": clock.today().year,
    }
    return investor_settings.update_tax_profile(user, by=user, **{**values, **overrides})


def test_a_tax_profile_change_is_saved_and_audited_with_before_and_after(user) -> None:
    _tax(user, carryover_long_term_loss=D("1200.50"))
    profile = InvestorProfile.objects.get(user=user)
    assert profile.combined_rates() == (D("0.37"), D("0.20"))
    event = AuditEvent.objects.get(action="settings.tax_profile", household=user)
    assert event.actor == user
    assert event.data["before"]["short_term_tax_rate"] == "0.2400"
    assert event.data["after"]["short_term_tax_rate"] == "0.32"
    assert event.data["after"]["carryover_long_term_loss"] == "1200.50"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"federal_short_term_rate": D("1.2")}, "between 0% and 100% (you entered 120%)"),
        ({"state_rate": D("-0.01")}, "The state rate must be between 0% and 100%"),
        ({"federal_short_term_rate": D("0.97")}, "together are 102%; they cannot exceed 100%"),
        ({"carryover_short_term_loss": D("-5")}, "positive amounts"),
        ({"filing_status": "pirate"}, "filing status"),
    ],
)
def test_a_refused_tax_profile_says_why_and_changes_nothing(user, overrides, message) -> None:
    _tax(user)
    before = InvestorProfile.objects.filter(user=user).values().get()
    events = AuditEvent.objects.count()
    with pytest.raises(investor_settings.SettingsError, match=re.escape(message)):
        _tax(user, **overrides)
    assert InvestorProfile.objects.filter(user=user).values().get() == before
    assert AuditEvent.objects.count() == events


def test_the_tax_year_counts_gains_realised_this_year_and_this_years_carryover(user) -> None:
    day = last_weekday()
    bonds = SecurityFactory(ticker="AGG")
    account = PortfolioFactory(owner=user)
    ira = PortfolioFactory(owner=user, tax_treatment=Portfolio.TaxTreatment.TRADITIONAL_IRA)
    for portfolio in (account, ira):
        ledger.record_transfer_in(
            portfolio, security=bonds, quantity=D("40"), cost_basis=D("1000"),
            acquired_on=dt.date(2020, 3, 2),
        )  # fmt: skip
        ledger.record_sell(
            portfolio, security=bonds, quantity=D("40"), price=D("50"), trade_date=day
        )
    _tax(user, carryover_short_term_loss=D("300"), carryover_tax_year=day.year)
    row = tax_selectors.households([user.pk], year=day.year).loc[user.pk]
    assert row["realised_long"] == 1000.0  # the IRA's sale is not taxed
    assert row["carry_short"] == 300.0
    assert (row["short_rate"], row["long_rate"]) == pytest.approx((0.37, 0.20))
    next_year = tax_selectors.households([user.pk], year=day.year + 1).loc[user.pk]
    assert next_year["realised_long"] == next_year["carry_short"] == 0.0


def test_married_filing_separately_uses_the_1500_limit(user) -> None:
    _tax(user, filing_status=InvestorProfile.FilingStatus.MARRIED_SEPARATELY)
    assert tax_selectors.households([user.pk], year=2026).loc[user.pk, "limit"] == 1500.0


def test_the_proposal_page_nets_at_the_investors_rates(client, user) -> None:
    household = drifted_household(user)  # sells 20 VTI from a short-term lot at a 200 loss
    _tax(user)
    client.force_login(user)
    page = client.get(reverse("rebalancing:detail", args=[household.proposal.pk]))
    assert page.context["tax"].tax == pytest.approx(-200 * 0.37)
    body = page.content.decode()
    assert "at 37% short / 20% long" in body
    assert "federal 32% + state 5%" in body


def _policy(portfolio, **overrides):
    values = {
        "absolute_band": D("0.04"),
        "relative_band": D("0.20"),
        "calendar_frequency": "quarterly",
        "calendar_day": 3,
        "rebalance_to": "band_edge",
        "cash_buffer": D("0.02"),
        "min_trade_amount": D("100"),
    }
    return investor_settings.update_policy(portfolio, by=portfolio.owner, **{**values, **overrides})


def test_a_policy_change_becomes_the_accounts_own_policy(user) -> None:
    household = drifted_household(user)
    _policy(household.portfolio)
    resolved = policy_selectors.policy_for(household.portfolio)
    assert resolved.portfolio_id == household.portfolio.pk
    assert (resolved.absolute_band, resolved.calendar_frequency) == (D("0.0400"), "quarterly")
    # Fields the page does not show keep the values that applied before.
    assert resolved.switch_back_max_gain == RebalancePolicy().switch_back_max_gain
    event = AuditEvent.objects.get(action="settings.policy")
    assert D(event.data["before"]["absolute_band"]) == D("0.05")
    assert D(event.data["after"]["absolute_band"]) == D("0.04")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"absolute_band": D("0")}, "The absolute band cannot be 0%"),
        ({"relative_band": D("1")}, "The relative band cannot be 100%"),
        ({"absolute_band": D("0.30")}, "between 1% and 20% \\(the limits your adviser set\\)"),
        ({"absolute_band": None, "relative_band": None}, "Keep at least one band"),
        ({"cash_buffer": D("0.5")}, "cash buffer must be between 0% and 10%"),
        ({"min_trade_amount": D("-1")}, "minimum trade must be between"),
    ],
)
def test_a_policy_outside_the_guardrails_is_refused(user, overrides, message) -> None:
    household = drifted_household(user)
    with pytest.raises(investor_settings.SettingsError, match=message):
        _policy(household.portfolio, **overrides)
    assert not RebalancePolicy.objects.filter(portfolio=household.portfolio).exists()
    assert not AuditEvent.objects.filter(action="settings.policy").exists()


def test_the_next_drift_check_uses_the_new_policy_and_tax_year(user) -> None:
    household = drifted_household(user)
    day = last_weekday()
    other = PortfolioFactory(owner=user)
    ledger.record_transfer_in(
        other, security=household.bonds, quantity=D("40"), cost_basis=D("1000"),
        acquired_on=dt.date(2020, 3, 2),
    )  # fmt: skip
    ledger.record_sell(
        other, security=household.bonds, quantity=D("40"), price=D("50"), trade_date=day
    )
    _tax(user)
    result = drift.run_drift_check(household.portfolio, dry_run=True)
    draft = result.draft
    assert draft is not None and draft.est_long_term_gain == 0
    short = float(draft.est_short_term_gain)
    assert -1000 < short < 0
    # The short-term loss offsets this year's 1,000 long-term gain: worth 20%, not 37%.
    assert float(draft.est_tax) == pytest.approx(short * 0.20, abs=0.01)
    assert float(draft.est_tax) == pytest.approx(
        float(tax.estimate_tax(short, 0.0, short_rate=0.37, long_rate=0.20,
                               realised_long_term=1000.0).tax), abs=0.01
    )  # fmt: skip
    _policy(household.portfolio, min_trade_amount=D("5000"))
    assert drift.run_drift_check(household.portfolio, dry_run=True).status == "no_trades"


def test_harvesting_settings_saved_and_refused(user) -> None:
    investor_settings.update_harvesting(
        user, by=user, enabled=False, min_loss_amount=D("500"), min_loss_fraction=D("0.1"),
        min_net_benefit=D("40"),
    )  # fmt: skip
    row = HarvestSettings.objects.get(user=user)
    assert (row.enabled, row.min_loss_amount) == (False, D("500"))
    assert AuditEvent.objects.get(action="settings.harvesting").data["after"]["enabled"] == "False"
    with pytest.raises(investor_settings.SettingsError, match="below 100%"):
        investor_settings.update_harvesting(
            user, by=user, enabled=True, min_loss_amount=D("500"), min_loss_fraction=D("1"),
            min_net_benefit=D("40"),
        )  # fmt: skip
    assert HarvestSettings.objects.get(user=user).enabled is False


def test_the_chosen_lot_relief_method_is_used_by_a_manual_sell(user) -> None:
    security = SecurityFactory(ticker="VXUS")
    account = PortfolioFactory(owner=user)
    day = last_weekday()
    for cost, acquired in (
        (D("100"), dt.date(2020, 3, 2)),
        (D("900"), day - dt.timedelta(days=10)),
    ):
        ledger.record_transfer_in(
            account, security=security, quantity=D("10"), cost_basis=cost, acquired_on=acquired
        )
    investor_settings.update_lot_relief(user, by=user, method="fifo")
    sale = ledger.record_sell(
        account, security=security, quantity=D("10"), price=D("50"), trade_date=day
    )
    assert sale.lot_relief_method == "fifo"
    assert sale.lot_sales.get().lot.acquired_on == dt.date(2020, 3, 2)
    with pytest.raises(investor_settings.SettingsError):
        investor_settings.update_lot_relief(user, by=user, method="random")


def test_an_email_turned_off_is_not_sent_but_stays_in_the_centre(user) -> None:
    household = drifted_household(user)
    investor_settings.update_notifications(
        user, by=user, email_waiting=False, email_executed=True, email_problems=True
    )
    note = notifications.notify(household.proposal, Notification.Kind.WAITING)
    assert note is not None
    mail.outbox.clear()
    assert notifications.send_email(note.pk) is False
    assert mail.outbox == []
    assert Notification.objects.filter(pk=note.pk).exists()


def test_another_users_account_policy_page_is_a_404(client, user, other_user) -> None:
    household = drifted_household(other_user)
    client.force_login(user)
    url = reverse("settings:policy", args=[household.portfolio.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"absolute_band": "4"}).status_code == 404
    assert not RebalancePolicy.objects.filter(portfolio=household.portfolio).exists()


def test_the_settings_form_shows_a_refusal_and_saves_nothing(client, user) -> None:
    client.force_login(user)
    response = client.post(
        reverse("settings:tax"),
        {"filing_status": "single", "federal_short_term_rate": "150",
         "federal_long_term_rate": "15", "state_rate": "0", "carryover_short_term_loss": "0",
         "carryover_long_term_loss": "0"},
    )  # fmt: skip
    assert response.status_code == 200
    assert "must be between 0% and 100% (you entered 150%)" in response.content.decode()
    assert not InvestorProfile.objects.filter(user=user, short_term_tax_rate__gt=1).exists()


def test_the_next_drift_check_relieves_lots_by_the_chosen_method(user) -> None:
    household = drifted_household(user)  # VTI: 50 sh at 70 since 2023, 30 sh at 110 recently
    tax_order = drift.run_drift_check(household.portfolio, dry_run=True).draft
    assert tax_order is not None
    assert tax_order.est_short_term_gain < 0 and tax_order.est_long_term_gain == 0
    investor_settings.update_lot_relief(user, by=user, method="fifo")
    fifo = drift.run_drift_check(household.portfolio, dry_run=True).draft
    assert fifo is not None
    # Oldest first: the 2023 lot, a long-term gain of 30 a share.
    assert fifo.est_short_term_gain == 0 and fifo.est_long_term_gain > 0


def test_the_guardrails_staff_set_bound_the_policy(user) -> None:
    household = drifted_household(user)
    PolicyGuardrails.objects.create(max_absolute_band=D("0.10"), max_min_trade_amount=D("200"))
    with pytest.raises(investor_settings.SettingsError, match=re.escape("between 1% and 10%")):
        _policy(household.portfolio, absolute_band=D("0.15"))
    with pytest.raises(investor_settings.SettingsError, match=re.escape("$0 and $200.00")):
        _policy(household.portfolio, min_trade_amount=D("250"))
    _policy(household.portfolio, absolute_band=D("0.10"), min_trade_amount=D("200"))
    assert policy_selectors.policy_for(household.portfolio).absolute_band == D("0.10")


@pytest.mark.parametrize(
    "typed", ["\uff12\uff14", "24\x00", "1e400", "99999999999", "abc", "(-5)", "-3", ""]
)
def test_typed_rates_that_are_not_rates_change_nothing(client, user, typed) -> None:
    client.force_login(user)
    response = client.post(
        reverse("settings:tax"),
        {"filing_status": "single", "federal_short_term_rate": typed,
         "federal_long_term_rate": "15", "state_rate": "0", "carryover_short_term_loss": "0",
         "carryover_long_term_loss": "0"},
    )  # fmt: skip
    assert response.status_code == 200
    assert 'class="errorlist' in response.content.decode() or "must be between" in (
        response.content.decode()
    )
    assert not InvestorProfile.objects.filter(user=user).exists()
    assert not AuditEvent.objects.filter(action="settings.tax_profile").exists()


def test_a_rate_with_hundredths_of_a_percent_is_kept_exactly(client, user) -> None:
    client.force_login(user)
    client.post(
        reverse("settings:tax"),
        {"filing_status": "single", "federal_short_term_rate": "24.125",
         "federal_long_term_rate": "15", "state_rate": "4.93", "carryover_short_term_loss": "0",
         "carryover_long_term_loss": "0"},
    )  # fmt: skip
    profile = InvestorProfile.objects.get(user=user)
    # Typed to the hundredth of a percent (half-even): 24.12%.
    assert (profile.short_term_tax_rate, profile.state_tax_rate) == (D("0.2412"), D("0.0493"))


def test_an_executed_proposal_is_estimated_without_its_own_fills(user) -> None:
    household = drifted_household(user)
    proposal = household.proposal
    sell = proposal.trades.get(side="sell")
    lot_id = int(sell.lots[0]["lot"])
    ledger.record_sell(
        household.portfolio, security=household.stocks, quantity=D("20"), price=D("100"),
        trade_date=clock.today(), method="specific",
        picks=[ledger.LotPick(lot_id=lot_id, quantity=D("20"))],
        external_id=f"fill:{sell.idempotency_key}",
    )  # fmt: skip
    # The fill realised the proposal's own 200 loss: the year "so far" leaves it out, so the
    # estimate is the same after execution as before (200 x 24% saved), not counted twice.
    assert tax_selectors.households([user.pk], year=clock.today().year).loc[
        user.pk, "realised_short"
    ] == pytest.approx(-200.0)
    estimate = tax_selectors.proposal_tax(proposal)
    assert estimate.realised_short == 0.0
    assert estimate.tax == pytest.approx(-48.0)


def test_a_manual_sell_can_name_its_lots(client, user, other_user) -> None:
    security = SecurityFactory(ticker="VEA")
    account = PortfolioFactory(owner=user)
    day = last_weekday()
    old, new = (
        ledger.record_transfer_in(
            account, security=security, quantity=D("10"), cost_basis=cost, acquired_on=acquired
        ).opened_lots.get()
        for cost, acquired in ((D("100"), dt.date(2020, 3, 2)), (D("900"), dt.date(2024, 5, 1)))
    )
    stranger = PortfolioFactory(owner=other_user)
    theirs = ledger.record_transfer_in(
        stranger, security=security, quantity=D("10"), cost_basis=D("500"),
        acquired_on=dt.date(2021, 1, 4),
    ).opened_lots.get()  # fmt: skip
    client.force_login(user)
    url = reverse("portfolios:transaction_create", args=[account.pk])
    form = {"kind": "sell", "trade_date": day.isoformat(), "security": security.pk,
            "quantity": "12", "price": "50", "fees": "0"}  # fmt: skip
    # Another investor's lot is not a choice; lots holding too few shares are refused.
    assert "lots" in client.post(url, {**form, "lots": [theirs.pk]}).context["form"].errors
    refused = client.post(url, {**form, "lots": [new.pk]})
    assert "The lots ticked hold 10 shares; 12 are sold." in refused.content.decode()
    client.post(url, {**form, "lots": [new.pk, old.pk]})
    sale = account.transactions.get(kind="sell")
    assert sale.lot_relief_method == "specific"
    # Oldest first among the lots ticked: all 10 of the 2020 lot, then 2 of the 2024 lot.
    assert {s.lot_id: s.quantity for s in sale.lot_sales.all()} == {old.pk: 10, new.pk: 2}


def test_the_settings_and_methodology_pages_show_the_same_values(client, user) -> None:
    household = drifted_household(user)
    _tax(user)
    _policy(household.portfolio, relative_band=None)
    client.force_login(user)
    settings_page = client.get(reverse("settings:index")).content.decode()
    methodology = client.get(reverse("methodology")).content.decode()
    for page in (settings_page, methodology):
        assert "4% points" in page and "no relative band" in page
    assert "37% short term, 20% long term" in methodology
    assert 'data-testid="short-rate">37%' in settings_page
