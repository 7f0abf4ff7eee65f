"""factory_boy factories for the models most tests need."""

import datetime as dt
from decimal import Decimal

import factory
from allauth.account.models import EmailAddress
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from factory.django import DjangoModelFactory

from accounts.models import User
from portfolios.models import (
    AssetClass,
    ModelAllocation,
    ModelPortfolio,
    Portfolio,
    Price,
    Security,
    TaxLot,
)

PASSWORD = "correct-horse-battery-staple"


class UserFactory(DjangoModelFactory[User]):
    """A user with a verified email address (allauth lets them sign in) and PASSWORD."""

    class Meta:
        model = User
        django_get_or_create = ("email",)
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"investor{n}@example.com")
    first_name = "Ada"
    last_name = "Investor"
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def verified_email(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            self.save()
            EmailAddress.objects.get_or_create(
                user=self, email=self.email, defaults={"verified": True, "primary": True}
            )

    @factory.post_generation
    def totp(self, create: bool, extracted: object, **kwargs: object) -> None:
        """Staff always have a second factor (the product insists on it): an authenticator app
        whose secret stays on the object (`user.totp_secret`) for tests that sign in with it.
        `UserFactory(totp=True)` gives an investor one too."""
        if create and (self.is_staff or extracted):
            self.totp_secret = generate_totp_secret()
            TOTP.activate(self, self.totp_secret)


class AssetClassFactory(DjangoModelFactory[AssetClass]):
    class Meta:
        model = AssetClass
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"class-{n}")
    name = factory.LazyAttribute(lambda o: o.code.replace("-", " ").title())


class SecurityFactory(DjangoModelFactory[Security]):
    class Meta:
        model = Security
        django_get_or_create = ("ticker",)

    ticker = factory.Sequence(lambda n: f"T{n:03d}")
    name = factory.LazyAttribute(lambda o: f"{o.ticker} Fund")
    asset_class = factory.SubFactory(AssetClassFactory)


class PriceFactory(DjangoModelFactory[Price]):
    class Meta:
        model = Price

    security = factory.SubFactory(SecurityFactory)
    date = dt.date(2026, 11, 20)
    close = Decimal("100.000000")


class ModelPortfolioFactory(DjangoModelFactory[ModelPortfolio]):
    class Meta:
        model = ModelPortfolio
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Model {n}")
    slug = factory.Sequence(lambda n: f"model-{n}")
    risk_level = 5


class ModelAllocationFactory(DjangoModelFactory[ModelAllocation]):
    class Meta:
        model = ModelAllocation

    model = factory.SubFactory(ModelPortfolioFactory)
    security = factory.SubFactory(SecurityFactory)
    asset_class = factory.LazyAttribute(lambda o: o.security.asset_class)
    weight = Decimal("0.5")


class PortfolioFactory(DjangoModelFactory[Portfolio]):
    class Meta:
        model = Portfolio

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"Account {n}")
    tax_treatment = Portfolio.TaxTreatment.TAXABLE
    cash = Decimal("0.00")


class TaxLotFactory(DjangoModelFactory[TaxLot]):
    class Meta:
        model = TaxLot

    portfolio = factory.SubFactory(PortfolioFactory)
    security = factory.SubFactory(SecurityFactory)
    quantity = Decimal("10")
    original_quantity = factory.LazyAttribute(lambda o: o.quantity)
    cost_basis = Decimal("1000.00")
    acquired_on = dt.date(2024, 1, 15)
    holding_start = factory.LazyAttribute(lambda o: o.acquired_on)
