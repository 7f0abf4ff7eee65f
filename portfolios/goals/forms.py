from typing import Any, cast

from django import forms

from accounts.models import User
from advisor.core import clock
from advisor.core import fields as input_fields
from portfolios.models import Goal, Portfolio


class GoalForm(forms.ModelForm):
    class Meta:
        model = Goal
        formfield_callback = input_fields.formfield
        fields = [
            "name",
            "kind",
            "target_amount",
            "target_date",
            "monthly_contribution",
            "portfolios",
            "priority",
        ]
        widgets = {
            "target_date": forms.DateInput(attrs={"type": "date"}),
            "portfolios": forms.CheckboxSelectMultiple,
        }
        labels = {
            "portfolios": "Accounts saving for this goal",
            "monthly_contribution": "Monthly contribution ($)",
        }
        help_texts = {
            "target_amount": "In future dollars: the amount you will need on the target date. "
            "The projection uses returns before inflation, so raise the target by the inflation "
            "you expect until then.",
            "monthly_contribution": "What you plan to add each month. It feeds this projection "
            "only: no money is moved, and nothing is invested until it arrives in an account.",
            "portfolios": "Their current value is the starting amount; their model sets the risk.",
            "priority": "1 is the most important.",
        }

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        portfolios = cast(forms.ModelMultipleChoiceField, self.fields["portfolios"])
        portfolios.queryset = Portfolio.objects.filter(owner=user, is_active=True)
        self.fields["portfolios"].required = False

    def clean_target_date(self) -> object:
        value = self.cleaned_data["target_date"]
        if value <= clock.today():
            raise forms.ValidationError("The target date must be in the future.")
        if value.year > clock.today().year + 80:
            raise forms.ValidationError("Please choose a date within 80 years.")
        return value

    def clean_target_amount(self) -> object:
        value = self.cleaned_data["target_amount"]
        if value <= 0:
            raise forms.ValidationError("The target amount must be more than zero.")
        return value

    def clean_monthly_contribution(self) -> object:
        value = self.cleaned_data["monthly_contribution"]
        if value < 0:
            raise forms.ValidationError("The contribution cannot be negative.")
        return value
