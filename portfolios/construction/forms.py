"""Forms of portfolio construction. Percentages are typed as people read them (6 == 6%) and
turned into fractions by `inputs()`; per-class limits and views are one per line."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django import forms

from advisor.core import fields, inputs
from portfolios.analytics import construct
from portfolios.construction import selectors
from portfolios.models import Portfolio

PERCENT = inputs.Precision(6, 2)
METHOD_LABELS = {
    "max_sharpe": "Maximum Sharpe ratio",
    "min_volatility": "Minimum volatility",
    "efficient_return": "Efficient return (least risk for a target return)",
    "efficient_risk": "Efficient risk (most return for a target volatility)",
    "risk_parity": "Risk parity (equal risk contributions)",
    "inverse_volatility": "Inverse volatility",
    "hrp": "Hierarchical risk parity",
    "black_litterman": "Black-Litterman with views",
}
GROUP_LABELS = {
    "stocks": "Stocks",
    "bonds": "Bonds",
    "real_assets": "Real assets",
    "cash": "Cash",
}
_LIMIT = re.compile(r"^\s*([\w-]+)\s+(-?[\d.]+)\s*-\s*(-?[\d.]+)\s*$")
_ABSOLUTE = re.compile(r"^\s*([\w-]+)\s+(-?[\d.]+)\s*$")
_RELATIVE = re.compile(r"^\s*([\w-]+)\s*>\s*([\w-]+)\s+(-?[\d.]+)\s*$")


def _percent(label: str, **kwargs: Any) -> fields.NumberField:
    return fields.NumberField(
        precision=PERCENT, required=False, label=label, min_value=-100, max_value=100, **kwargs
    )


def _percent_text(text: str, line: str) -> float:
    """A percentage typed in a line of limits or views, as a fraction."""
    try:
        value = inputs.parse_decimal(text, "The number", PERCENT)
    except inputs.InputError:
        value = None
    if value is None or abs(value) > 1000:
        raise forms.ValidationError(f"Cannot read the number {text!r} in {line.strip()!r}.")
    return float(value) / 100


def _fraction(value: Decimal | None) -> float | None:
    return None if value is None else float(value) / 100


class MethodForm(forms.Form):
    asset_classes = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple, label="Asset classes"
    )
    method = forms.ChoiceField(choices=[(m, METHOD_LABELS[m]) for m in construct.METHODS])
    risk_free_rate = _percent("Risk-free rate (% a year)", initial=Decimal("3"))
    target_return = _percent("Target return (% a year, efficient return)")
    target_volatility = _percent("Target volatility (% a year, efficient risk)")
    limits = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Per-class limits, one a line: code min-max in % (e.g. emerging 0-10)",
    )
    views = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Black-Litterman views, one a line in % a year: "
        "'us-stocks 6' or 'emerging > us-stocks 2'",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [(c.code, c.name) for c in selectors.asset_classes()]
        self.fields["asset_classes"].choices = choices  # type: ignore[attr-defined]
        for group, label in GROUP_LABELS.items():
            self.fields[f"{group}_min"] = _percent(f"{label} at least (%)")
            self.fields[f"{group}_max"] = _percent(f"{label} at most (%)")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        needs = {"efficient_return": "target_return", "efficient_risk": "target_volatility"}
        field = needs.get(data.get("method", ""))
        if field and data.get(field) is None:
            self.add_error(
                field, f"{METHOD_LABELS[data['method']].split(' (')[0]} needs this target."
            )
        return data

    def group_fields(self) -> list[tuple[str, forms.BoundField, forms.BoundField]]:
        return [(label, self[f"{g}_min"], self[f"{g}_max"]) for g, label in GROUP_LABELS.items()]

    def clean_limits(self) -> dict[str, tuple[float, float]]:
        out = {}
        for line in filter(str.strip, self.cleaned_data["limits"].splitlines()):
            match = _LIMIT.match(line)
            if not match:
                raise forms.ValidationError(
                    f"Cannot read the limit {line.strip()!r}: write 'code min-max'."
                )
            out[match[1]] = (_percent_text(match[2], line), _percent_text(match[3], line))
        return out

    def clean_views(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for line in filter(str.strip, self.cleaned_data["views"].splitlines()):
            if match := _RELATIVE.match(line):
                out.append(
                    {
                        "weights": {match[1]: 1.0, match[2]: -1.0},
                        "value": _percent_text(match[3], line),
                    }
                )
            elif match := _ABSOLUTE.match(line):
                out.append({"weights": {match[1]: 1.0}, "value": _percent_text(match[2], line)})
            else:
                raise forms.ValidationError(
                    f"Cannot read the view {line.strip()!r}: write 'code 6' or 'code > code 2'."
                )
        return out

    def inputs(self) -> dict[str, Any]:
        """The construction inputs (see `compute`) of a valid form."""
        data = self.cleaned_data
        groups = {}
        for group in GROUP_LABELS:
            low, high = data.get(f"{group}_min"), data.get(f"{group}_max")
            if low is not None or high is not None:
                groups[group] = [_fraction(low) or 0.0, 1.0 if high is None else _fraction(high)]
        limits = data["limits"]
        return {
            "asset_classes": list(data["asset_classes"]),
            "method": data["method"],
            "risk_free_rate": _fraction(data.get("risk_free_rate")) or 0.0,
            "target_return": _fraction(data.get("target_return")),
            "target_volatility": _fraction(data.get("target_volatility")),
            "lower": {code: low for code, (low, _) in limits.items()},
            "upper": {code: high for code, (_, high) in limits.items()},
            "groups": groups,
            "views": data["views"],
        }


class LabForm(MethodForm):
    """The lab builds from asset classes (capital market assumptions) or from securities
    (their own price history)."""

    securities = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Or securities (estimated from their last three years of prices)",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["asset_classes"].required = False
        choices = [(s.ticker, f"{s.ticker} ({s.asset_class.name})") for s in selectors.securities()]
        self.fields["securities"].choices = choices  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("securities") and not data.get("asset_classes"):
            raise forms.ValidationError("Choose asset classes or securities.")
        return data

    def inputs(self) -> dict[str, Any]:
        out = super().inputs()
        if self.cleaned_data.get("securities"):
            out = {**out, "asset_classes": [], "securities": list(self.cleaned_data["securities"])}
        return out


class BuildForm(MethodForm):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), max_length=1000, label="Why this revision"
    )


class ReviewForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), max_length=1000, label="Review note"
    )


class AdoptForm(forms.Form):
    portfolios = forms.ModelMultipleChoiceField(
        queryset=Portfolio.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        label="Make it the target of these accounts",
    )
    acknowledge_more_aggressive = forms.BooleanField(
        required=False,
        label="I understand this portfolio is riskier than my assessed level and could lose "
        "more than I said I can bear.",
    )

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["portfolios"]
        field.queryset = Portfolio.objects.for_user(user).active()  # type: ignore[attr-defined]


class NewModelForm(forms.Form):
    name = forms.CharField(max_length=100, label="Name")
    risk_level = forms.IntegerField(min_value=1, max_value=10, label="Risk level (1 safest, 10)")
    description = forms.CharField(
        max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
