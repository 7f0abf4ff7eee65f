from decimal import Decimal
from typing import Any, cast

from django import forms

from accounts.models import User
from advisor.core import clock, dates, inputs
from advisor.core import fields as input_fields
from portfolios.imports import layouts
from portfolios.models import (
    ImportBatch,
    ModelPortfolio,
    Portfolio,
    Security,
    TaxLot,
    Transaction,
)


class PortfolioForm(forms.ModelForm):
    opening_cash = input_fields.NumberField(
        precision=inputs.MONEY, required=False, min_value=Decimal("0"),
        help_text="Recorded as a deposit in the ledger (new accounts only).",
    )  # fmt: skip

    class Meta:
        model = Portfolio
        formfield_callback = input_fields.formfield
        fields = [
            "name",
            "tax_treatment",
            "broker_name",
            "account_number_last4",
            "model",
            "reinvest_dividends",
            "is_active",
        ]
        labels = {
            "model": "Target model portfolio",
            "account_number_last4": "Account number (last 4 digits)",
        }

    def __init__(self, *args: Any, owner: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner
        model_field = cast(forms.ModelChoiceField, self.fields["model"])
        model_field.queryset = ModelPortfolio.objects.filter(is_active=True)
        if self.instance.pk:
            del self.fields["opening_cash"]
        else:
            del self.fields["is_active"]

    def clean_account_number_last4(self) -> str:
        value = self.cleaned_data["account_number_last4"].strip()
        if value and not (len(value) == 4 and value.isascii() and value.isdigit()):
            raise forms.ValidationError("Enter exactly the last four digits, or leave it empty.")
        return value

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        clash = Portfolio.objects.filter(owner=self.owner, name__iexact=name).exclude(
            pk=self.instance.pk
        )
        if clash.exists():
            raise forms.ValidationError("You already have an account with this name.")
        return name


class ImportUploadForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[
            (ImportBatch.Kind.LOTS, "Positions with tax lots"),
            (ImportBatch.Kind.TRANSACTIONS, "Transaction history"),
        ]
    )
    layout = forms.ChoiceField(
        choices=[("auto", "Detect automatically"), ("canonical", "Canonical format"),
                 ("fidelity", "Fidelity (positions by lot)"), ("schwab", "Schwab (lot details)")],
        initial="auto", help_text="Broker layouts apply to positions with lots.",
    )  # fmt: skip
    file = forms.FileField(help_text="A CSV file (UTF-8).")

    def __init__(self, *args: object, allow_prices: bool = False, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if allow_prices:
            cast(forms.ChoiceField, self.fields["kind"]).choices = [
                (ImportBatch.Kind.PRICES, "Daily prices")
            ]

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        kind, layout = data.get("kind"), data.get("layout")
        if kind and layout and layout != "auto":
            try:
                layouts.get_layout(str(kind), str(layout))
            except KeyError:
                self.add_error("layout", "This layout is only available for positions with lots.")
        return data


def _lot_label(lot: TaxLot) -> str:
    return (
        f"{lot.security.ticker}: {lot.quantity.normalize():f} sh bought "
        f"{dates.day(lot.acquired_on)}, basis ${lot.cost_basis:,.2f}"
    )


class TransactionForm(forms.Form):
    KINDS = [
        ("buy", "Buy"), ("sell", "Sell"), ("deposit", "Deposit"), ("withdrawal", "Withdrawal"),
        ("dividend", "Dividend"), ("interest", "Interest"), ("fee", "Fee"),
    ]  # fmt: skip
    kind = forms.ChoiceField(choices=KINDS)
    trade_date = input_fields.CalendarDateField(
        latest=clock.today, widget=forms.DateInput(attrs={"type": "date"})
    )
    security = forms.ModelChoiceField(
        queryset=Security.objects.filter(is_active=True), required=False
    )
    quantity = input_fields.NumberField(precision=inputs.QUANTITY, required=False)
    price = input_fields.NumberField(precision=inputs.PRICE, required=False)
    amount = input_fields.NumberField(
        precision=inputs.MONEY, required=False, help_text="For cash movements."
    )
    fees = input_fields.NumberField(precision=inputs.MONEY, required=False, min_value=Decimal("0"))
    note = forms.CharField(required=False, max_length=200)
    lots = forms.ModelMultipleChoiceField(
        queryset=TaxLot.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Sell from these lots (optional)",
        help_text="Specific identification: the shares come from the lots ticked, oldest "
        "first. With none ticked, your lot relief method chooses.",
    )

    def __init__(self, *args: Any, portfolio: Portfolio | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ModelMultipleChoiceField, self.fields["lots"])
        if portfolio is not None:
            field.queryset = (
                TaxLot.objects.open()
                .filter(portfolio=portfolio)
                .select_related("security")
                .order_by("security__ticker", "acquired_on", "pk")
            )
        field.label_from_instance = _lot_label  # type: ignore[method-assign, assignment]

    def clean_trade_date(self) -> object:
        value = self.cleaned_data["trade_date"]
        if value > clock.today():
            raise forms.ValidationError("The date is in the future.")
        return value

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        kind = data.get("kind")
        if kind in ("buy", "sell"):
            for name in ("security", "quantity", "price"):
                if not data.get(name):
                    self.add_error(name, f"A {kind} needs this.")
            for name in ("quantity", "price"):
                if data.get(name) is not None and data[name] <= 0:
                    self.add_error(name, "Must be more than zero.")
            lots = data.get("lots") or []
            if lots and kind != "sell":
                self.add_error("lots", "Lots are picked for a sell only.")
            elif any(lot.security_id != getattr(data.get("security"), "pk", None) for lot in lots):
                self.add_error("lots", "Tick lots of the security sold.")
        elif kind:
            amount = data.get("amount")
            if amount is None or amount <= 0:
                self.add_error("amount", "Enter a positive amount.")
        return data

    KIND_MAP = {k: Transaction.Kind(k) for k, _ in KINDS}
