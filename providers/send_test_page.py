"""The Send Test SMS page of a provider: the form, the latest result, the log."""

from __future__ import annotations

from django.contrib.admin import ModelAdmin
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from .dlr import DeliveryState
from .forms import SendTestSmsForm
from .models import Provider, TestSend
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
