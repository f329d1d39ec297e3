"""Routes: the providers a campaign tries in turn, per country, and the page that
tests a route with one number."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.http import urlencode

from .. import phones, route_test
from ..audit.history import AuditHistory
from ..routes import (
    FALLBACK_CHOICES,
    Route,
    RouteStep,
    default_fallback,
    parse_countries,
)
from .actions import PermittedActionsOnly
from .senders import LenientAutocompleteFields


class RouteForm(forms.ModelForm):
    fallback_on = forms.MultipleChoiceField(
        label="Move to the next provider on",
        choices=FALLBACK_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        initial=default_fallback,
        help_text=Route._meta.get_field("fallback_on").help_text,
    )

    class Meta:
        model = Route
        fields = ["name", "fallback_on", "attempts_per_provider"]


class StepFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        kept = [
            form
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        if not kept and not any(form.errors for form in self.forms):
            raise forms.ValidationError(
                "Add at least one provider: a route with none cannot send.",
                code="no_steps",
            )
        seen: dict[tuple, int] = {}
        for number, form in enumerate(kept, start=1):
            sender = form.cleaned_data.get("sender")
            countries = form.cleaned_data.get("countries", "")
            try:
                where = parse_countries(countries)
            except forms.ValidationError:
                continue  # the field says why
            for country in where or ("",):
                key = (sender.pk if sender else None, country)
                if key in seen:
                    form.add_error(
                        "sender",
                        forms.ValidationError(
                            "%(sender)s is already provider %(other)s for "
                            "%(where)s; a message never goes to one provider twice.",
                            code="duplicate_step",
                            params={
                                "sender": sender,
                                "other": seen[key],
                                "where": country or "every country",
                            },
                        ),
                    )
                    break
                seen[key] = number


class RouteStepInline(LenientAutocompleteFields, admin.TabularInline):
    model = RouteStep
    formset = StepFormSet
    fields = ["position", "sender", "countries"]
    extra = 1
    ordering = ["position", "pk"]
    autocomplete_fields = ["sender"]


@admin.register(Route)
class RouteAdmin(AuditHistory, PermittedActionsOnly):
    audit_related = ("steps",)
    form = RouteForm
    inlines = [RouteStepInline]
    list_display = ["name", "providers_display", "attempts_per_provider"]
    search_fields = ["name"]
    change_form_template = "admin/providers/route/change_form.html"
    view_on_site = False

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).prefetch_related("steps__sender__provider")

    @admin.display(description="providers, in order")
    def providers_display(self, route: Route) -> str:
        return format_html_join(
            ", ",
            "{} ({})",
            (
                (step.sender.provider, step.countries or "default")
                for step in route.steps.all()
            ),
        )

    def get_urls(self):
        return [
            path(
                "<int:object_id>/test/",
                self.admin_site.admin_view(self.test_view),
                name="providers_route_test",
            ),
            *super().get_urls(),
        ]

    def render_change_form(
        self, request, context, add=False, change=False, form_url="", obj=None
    ):
        context["can_test"] = obj is not None and may_test(request)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def test_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        if not may_test(request):
            raise PermissionDenied
        route = get_object_or_404(Route, pk=object_id)
        form = RouteTestForm(request.POST or request.GET or None)
        result = None
        if form.is_bound and form.is_valid():
            plan = route.plan()
            to, now = form.cleaned_data["e164"], timezone.now()
            if request.method == "POST":
                try:
                    sent = route_test.run(
                        plan,
                        to=to,
                        text=form.cleaned_data["message"],
                        now=now,
                        user=request.user,
                        force_fallback=form.cleaned_data["force_fallback"],
                    )
                except route_test.CannotForce as err:
                    form.add_error("force_fallback", str(err))
                    result = route_test.explain(plan, to, now=now)
                else:
                    # Reloading the result shows it again and never sends again.
                    query = {
                        "number": to,
                        "country": form.cleaned_data["country"],
                        **sent.query(),
                    }
                    return redirect(f"{request.path}?{urlencode(query)}")
            else:
                result = route_test.explain(plan, to, now=now)
                route_test.shown(result, request.GET)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": route,
            "route": route,
            "title": f"Test route — {route.name}",
            "form": form,
            "result": result,
        }
        return TemplateResponse(request, "admin/providers/route/test.html", context)


def may_test(request: HttpRequest) -> bool:
    return request.user.has_perm("providers.send_test_sms")


class RouteTestForm(forms.Form):
    country = forms.ChoiceField(
        label="Country code", initial="IN", help_text="The country of the number."
    )
    number = forms.CharField(
        label="Mobile number",
        max_length=32,
        error_messages={"required": "Enter the mobile number to test the route for."},
        help_text="A leading + and country code override the country chosen.",
    )
    message = forms.CharField(
        label="Message",
        required=False,
        initial="This is a test message of the route.",
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
    )
    force_fallback = forms.BooleanField(
        label="Force a fallback",
        required=False,
        help_text="Skip the first provider, to test the one after it.",
    )

    def __init__(self, data=None, *args: Any, **kwargs: Any) -> None:
        if data is not None and "message" not in data:
            # A result page's address carries the number, not the text: the
            # box shows the default text again rather than an empty one.
            data = data.copy()
            data["message"] = self.base_fields["message"].initial
        super().__init__(data, *args, **kwargs)
        self.fields["country"].choices = phones.country_choices()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        number, country = cleaned.get("number"), cleaned.get("country")
        if number and country:
            try:
                cleaned["e164"] = phones.to_e164(number, country)
            except forms.ValidationError as err:
                self.add_error("number", err)
        return cleaned

    def clean_message(self) -> str:
        # Sending needs a text; showing the route does not.
        return self.cleaned_data["message"] or "This is a test message of the route."
