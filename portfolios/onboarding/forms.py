from typing import Any, cast

from django import forms

from accounts.models import User
from portfolios.models import ModelPortfolio, Portfolio


class AcceptForm(forms.Form):
    model = forms.ModelChoiceField(
        queryset=ModelPortfolio.objects.none(), empty_label=None, label="Model portfolio"
    )
    portfolios = forms.ModelMultipleChoiceField(
        queryset=Portfolio.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Use it for these accounts",
    )
    new_account_name = forms.CharField(
        max_length=100, required=False, label="Or open a new account named"
    )
    new_account_tax_treatment = forms.ChoiceField(
        choices=Portfolio.TaxTreatment.choices,
        initial=Portfolio.TaxTreatment.TAXABLE,
        label="New account type",
    )
    acknowledge_more_aggressive = forms.BooleanField(
        required=False,
        label="I understand this model is riskier than my assessed level and could lose more than I said I can bear.",
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["model"]).queryset = ModelPortfolio.objects.filter(
            is_active=True
        ).order_by("risk_level", "name")
        portfolios = cast(forms.ModelMultipleChoiceField, self.fields["portfolios"])
        portfolios.queryset = Portfolio.objects.filter(owner=user, is_active=True)

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if not data.get("portfolios") and not (data.get("new_account_name") or "").strip():
            raise forms.ValidationError("Choose at least one account, or name a new one.")
        return data
