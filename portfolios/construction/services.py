"""State changes of portfolio construction, each in one transaction with its audit event:
a staff member builds a draft version of a model; a second staff member publishes it (it then
becomes the model's target) or rejects it; an investor makes a method's portfolio the custom
target of their accounts within the guardrails of their risk level."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Max, Q
from django.utils.text import slugify

from accounts import audit
from accounts.models import RiskAssessment, User
from advisor.core import clock
from portfolios.construction import compute, selectors
from portfolios.models import (
    AssetClass,
    ModelAllocation,
    ModelPortfolio,
    ModelVersion,
    Portfolio,
    TargetAllocation,
)

SIX = Decimal("0.000001")


class ConstructionError(Exception):
    """A construction step refused; nothing was changed. The message is for the person."""


class AcknowledgementRequired(ConstructionError):
    """A target riskier than the investor's level needs the suitability acknowledgement."""


def _classes(codes: Iterable[str]) -> dict[str, AssetClass]:
    found = {c.code: c for c in AssetClass.objects.filter(code__in=list(codes))}
    missing = [c for c in codes if c not in found]
    if missing:
        raise ConstructionError(f"Unknown asset class: {', '.join(missing)}.")
    return found


@transaction.atomic
def create_model(*, name: str, risk_level: int, description: str, by: User) -> ModelPortfolio:
    """A new model portfolio, inactive (never recommended nor offered) until its first version
    is published."""
    if not by.is_staff:
        raise ConstructionError("Only staff create model portfolios.")
    name = name.strip()
    slug = slugify(name)
    if not name or not slug:
        raise ConstructionError("Give the model a name.")
    if not 1 <= risk_level <= 10:
        raise ConstructionError("The risk level is from 1 (safest) to 10.")
    if ModelPortfolio.objects.filter(Q(name__iexact=name) | Q(slug=slug)).exists():
        raise ConstructionError(f"A model named \u201c{name}\u201d exists already.")
    model = ModelPortfolio.objects.create(
        name=name, slug=slug, risk_level=risk_level, description=description.strip(),
        is_active=False,
    )  # fmt: skip
    audit.record(
        "model.created",
        household=None,
        actor=by,
        obj=model,
        summary=f"Model {name} (level {risk_level}) created, inactive until a version is published",
        model=slug,
        risk_level=risk_level,
    )
    return model


@transaction.atomic
def build_draft(
    model: ModelPortfolio, inputs: Mapping[str, Any], *, by: User, reason: str
) -> ModelVersion:
    """Build `inputs` (see `compute`) into a new draft version of `model`. The prior of
    Black-Litterman is the model's current target. Raises the analytics' PortfolioError on
    inputs that cannot be met, ConstructionError on a missing reason or unbuyable class."""
    if not by.is_staff:
        raise ConstructionError("Only staff build model portfolios.")
    if not reason.strip():
        raise ConstructionError("Say why this revision is made.")
    model = ModelPortfolio.objects.select_for_update().get(pk=model.pk)
    built = compute.build(inputs, selectors.published_weights(model))
    classes = _classes(built.weights)
    unbuyable = [c for c, cls in classes.items() if selectors.security_for(cls, model) is None]
    if unbuyable:
        raise ConstructionError(f"No active security to buy for: {', '.join(unbuyable)}.")
    number = (model.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    version = ModelVersion.objects.create(
        model=model,
        number=number,
        method=built.result.method,
        inputs=dict(inputs),
        weights=built.weights,
        expected_return=Decimal(str(built.estimate.expected_return)).quantize(SIX),
        volatility=Decimal(str(built.estimate.volatility)).quantize(SIX),
        kkt_residual=built.result.kkt_residual,
        reason=reason.strip(),
        author=by,
        created_at=clock.now(),
    )
    audit.record(
        "model.version_drafted",
        household=None,
        actor=by,
        obj=version,
        summary=f"{model.name} v{number} drafted by {built.result.method}: {reason.strip()}",
        model=model.slug,
        number=number,
        method=built.result.method,
        weights=built.weights,
        reason=reason.strip(),
    )
    return version


def _review(version: ModelVersion, by: User, note: str) -> ModelVersion:
    if not by.is_staff:
        raise ConstructionError("Only staff review model portfolios.")
    locked = ModelVersion.objects.select_for_update().select_related("model").get(pk=version.pk)
    if locked.status != ModelVersion.Status.DRAFT:
        raise ConstructionError(
            f"Version {locked.number} is already {locked.get_status_display().lower()}."
        )
    if locked.author_id == by.pk:
        raise ConstructionError("A second staff member reviews a version; its author cannot.")
    if not note.strip():
        raise ConstructionError("Give the reason for your decision.")
    return locked


@transaction.atomic
def publish(version: ModelVersion, *, by: User, note: str) -> ModelVersion:
    """Make a draft the model's target: its weights replace the model's allocation rows (the
    security of a class kept, a new class gets the cheapest active security), the previously
    published version is superseded."""
    version = _review(version, by, note)
    model = ModelPortfolio.objects.select_for_update().get(pk=version.model_id)
    previous = selectors.published_weights(model)
    ModelVersion.objects.filter(model=model, status=ModelVersion.Status.PUBLISHED).update(
        status=ModelVersion.Status.SUPERSEDED
    )
    _replace_allocations(model, version.weights)
    if not previous and not model.is_active:
        # A new model's first target: it is offered from now on. A retired model (which had
        # a target) stays retired.
        model.is_active = True
        model.save(update_fields=["is_active"])
    version.status = ModelVersion.Status.PUBLISHED
    version.reviewer, version.reviewed_at, version.review_note = by, clock.now(), note.strip()
    version.save(update_fields=["status", "reviewer", "reviewed_at", "review_note"])
    audit.record(
        "model.version_published",
        household=None,
        actor=by,
        obj=version,
        summary=f"{model.name} v{version.number} published: {note.strip()}",
        model=model.slug,
        number=version.number,
        author=version.author_id,
        weights=version.weights,
        previous_weights=previous,
        reason=version.reason,
        note=note.strip(),
    )
    return version


def _replace_allocations(model: ModelPortfolio, weights: Mapping[str, float]) -> None:
    classes = _classes(weights)
    existing = {a.asset_class.code: a for a in model.allocations.select_related("asset_class")}
    model.allocations.exclude(asset_class__code__in=list(weights)).delete()
    for code, weight in weights.items():
        value = Decimal(str(weight)).quantize(SIX)
        if code in existing:
            row = existing[code]
            row.weight = value
            row.save(update_fields=["weight"])
            continue
        security = selectors.security_for(classes[code], model)
        if security is None:
            raise ConstructionError(f"No active security to buy for {code}.")
        ModelAllocation.objects.create(
            model=model, asset_class=classes[code], weight=value, security=security
        )


@transaction.atomic
def reject(version: ModelVersion, *, by: User, note: str) -> ModelVersion:
    """Turn a draft down (it stays in the history, never the target)."""
    version = _review(version, by, note)
    version.status = ModelVersion.Status.REJECTED
    version.reviewer, version.reviewed_at, version.review_note = by, clock.now(), note.strip()
    version.save(update_fields=["status", "reviewer", "reviewed_at", "review_note"])
    audit.record(
        "model.version_rejected",
        household=None,
        actor=by,
        obj=version,
        summary=f"{version.model.name} v{version.number} rejected: {note.strip()}",
        model=version.model.slug,
        number=version.number,
        note=note.strip(),
    )
    return version


def _suitable(assessment: RiskAssessment, by: User, volatility: float, acknowledge: bool) -> bool:
    """Refuse what the guardrails forbid; True when the target is riskier than the level (and
    acknowledged)."""
    if assessment.user_id != by.pk:
        raise ConstructionError("This risk profile belongs to someone else.")
    if RiskAssessment.objects.filter(user=by, submitted_at__gt=assessment.submitted_at).exists():
        raise ConstructionError("A newer risk profile replaces this one.")
    limits = selectors.guardrails(assessment)
    if volatility > limits.cap_volatility + 1e-9:
        raise ConstructionError(
            f"Its volatility of {volatility:.1%} a year is above {limits.cap_volatility:.1%}, "
            f"the most your capacity for risk (level {limits.max_level}) allows."
        )
    riskier = volatility > limits.level_volatility + 1e-9
    if riskier and not acknowledge:
        raise AcknowledgementRequired(
            f"Its volatility of {volatility:.1%} a year is above {limits.level_volatility:.1%}, "
            f"that of your level {limits.level}. Tick the acknowledgement to choose it anyway."
        )
    return riskier


@transaction.atomic
def set_custom_target(
    assessment: RiskAssessment,
    inputs: Mapping[str, Any],
    *,
    by: User,
    portfolios: Iterable[Portfolio],
    acknowledge_more_aggressive: bool = False,
) -> list[Portfolio]:
    """Build `inputs` and make the weights the custom target of the investor's chosen accounts
    (their model, if any, no longer applies). Within the guardrails of `assessment`: above the
    volatility of the level's model it needs the acknowledgement (logged for the adviser),
    above that of the capacity cap's model it is refused."""
    ids = {p.pk for p in portfolios}
    accounts = list(
        Portfolio.objects.select_for_update().filter(pk__in=ids, owner=by, is_active=True)
    )
    if not ids or len(accounts) != len(ids):
        raise ConstructionError("Choose at least one of your accounts.")
    built = compute.build(inputs)
    volatility = built.estimate.volatility
    riskier = _suitable(assessment, by, volatility, acknowledge_more_aggressive)
    classes = _classes(built.weights)
    securities = {code: selectors.security_for(cls) for code, cls in classes.items()}
    if any(s is None for s in securities.values()):
        raise ConstructionError("One of the asset classes has no security to buy.")
    if riskier:
        audit.record(
            "risk.more_aggressive_acknowledged",
            household=by,
            actor=by,
            obj=assessment,
            summary=f"Custom target by {built.result.method} at {volatility:.1%} volatility, "
            f"above level {assessment.risk_level}",
            method=built.result.method,
            volatility=volatility,
            assessed_level=assessment.risk_level,
            max_level=assessment.max_level,
        )
        assessment.acknowledged_more_aggressive = True
        assessment.save(update_fields=["acknowledged_more_aggressive"])
    for account in accounts:
        _set_custom(account, built, securities, by)
    return accounts


def _set_custom(
    account: Portfolio, built: compute.Built, securities: Mapping[str, Any], by: User
) -> None:
    previous = account.model
    account.custom_targets.all().delete()
    TargetAllocation.objects.bulk_create(
        TargetAllocation(
            portfolio=account,
            asset_class=securities[code].asset_class,
            weight=Decimal(str(weight)).quantize(SIX),
            security=securities[code],
        )
        for code, weight in built.weights.items()
    )
    account.model = None
    account.save(update_fields=["model", "updated_at"])
    audit.record(
        "construction.custom_target_set",
        household=by,
        actor=by,
        obj=account,
        summary=f"{account.name}: custom target by {built.result.method}",
        method=built.result.method,
        weights=built.weights,
        expected_return=built.estimate.expected_return,
        volatility=built.estimate.volatility,
        previous_model=previous.slug if previous else None,
    )
