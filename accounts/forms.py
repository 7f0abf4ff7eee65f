from decimal import Decimal

from django import forms

from accounts import questionnaire
from accounts.models import InvestorProfile, Question, User
from advisor.core import clock, inputs
from advisor.core import fields as input_fields


class QuestionnaireStepForm(forms.Form):
    """The questions of one step; field names are question codes, choice values option ids."""

    def __init__(
        self, *args: object, questions: list[Question], amount: Decimal | None, **kwargs: object
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        for question in questions:
            label = questionnaire.render_text(question.text, amount)
            if question.kind == Question.Kind.AMOUNT:
                self.fields[question.code] = input_fields.NumberField(
                    precision=inputs.MONEY,
                    label=label,
                    help_text=question.help_text,
                    min_value=Decimal("0"),
                    max_value=Decimal("1000000000"),
                    error_messages={
                        "required": "Please enter an amount (0 is fine if you are not sure yet)."
                    },
                )
            else:
                self.fields[question.code] = forms.TypedChoiceField(
                    label=label,
                    help_text=question.help_text,
                    choices=[(o.pk, o.text) for o in question.options.all()],
                    coerce=int,
                    widget=forms.RadioSelect,
                    error_messages={"required": "Please choose one answer."},
                )


class ProfileFactsForm(forms.ModelForm):
    class Meta:
        model = InvestorProfile
        formfield_callback = input_fields.formfield
        fields = ["date_of_birth", "annual_income", "sex", "marital_status"]
        widgets = {"date_of_birth": forms.DateInput(attrs={"type": "date"})}
        help_texts = {
            "sex": "For our records only; never used in the advice.",
            "marital_status": "For our records only; never used in the advice.",
        }

    def clean_date_of_birth(self) -> object:

        value = self.cleaned_data.get("date_of_birth")
        if value is not None and value >= clock.today():
            raise forms.ValidationError("The date of birth must be in the past.")
        return value

    def clean_annual_income(self) -> object:
        value = self.cleaned_data.get("annual_income")
        if value is not None and value < 0:
            raise forms.ValidationError("Income cannot be negative.")
        return value


class SignupNameForm(forms.Form):
    """The name asked at sign-up (allauth's ACCOUNT_SIGNUP_FORM_CLASS): the dashboard greets the
    investor by it, and the adviser sees who the household is. allauth adds email and password."""

    field_order = ["first_name", "last_name", "email", "password1", "password2"]

    first_name = forms.CharField(
        label="First name",
        max_length=150,
        error_messages={"required": "Please tell us your first name: we greet you with it."},
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
    )
    last_name = forms.CharField(
        label="Last name (optional)",
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
    )

    def clean_first_name(self) -> str:
        name = " ".join(self.cleaned_data["first_name"].split())
        if not name:
            raise forms.ValidationError("Please tell us your first name: we greet you with it.")
        return name

    def signup(self, request: object, user: User) -> None:
        """allauth's hook, called before the user is saved."""
        user.first_name = self.cleaned_data["first_name"]
        user.last_name = " ".join(self.cleaned_data.get("last_name", "").split())
