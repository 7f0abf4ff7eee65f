import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import ClassVar, cast

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models

from advisor.core import clock


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra: object) -> "User":
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: object) -> "User":
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> "User":
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """An investor or a staff member; the email address is the login."""

    username = None  # type: ignore[assignment]
    email = models.EmailField("email address", unique=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    # django-stubs types AbstractUser.objects as its own UserManager, not a subclass of ours
    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    def __str__(self) -> str:
        return self.email

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.email

    @property
    def greeting_name(self) -> str:
        """What the pages call the investor: the first name given at sign-up, else the email."""
        return self.first_name or self.email


class InvestorProfile(models.Model):
    """Facts about the investor that the advice needs but the questionnaire does not ask.

    Tax rates are fractions (0.24 == 24%). Demographic fields are kept for the adviser's
    records only; scoring never reads them.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )

    class FilingStatus(models.TextChoices):
        SINGLE = "single", "Single"
        MARRIED_JOINTLY = "married_jointly", "Married filing jointly"
        MARRIED_SEPARATELY = "married_separately", "Married filing separately"
        HEAD_OF_HOUSEHOLD = "head_of_household", "Head of household"

    class LotRelief(models.TextChoices):
        # The values are rebalancing.engine.lots.ReliefMethod's.
        TAX_MIN = "tax_min", "Tax-minimising (losses first, short-term gains last)"
        FIFO = "fifo", "First in, first out"
        HIFO = "hifo", "Highest cost first"

    filing_status = models.CharField(
        max_length=24, choices=FilingStatus.choices, default=FilingStatus.SINGLE
    )
    # Federal marginal rates: short-term gains are taxed as ordinary income.
    short_term_tax_rate = models.DecimalField(
        max_digits=5, decimal_places=4, default=Decimal("0.2400")
    )
    long_term_tax_rate = models.DecimalField(
        max_digits=5, decimal_places=4, default=Decimal("0.1500")
    )
    # Added to both federal rates (most states tax capital gains as ordinary income).
    state_tax_rate = models.DecimalField(max_digits=5, decimal_places=4, default=Decimal("0"))
    # Losses carried into `carryover_tax_year` from earlier years (Schedule D lines 6 and 14);
    # they count only in that year.
    carryover_short_term_loss = models.DecimalField(
        max_digits=18, decimal_places=2, default=Decimal("0.00")
    )
    carryover_long_term_loss = models.DecimalField(
        max_digits=18, decimal_places=2, default=Decimal("0.00")
    )
    carryover_tax_year = models.PositiveSmallIntegerField(null=True, blank=True)
    lot_relief_method = models.CharField(
        max_length=16, choices=LotRelief.choices, default=LotRelief.TAX_MIN
    )
    email_waiting = models.BooleanField("email when a proposal waits for me", default=True)
    email_executed = models.BooleanField("email when a proposal is executed", default=True)
    email_problems = models.BooleanField("email when a proposal fails or expires", default=True)
    # Records only (onboarding, issue 4). Scoring never reads these (tests/accounts/test_scoring.py).
    date_of_birth = models.DateField(null=True, blank=True)
    annual_income = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    sex = models.CharField(
        max_length=16,
        blank=True,
        choices=[("female", "Female"), ("male", "Male"), ("other", "Other / prefer not to say")],
    )
    marital_status = models.CharField(
        max_length=16,
        blank=True,
        choices=[
            ("single", "Single"),
            ("married", "Married / civil partnership"),
            ("divorced", "Divorced"),
            ("widowed", "Widowed"),
        ],
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(short_term_tax_rate__gte=0, short_term_tax_rate__lte=1)
                & models.Q(long_term_tax_rate__gte=0, long_term_tax_rate__lte=1),
                name="profile_tax_rates_are_fractions",
            ),
            models.CheckConstraint(
                condition=models.Q(state_tax_rate__gte=0)
                & models.Q(short_term_tax_rate__lte=1 - models.F("state_tax_rate"))
                & models.Q(long_term_tax_rate__lte=1 - models.F("state_tax_rate")),
                name="profile_combined_rates_at_most_one",
            ),
            models.CheckConstraint(
                condition=models.Q(carryover_short_term_loss__gte=0)
                & models.Q(carryover_long_term_loss__gte=0),
                name="profile_carryovers_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"Profile of {self.user}"

    def combined_rates(self) -> tuple[Decimal, Decimal]:
        """(short-term, long-term) rate on realised gains: federal + state."""
        return (
            self.short_term_tax_rate + self.state_tax_rate,
            self.long_term_tax_rate + self.state_tax_rate,
        )


class AuditEvent(models.Model):
    """One advice event, written once and never changed (append-only; see audit.py).

    `household` is the investor the event concerns; `actor` who caused it (None for the
    system: scheduled scans, the paper broker).
    """

    # Set by accounts.audit before hashing (auto_now_add would overwrite the hashed instant).
    created_at = models.DateTimeField(default=clock.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    household = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_events",
        db_index=False,  # the (household, -created_at) index serves it
    )
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    summary = models.CharField(max_length=500, blank=True)
    data = models.JSONField(default=dict, blank=True)
    # The hash chain (audit.chain_hash): `hash` covers this entry's content and `prev_hash`, the
    # hash of the entry before it (by id). Blank only on a row written around `accounts.audit`,
    # which the verifier reports as broken.
    prev_hash = models.CharField(max_length=64, blank=True, default="", db_default="")
    hash = models.CharField(max_length=64, blank=True, default="", db_default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        # Scans append thousands of events per batch: no index beyond what the pages use
        # (a db_index CharField would add an unused LIKE index on PostgreSQL).
        indexes = [
            models.Index(fields=["household", "-created_at"]),
            models.Index(fields=["action"], name="auditevent_action"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action} {self.object_type}:{self.object_id}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise PermissionError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise PermissionError("Audit events are append-only.")


class AuditChainHead(models.Model):
    """The end of the audit hash chain: one row, locked by every writer (SELECT ... FOR UPDATE)
    so that appends are serialised and no two entries share a predecessor. `length` and
    `last_hash` anchor the end: an entry deleted from the tail leaves a shorter, still
    internally consistent chain that only the head betrays."""

    length = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="")

    def __str__(self) -> str:
        return f"audit chain of {self.length} entries ending {self.last_hash[:12]}"


class AdviserAssignment(models.Model):
    """An adviser (staff) looks after a household (an investor). Advisers see only the
    households assigned to them unless ADVISOR_CONSOLE_SEE_ALL is set; superusers see all."""

    adviser = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assigned_households"
    )
    household = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="advisers"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["adviser", "household"], name="one_assignment_per_pair")
        ]

    def __str__(self) -> str:
        return f"{self.adviser} -> {self.household}"


class ReviewNote(models.Model):
    """A reviewer's note on a household (kept; a correction is a new note)."""

    household = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="review_notes"
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(max_length=4000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"note on {self.household} by {self.author}"


class ReviewSignOff(models.Model):
    """A periodic suitability review of a household: who, when, the result and the next date."""

    class Result(models.TextChoices):
        SUITABLE = "suitable", "Suitable"
        ACTION_REQUIRED = "action_required", "Action required"
        UNSUITABLE = "unsuitable", "Not suitable"

    household = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="review_sign_offs"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    result = models.CharField(max_length=16, choices=Result.choices)
    comment = models.TextField(max_length=4000, blank=True)
    next_review_on = models.DateField()
    signed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-signed_at", "-id"]
        indexes = [models.Index(fields=["household", "-signed_at"])]

    def __str__(self) -> str:
        return f"review of {self.household}: {self.result}"


# --- Risk questionnaire (issue 4) ------------------------------------------------------------


class QuestionnaireLocked(PermissionError):
    """A questionnaire version that has been answered cannot change; create a new version."""


class QuestionnaireQuerySet(models.QuerySet["Questionnaire"]):
    def current(self) -> "Questionnaire | None":
        return self.filter(is_active=True).order_by("-version").first()


class Questionnaire(models.Model):
    """One version of the risk questionnaire. Answered versions are frozen (see `is_locked`)."""

    version = models.PositiveIntegerField(unique=True)
    title = models.CharField(max_length=200, default="Risk profile questionnaire")
    is_active = models.BooleanField(
        default=False, help_text="The newest active version is the one investors answer."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = QuestionnaireQuerySet.as_manager()

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"{self.title} v{self.version}"

    def save(self, *args: object, **kwargs: object) -> None:
        # Activating/deactivating an answered version is allowed; changing its content is not.
        if self.is_locked:
            old = Questionnaire.objects.get(pk=self.pk)
            if (old.version, old.title) != (self.version, self.title):
                raise QuestionnaireLocked(
                    "This version has been answered; create a new version instead."
                )
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        if self.is_locked:
            raise QuestionnaireLocked("This version has been answered and is kept for the record.")
        return super().delete(*args, **kwargs)  # type: ignore[arg-type]

    @property
    def is_locked(self) -> bool:
        return self.pk is not None and self.assessments.exists()


class Question(models.Model):
    class Dimension(models.TextChoices):
        TOLERANCE = "tolerance", "Risk tolerance (willingness)"
        CAPACITY = "capacity", "Risk capacity (ability)"
        NONE = "none", "Not scored"

    class Kind(models.TextChoices):
        CHOICE = "choice", "Choose one option"
        AMOUNT = "amount", "Money amount"

    questionnaire = models.ForeignKey(
        Questionnaire, on_delete=models.CASCADE, related_name="questions"
    )
    code = models.SlugField(
        max_length=40, help_text="Stable key used by scoring rules, e.g. 'horizon'."
    )
    step = models.PositiveSmallIntegerField(default=1, help_text="Page of the multi-step form.")
    order = models.PositiveSmallIntegerField(default=0)
    text = models.CharField(
        max_length=500,
        help_text="May contain {amount}, {amount_after_fall} and {loss} for the money example.",
    )
    help_text = models.CharField(max_length=500, blank=True)
    dimension = models.CharField(
        max_length=16, choices=Dimension.choices, default=Dimension.TOLERANCE
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.CHOICE)
    weight = models.DecimalField(max_digits=4, decimal_places=2, default=Decimal("1.00"))

    class Meta:
        ordering = ["questionnaire", "step", "order", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["questionnaire", "code"], name="question_unique_code_per_version"
            ),
            models.CheckConstraint(
                condition=models.Q(weight__gte=0), name="question_weight_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"v{self.questionnaire.version} {self.code}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.questionnaire.is_locked:
            raise QuestionnaireLocked(
                "This version has been answered; create a new version instead."
            )
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        if self.questionnaire.is_locked:
            raise QuestionnaireLocked(
                "This version has been answered; create a new version instead."
            )
        return super().delete(*args, **kwargs)  # type: ignore[arg-type]


class AnswerOption(models.Model):
    """One choice. `points` 0.. (more == more risk); `level_cap` limits the risk level."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="options")
    code = models.SlugField(max_length=40)
    order = models.PositiveSmallIntegerField(default=0)
    text = models.CharField(max_length=300)
    points = models.PositiveSmallIntegerField()
    level_cap = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["question", "order", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["question", "code"], name="option_unique_code_per_question"
            ),
            models.CheckConstraint(
                condition=models.Q(level_cap__isnull=True)
                | models.Q(level_cap__gte=1, level_cap__lte=10),
                name="option_level_cap_range",
            ),
        ]

    def __str__(self) -> str:
        return self.text

    def save(self, *args: object, **kwargs: object) -> None:
        if self.question.questionnaire.is_locked:
            raise QuestionnaireLocked(
                "This version has been answered; create a new version instead."
            )
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        if self.question.questionnaire.is_locked:
            raise QuestionnaireLocked(
                "This version has been answered; create a new version instead."
            )
        return super().delete(*args, **kwargs)  # type: ignore[arg-type]


class RiskAssessmentQuerySet(models.QuerySet["RiskAssessment"]):
    def for_user(self, user: "User") -> "RiskAssessmentQuerySet":
        return self.filter(user=user)


class RiskAssessment(models.Model):
    """One submitted questionnaire, kept as submitted (immutable; a retake is a new row).

    `answers` is a snapshot: a list of {question, text, dimension, option, answer, points,
    max_points, weight, level_cap}; `amount` the investable amount the investor gave. Only the
    acceptance fields may be set after submission.
    """

    STALE_AFTER_DAYS = 365
    ACCEPTANCE_FIELDS = frozenset({"accepted_model", "accepted_at", "acknowledged_more_aggressive"})

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="risk_assessments"
    )
    questionnaire = models.ForeignKey(
        Questionnaire, on_delete=models.PROTECT, related_name="assessments"
    )
    answers = models.JSONField()
    amount = models.DecimalField(max_digits=18, decimal_places=2, default=Decimal("0.00"))
    tolerance_score = models.DecimalField(max_digits=5, decimal_places=2)
    capacity_score = models.DecimalField(max_digits=5, decimal_places=2)
    risk_level = models.PositiveSmallIntegerField()
    max_level = models.PositiveSmallIntegerField(
        help_text="The capacity cap: the most aggressive level without acknowledgement."
    )
    limited_by = models.CharField(max_length=64)
    flags = models.JSONField(default=list, blank=True)
    explanation = models.JSONField(default=list, blank=True)
    recommended_model = models.ForeignKey(
        "portfolios.ModelPortfolio",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    accepted_model = models.ForeignKey(
        "portfolios.ModelPortfolio",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    acknowledged_more_aggressive = models.BooleanField(default=False)
    submitted_at = models.DateTimeField(auto_now_add=True, db_index=True)
    accepted_at = models.DateTimeField(null=True, blank=True)

    objects = RiskAssessmentQuerySet.as_manager()

    class Meta:
        ordering = ["-submitted_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(risk_level__gte=1, risk_level__lte=10),
                name="assessment_level_range",
            ),
            models.CheckConstraint(
                condition=models.Q(risk_level__lte=models.F("max_level")),
                name="assessment_level_within_cap",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    tolerance_score__gte=0,
                    tolerance_score__lte=100,
                    capacity_score__gte=0,
                    capacity_score__lte=100,
                ),
                name="assessment_scores_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} level {self.risk_level} ({self.submitted_at:%Y-%m-%d})"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            update_fields = cast("Iterable[str] | None", kwargs.get("update_fields"))
            if update_fields is None or not set(update_fields) <= self.ACCEPTANCE_FIELDS:
                raise PermissionError(
                    "A submitted risk assessment is kept as submitted; retake to change it."
                )
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise PermissionError("Risk assessments are kept for the record.")

    def is_stale(self, now: dt.datetime) -> bool:
        """Older than 12 months on `now` (an aware datetime): the investor should review it."""
        return (now - self.submitted_at).days > self.STALE_AFTER_DAYS
