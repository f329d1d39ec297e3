"""The Send Test SMS page of a provider: the form, the latest result, the log."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.admin import ModelAdmin
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from . import encoding, phones
from .dlr import DeliveryState
from .models import Provider, Sender, TestSend
from .send_test import record_invalid_input, send_test_sms

FINAL_STATES = (DeliveryState.DELIVERED, DeliveryState.FAILED)


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
            )
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
    }
    return TemplateResponse(request, "admin/providers/provider/send_test.html", context)


def test_status(test: TestSend) -> JsonResponse:
    """What the verification checklist polls for."""
    return JsonResponse(
        {
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

    def __init__(self, *args: Any, provider: Provider, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.provider = provider
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
        info = encoding.analyse(message)
        limit = settings.SMS_MAX_SEGMENTS
        if info.segments > limit:
            raise ValidationError(
                "This message is %(segments)d segments long (%(summary)s); the "
                "maximum is %(limit)d. Shorten it.",
                code="too_long",
                params={
                    "segments": info.segments,
                    "summary": info.summary,
                    "limit": limit,
                },
            )
        return message

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if "number" in cleaned and "country" in cleaned:
            try:
                cleaned["e164"] = phones.to_e164(cleaned["number"], cleaned["country"])
            except ValidationError as err:
                self.add_error("number", err)
        if not self.provider.is_active:
            raise ValidationError(
                "%(provider)s is archived (inactive); activate it under Response "
                "handling before sending.",
                code="inactive_provider",
                params={"provider": self.provider.nickname},
            )
        return cleaned
