"""The Send Test SMS page of a provider: the form, the latest result, the log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin import ModelAdmin
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from .. import dlt_failures, phones, presets, validators
from ..dlr import DeliveryState
from ..forms.placeholder_values import PlaceholderValuesField, described
from ..message_templates import MessageTemplate, Mismatch
from ..models import Provider, Sender, TestSend
from ..outbound.outcomes import Category
from ..outbound.spec import custom_placeholders
from ..send_test_sms import record_invalid_input, send_test_sms
from .correlation import Proposal, is_likely_path, propose, unmatched_reason

FINAL_STATES = (DeliveryState.DELIVERED, DeliveryState.FAILED)
# How many of the provider's latest callbacks are read for one that matched nothing.
RECENT_REPORTS = 20


def send_test_page(
    admin: ModelAdmin, request: HttpRequest, provider: Provider
) -> HttpResponse:
    result = None
    if request.GET.get("result", "").isdigit():
        result = provider.test_sends.filter(pk=request.GET["result"]).first()
    # Keep the last number and text, so a second try is one click.
    initial = {"number": result.to, "message": result.message} if result else {}
    form = SendTestSmsForm(request.POST or None, provider=provider, initial=initial)
    if request.method == "POST":
        if form.is_valid():
            test = send_test_sms(
                provider=provider,
                sender=form.cleaned_data["sender"],
                to=form.cleaned_data["e164"],
                text=form.cleaned_data["message"],
                user=request.user,
                placeholders={
                    **form.cleaned_data.get("placeholders", {}),
                    **form.cleaned_data.get("template_values", {}),
                },
            )
            done = correlate(provider, test)
            if done:
                messages.success(request, done)
            # Redirect so that reloading the result never sends again.
            return redirect(f"{request.path}?result={test.pk}")
        record_invalid_input(
            provider=provider,
            to=request.POST.get("number", ""),
            text=request.POST.get("message", ""),
            error=ValidationError(list(form.errors.as_data().values())[0]),
            user=request.user,
        )
    context = {
        **admin.admin_site.each_context(request),
        "opts": admin.opts,
        "original": provider,
        "provider": provider,
        "title": f"Send Test SMS — {provider.nickname}",
        "form": form,
        "result": result,
        "recent_tests": TestSend.objects.filter(provider=provider)[:10],
        **result_context(admin, request, provider, result),
    }
    return TemplateResponse(request, "admin/providers/provider/send_test.html", context)


def result_context(
    admin: ModelAdmin, request: HttpRequest, provider: Provider, result: TestSend | None
) -> dict[str, Any]:
    if result is None:
        return {}
    return {
        "headline": headline(result),
        "id_proposal": id_proposal(provider, result)
        if admin.has_change_permission(request, provider)
        else None,
        "preset_hint": preset_hint(provider, result),
    }


def test_status(test: TestSend) -> JsonResponse:
    """What the verification checklist polls for."""
    said = headline(test)
    return JsonResponse(
        {
            "headline": said.text,
            "ok": said.ok,
            "unmatched": unmatched_report(test.provider, test),
            "accepted": test.succeeded,
            "delivery_state": test.delivery_state,
            "delivery_label": test.get_delivery_state_display()
            if test.delivery_state
            else "",
            "error_code": test.delivery_error_code,
            "description": test.delivery_description,
            "seconds_to_dlr": test.seconds_to_dlr,
            "final": test.delivery_state in FINAL_STATES,
        }
    )


# --- what the result says ---------------------------------------------------------


@dataclass(frozen=True)
class Headline:
    text: str
    ok: bool


def headline(test: TestSend) -> Headline:
    """What happened, in one line: the provider's answer, then the delivery report."""
    if test.category == Category.ACCEPTED:
        return delivery_headline(test)
    if test.category == Category.PENDING:
        return Headline("Sending…", ok=True)
    if test.category in (Category.REJECTED, Category.DLT):
        _, _, why = test.diagnosis.partition("refused the message: ")
        return Headline(f"Rejected by the provider: {why}".rstrip(": "), ok=False)
    return Headline(f"Not delivered — {test.get_category_display()}", ok=False)


def delivery_headline(test: TestSend) -> Headline:
    if test.delivery_state == DeliveryState.DELIVERED:
        return Headline("Delivered", ok=True)
    if test.delivery_state == DeliveryState.FAILED:
        dlt = dlt_failures.diagnosis(
            test.delivery_error_code, test.delivery_description
        )
        if dlt:
            return Headline(f"Accepted — {dlt}", ok=False)
        detail = " ".join(
            filter(None, [test.delivery_error_code, test.delivery_description])
        )
        return Headline(
            "Accepted — delivery failed" + (f" ({detail})" if detail else ""), ok=False
        )
    return Headline("Accepted — waiting for the delivery report", ok=True)


@dataclass(frozen=True)
class PresetHint:
    text: str
    preset_name: str
    url: str


def preset_hint(provider: Provider, test: TestSend) -> PresetHint | None:
    """For a refused request to a provider we know: the body its API expects."""
    if test.category != Category.BAD_REQUEST:
        return None
    preset = presets.recognise(provider.endpoint)
    if preset is None:
        return None
    fields = ", ".join(preset.body_fields())
    return PresetHint(
        text=f"{preset.label}'s API expects {fields} in the body.",
        preset_name=preset.name,
        url=reverse("admin:providers_provider_add") + f"?preset={preset.slug}",
    )


# --- correlation: reading the provider's message id ------------------------------


def correlate(provider: Provider, test: TestSend) -> str:
    """After an accepted test to a provider we know, read its message id from
    where that provider puts it, so its delivery reports find their message.
    What was done, for the user; "" when nothing was."""
    if not needs_id_path(provider, test):
        return ""
    preset = presets.recognise(provider.endpoint)
    if preset is None or not preset.message_id_path:
        return ""
    found = propose(test.response_excerpt, paths=(preset.message_id_path,))
    if found is None:
        return ""
    adopt(provider, test, found)
    return f"{preset.label} answers with {found.path}: set as the provider message id."


def needs_id_path(provider: Provider, test: TestSend) -> bool:
    return test.succeeded and not provider.message_id_path


def id_proposal(provider: Provider, test: TestSend) -> Proposal | None:
    """A likely provider message id in an accepted test's answer, to offer."""
    if not needs_id_path(provider, test):
        return None
    return propose(test.response_excerpt)


def adopt(provider: Provider, test: TestSend, found: Proposal) -> None:
    """Read ids at `found.path` from now on, and give this test its id, so a
    delivery report arriving afterwards matches it."""
    provider.message_id_path = found.path
    provider.save(update_fields=["message_id_path", "updated_at"])
    test.provider_message_id = found.value[:200]
    test.save(update_fields=["provider_message_id"])


def use_message_id(
    request: HttpRequest, provider: Provider, test: TestSend
) -> HttpResponse:
    """The one-click answer to the proposal on the result."""
    path = request.POST.get("path", "")
    found = (
        propose(test.response_excerpt, paths=(path,)) if is_likely_path(path) else None
    )
    if found is None:
        messages.error(
            request,
            f"This test's answer has no message id at “{path}”; set the provider "
            "message id path under Response handling instead.",
        )
    else:
        adopt(provider, test, found)
        messages.success(
            request,
            f"The provider message id path is now {found.path}: this test's id is "
            f"{found.value}, and delivery reports carrying it will find it.",
        )
    url = reverse("admin:providers_provider_send_test", args=[provider.pk])
    return redirect(f"{url}?result={test.pk}")


def unmatched_report(provider: Provider, test: TestSend) -> str:
    """A delivery report that came after this test but matched nothing, and why."""
    if test.delivery_state or not test.succeeded:
        return ""
    since = provider.delivery_reports.filter(received_at__gte=test.created_at)
    report = next((r for r in since[:RECENT_REPORTS] if r.unmatched_ids), None)
    if report is None:
        return ""
    at = timezone.localtime(report.received_at).strftime("%H:%M:%S")
    ours = {test.message_id, test.provider_message_id} - {""}
    if ours & set(map(str, report.unmatched_ids)):
        # It named this test, before the test's id was known.
        return (
            f"The delivery report for this test arrived at {at}, before its provider "
            "message id was known, and matched nothing; send a new test to see the "
            "next one land."
        )
    why = unmatched_reason(
        message_id_path=provider.message_id_path,
        payload=provider.payload,
        proposal=id_proposal(provider, test),
    )
    return f"A delivery report arrived at {at} but matched no message: {why}"


class SendTestSmsForm(forms.Form):
    """Country code, mobile number and message, as on CleverTap's Send Test SMS."""

    country = forms.ChoiceField(
        label="Country code",
        initial="SG",
        help_text="The country of the mobile number.",
    )
    number = forms.CharField(
        label="Mobile number",
        error_messages={"required": "Enter the mobile number to send to."},
        max_length=32,
        help_text="The mobile number to send to; a leading + and country code "
        "override the country chosen.",
    )
    message = forms.CharField(
        label="Message",
        error_messages={"required": "Enter the message to send."},
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text="Sample text, such as: This is a test message powered by 8x8.",
    )
    sender = forms.ModelChoiceField(
        label="Sender",
        queryset=Sender.objects.none(),
        required=False,
        empty_label=None,
    )
    placeholders = PlaceholderValuesField()
    template = forms.ModelChoiceField(
        label="DLT template",
        queryset=MessageTemplate.objects.none(),
        required=False,
        help_text="The registered template the message follows (India); the "
        "message is checked against it.",
    )

    def __init__(self, *args: Any, provider: Provider, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.provider = provider
        self.needs = custom_placeholders(provider)
        templates = MessageTemplate.objects.filter(sender__provider=provider)
        self.fields["template"].queryset = templates
        if not self.needs.template and not templates.exists():
            del self.fields["template"]
        if self.needs.names:
            self.fields["placeholders"].help_text = (
                f"The request uses {described(self.needs.names)}: one name=value a "
                "line, as a campaign would give them."
            )
        else:
            del self.fields["placeholders"]
        self.fields["country"].choices = phones.country_choices()
        self.fields[
            "message"
        ].initial = f"This is a test message powered by {provider.nickname}"
        self.fields["message"].widget.attrs["id"] = "id_message"
        senders = provider.senders.order_by("pk")
        self.fields["sender"].queryset = senders
        if senders.count() < 2:
            self.fields["sender"].widget = forms.HiddenInput()

    def clean_message(self) -> str:
        message = self.cleaned_data["message"]
        if not message.strip():
            raise ValidationError("Enter the message to send.", code="required")
        validators.validate_segment_count(message)
        return message

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if "number" in cleaned and "country" in cleaned:
            try:
                cleaned["e164"] = phones.to_e164(cleaned["number"], cleaned["country"])
            except ValidationError as err:
                self.add_error("number", err)
        self.check_template(cleaned)
        given = cleaned.get("placeholders", {})
        missing = sorted(self.needs.names - given.keys())
        if missing and "placeholders" not in self.errors:
            self.add_error(
                "placeholders",
                ValidationError(
                    "Give a value for %(names)s (name=value, one a line); the "
                    "provider's request uses it.",
                    code="missing_placeholder",
                    params={"names": described(missing)},
                ),
            )
        if not self.provider.is_active:
            raise ValidationError(
                "%(provider)s is archived (inactive); activate it under Response "
                "handling before sending.",
                code="inactive_provider",
                params={"provider": self.provider.nickname},
            )
        return cleaned

    def check_template(self, cleaned: dict[str, Any]) -> None:
        """A chosen DLT template's values, or why the text cannot go under it."""
        template = cleaned.get("template")
        if template is None:
            if self.needs.template:
                self.add_error(
                    "template" if "template" in self.fields else None,
                    ValidationError(
                        "The provider's request uses $$TemplateID: choose the DLT "
                        "template the message follows.",
                        code="template_required",
                    ),
                )
            return
        try:
            cleaned["template_values"] = template.placeholders(
                cleaned.get("message", ""),
                variables_format=self.provider.template_variables_format,
            )
        except Mismatch as err:
            self.add_error("message", ValidationError(str(err), code="dlt_mismatch"))
