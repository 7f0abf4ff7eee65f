from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseBase

from accounts import audit
from accounts import questionnaire as questionnaire_content
from accounts.models import (
    AdviserAssignment,
    AnswerOption,
    AuditEvent,
    InvestorProfile,
    Question,
    Questionnaire,
    ReviewNote,
    ReviewSignOff,
    RiskAssessment,
    User,
)


def audited_delete_selected(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet
) -> HttpResponseBase | None:
    """Django's "delete selected", audited. Django logs one deletion with save() (the LogEntry
    signal audits it, see auth_events) but several with one bulk insert, which sends no signal:
    those are recorded here."""
    confirmed = bool(request.POST.get("post"))
    victims = [(str(obj.pk), str(obj)) for obj in queryset] if confirmed else []
    response = delete_selected(modeladmin, request, queryset)
    if confirmed and response is None and len(victims) > 1:
        label = queryset.model._meta.label
        audit.record_many(
            [
                audit.Event(
                    action="admin.deleted",
                    household_id=None,
                    actor_id=request.user.pk,
                    object_type=label,
                    object_id=pk,
                    summary=f"deleted {label} {name}"[:500],
                )
                for pk, name in victims
            ]
        )
    return response


audited_delete_selected.allowed_permissions = ("delete",)  # type: ignore[attr-defined]
audited_delete_selected.short_description = delete_selected.short_description  # type: ignore[attr-defined]
admin.site.disable_action("delete_selected")
admin.site.add_action(audited_delete_selected, "delete_selected")


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "date_joined"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)


@admin.register(InvestorProfile)
class InvestorProfileAdmin(admin.ModelAdmin):
    list_display = [
        "user",
        "filing_status",
        "short_term_tax_rate",
        "long_term_tax_rate",
        "state_tax_rate",
        "updated_at",
    ]
    search_fields = ["user__email"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: nobody edits or deletes the audit trail, staff included."""

    list_display = ["created_at", "action", "household", "actor", "summary"]
    list_filter = ["action"]
    search_fields = ["household__email", "actor__email", "summary", "object_id"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEvent | None = None) -> bool:
        return False


@admin.register(AdviserAssignment)
class AdviserAssignmentAdmin(admin.ModelAdmin):
    """Which adviser looks after which household (the console shows them only theirs)."""

    list_display = ["adviser", "household", "created_at"]
    search_fields = ["adviser__email", "household__email"]
    raw_id_fields = ["adviser", "household"]


class _ReadOnly(admin.ModelAdmin):
    """Written through the console (audited there); the admin only reads them."""

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ReviewNote)
class ReviewNoteAdmin(_ReadOnly):
    list_display = ["created_at", "household", "author"]
    search_fields = ["household__email", "author__email", "text"]


@admin.register(ReviewSignOff)
class ReviewSignOffAdmin(_ReadOnly):
    list_display = ["signed_at", "household", "reviewer", "result", "next_review_on"]
    list_filter = ["result"]
    search_fields = ["household__email", "reviewer__email"]


# --- Risk questionnaire (issue 4) ------------------------------------------------------------


class _LockedWhenAnswered:
    """Inline / admin mixin: an answered questionnaire version is read-only."""

    def _locked(self, obj: object) -> bool:
        if isinstance(obj, Questionnaire):
            return obj.is_locked
        if isinstance(obj, Question):
            return obj.questionnaire.is_locked
        return False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        if isinstance(self, admin.options.InlineModelAdmin):
            return not self._locked(obj) and super().has_add_permission(request, obj)  # type: ignore[misc]
        return super().has_add_permission(request)  # type: ignore[misc]

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return not self._locked(obj) and super().has_change_permission(request, obj)  # type: ignore[misc]

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return not self._locked(obj) and super().has_delete_permission(request, obj)  # type: ignore[misc]


class QuestionInline(_LockedWhenAnswered, admin.TabularInline):
    model = Question
    extra = 0
    fields = ["code", "step", "order", "text", "dimension", "kind", "weight"]
    show_change_link = True


class AnswerOptionInline(_LockedWhenAnswered, admin.TabularInline):
    model = AnswerOption
    extra = 0
    fields = ["code", "order", "text", "points", "level_cap"]


@admin.register(Questionnaire)
class QuestionnaireAdmin(admin.ModelAdmin):
    """Staff change the questionnaire by cloning a version; answered versions are read-only
    except for switching them on or off."""

    list_display = ["version", "title", "is_active", "created_at", "answered"]
    inlines = [QuestionInline]
    actions = ["new_version"]

    @admin.display(boolean=True)
    def answered(self, obj: Questionnaire) -> bool:
        return obj.is_locked

    def get_readonly_fields(
        self, request: HttpRequest, obj: Questionnaire | None = None
    ) -> list[str]:
        return (
            ["version", "title", "created_at"]
            if obj is not None and obj.is_locked
            else ["created_at"]
        )

    def has_delete_permission(self, request: HttpRequest, obj: Questionnaire | None = None) -> bool:
        return not (obj is not None and obj.is_locked) and super().has_delete_permission(
            request, obj
        )

    @admin.action(description="Create a new (inactive) version from the selected one")
    def new_version(self, request: HttpRequest, queryset: QuerySet[Questionnaire]) -> None:
        for source in queryset:
            clone = questionnaire_content.clone_questionnaire(source)
            self.message_user(
                request,
                f"Created version {clone.version}; edit it, then activate it.",
                messages.SUCCESS,
            )


@admin.register(Question)
class QuestionAdmin(_LockedWhenAnswered, admin.ModelAdmin):
    list_display = ["questionnaire", "code", "step", "order", "dimension", "kind"]
    list_filter = ["questionnaire", "dimension"]
    inlines = [AnswerOptionInline]


@admin.register(RiskAssessment)
class RiskAssessmentAdmin(admin.ModelAdmin):
    """Read-only: submitted assessments are kept as submitted."""

    list_display = [
        "submitted_at",
        "user",
        "risk_level",
        "max_level",
        "tolerance_score",
        "capacity_score",
        "recommended_model",
        "accepted_model",
        "acknowledged_more_aggressive",
    ]
    list_filter = ["risk_level", "acknowledged_more_aggressive", "questionnaire"]
    search_fields = ["user__email"]
    date_hierarchy = "submitted_at"

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: RiskAssessment | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: RiskAssessment | None = None
    ) -> bool:
        return False
