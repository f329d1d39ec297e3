from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse

from providers import audit, phones
from providers.admin.actions import PermittedActionsOnly
from providers.admin.senders import holds
from providers.admin.volume import FixedChoicesFilter, LargeList, SentMessageSearch
from providers.audit.history import AuditHistory
from providers.models import Provider

from .. import actions, counts, sending
from .. import audience as audience_reader
from ..forms import CampaignForm
from ..models import FAILURE_CHOICES, Campaign, DeliveryReport, Message
from ..stats import campaign_stats
from . import applicable, composer, replies

EDITABLE = (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED)
# The changelist action of each of applicable.ACTIONS.
LIST_ACTIONS = {
    "launch": "launch_selected",
    "cancel": "cancel_selected",
    "retry": "retry_failed_selected",
}
# How each action reads in the campaign's audit history.
AUDIT_LABELS = {"launch": "Launched", "cancel": "Cancelled", "retry": "Retried failed"}


@admin.register(Campaign)
class CampaignAdmin(AuditHistory, PermittedActionsOnly):
    form = CampaignForm
    list_display = [
        "name",
        "kind",
        "status",
        "sender_display",
        "progress",
        "created_at",
    ]
    list_filter = ["status", "kind", "sender_type"]
    search_fields = ["name", "event_name"]
    actions = ["launch_selected", "cancel_selected", "retry_failed_selected"]
    readonly_fields = [
        "audience_summary",
        "preview",
        "request_preview",
        "launch_problem",
    ]
    change_form_template = "admin/campaigns/campaign/change_form.html"
    # The campaign's URL is this very page; "View on site" would only reload it.
    view_on_site = False
    fieldsets = [
        (None, {"fields": ["name", "kind", "event_name"]}),
        (
            "Sender",
            {"fields": ["sender_type", "sender", "route", "placeholder_values"]},
        ),
        (
            "Message",
            {"fields": ["template", "message", "preview", "request_preview"]},
        ),
        (
            "Audience",
            {
                "fields": [
                    "audience_file",
                    "audience_numbers",
                    "default_country",
                    "audience_summary",
                ]
            },
        ),
        ("Schedule", {"fields": ["scheduled_at", "launch_problem"]}),
    ]

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).select_related("sender__provider", "route")

    def get_changelist_instance(self, request: HttpRequest):
        changelist = super().get_changelist_instance(request)
        # One read of the page's counters, not a count of their messages.
        counters = counts.read(c.pk for c in changelist.result_list)
        for campaign in changelist.result_list:
            campaign.counters = counters.get(campaign.pk, Counter())
        return changelist

    def get_readonly_fields(self, request: HttpRequest, obj: Campaign | None = None):
        if obj is not None and obj.status not in EDITABLE:
            return [
                "name",
                "kind",
                "event_name",
                "sender_type",
                "sender",
                "route",
                "placeholder_values",
                "template",
                "message",
                "country_display",
                "scheduled_at",
                "audience_summary",
                "preview",
                "launch_problem",
            ]
        return self.readonly_fields

    def get_fieldsets(self, request: HttpRequest, obj: Campaign | None = None):
        if obj is not None and obj.status not in EDITABLE:
            return [
                (
                    title,
                    {
                        **opts,
                        "fields": [
                            "country_display" if f == "default_country" else f
                            for f in opts["fields"]
                            if (
                                not f.startswith("audience_") or f == "audience_summary"
                            )
                            # What was sent is on each message instead.
                            and f != "request_preview"
                        ],
                    },
                )
                for title, opts in self.fieldsets
            ]
        return self.fieldsets

    @transaction.atomic
    def save_model(
        self, request: HttpRequest, obj: Campaign, form: CampaignForm, change: bool
    ):
        super().save_model(request, obj, form, change)
        read = form.audience
        if read is None:
            return
        obj.audience.all().delete()
        audience_reader.store(read, campaign=obj)
        report = f"Audience: {read.count} numbers"
        if read.duplicates:
            report += f"; {read.duplicates} duplicates removed"
        if read.invalid_count:
            lines = "; ".join(f"line {n}: {why}" for n, why in read.invalid)
            unnamed = read.invalid_count - len(read.invalid)
            more = f" and {unnamed} more" if unnamed else ""
            report += f"; {read.invalid_count} invalid rows left out ({lines}{more})"
        messages.info(request, report + ".")

    # --- displays ---------------------------------------------------------------

    @admin.display(description="Sender")
    def sender_display(self, obj: Campaign) -> str:
        if obj.route_id:
            return f"Route: {obj.route}"
        sender = obj.sender or obj.resolved_sender()
        return str(sender) if sender else "— no default sender —"

    @admin.display(description="Progress")
    def progress(self, obj: Campaign) -> str:
        if obj.status in EDITABLE:
            return "—"
        counters = getattr(obj, "counters", None)
        if counters is None:
            counters = counts.read([obj.pk]).get(obj.pk, Counter())
        return f"{counts.done(counters)} / {counters[counts.TOTAL, '']}"

    @admin.display(description="Default country")
    def country_display(self, obj: Campaign) -> str:
        return dict(phones.country_choices()).get(
            obj.default_country, obj.default_country
        )

    @admin.display(description="Audience")
    def audience_summary(self, obj: Campaign) -> str:
        if obj is None or obj.pk is None:
            return "—"
        count = obj.audience.count()
        first = obj.audience.first()
        columns = ", ".join(first.fields) if first else ""
        return f"{count} numbers" + (f"; columns: {columns}" if columns else "")

    @admin.display(description="Preview")
    def preview(self, obj: Campaign) -> str:
        return composer.preview_html(obj)

    @admin.display(description="Request to the provider")
    def request_preview(self, obj: Campaign) -> str:
        return composer.request_preview_html(obj)

    # --- actions and extra pages ----------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:object_id>/progress/",
                view(self.progress_view),
                name="campaigns_campaign_progress",
            ),
            path(
                "<int:object_id>/do/<str:action>/",
                view(self.action_view),
                name="campaigns_campaign_action",
            ),
            *super().get_urls(),
        ]

    def progress_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        campaign = get_object_or_404(Campaign, pk=object_id)
        if not self.has_view_permission(request, campaign):
            raise PermissionDenied
        # So the page offers Cancel and Retry failed only while they apply.
        offered = {
            "cancel": applicable.refusal(campaign, "cancel") is None,
            "retry": applicable.refusal(campaign, "retry") is None,
        }
        return JsonResponse({**campaign_stats(campaign), "offered": offered})

    def action_view(
        self, request: HttpRequest, object_id: int, action: str
    ) -> HttpResponse:
        campaign = get_object_or_404(Campaign, pk=object_id)
        if action not in applicable.ACTIONS:
            return redirect(campaign.get_absolute_url())
        if not self.has_launch_permission(request):
            raise PermissionDenied
        if action == "launch" and "confirm" not in request.POST:
            return self.confirm_launch(request, [campaign], hidden={}) or redirect(
                campaign.get_absolute_url()
            )
        if request.method == "POST":
            self.run(request, campaign, action)
        return redirect(campaign.get_absolute_url())

    def confirm_launch(
        self, request: HttpRequest, campaigns, *, hidden: dict[str, list[str]]
    ) -> HttpResponse | None:
        """The confirmation page for the campaigns that can launch; the others
        are refused with their reason. None when none can."""
        launches = []
        for campaign in campaigns:
            try:
                launches.append(composer.to_launch(campaign))
            except sending.LaunchError as err:
                self.message_user(request, str(err), messages.ERROR)
        if not launches:
            return None
        back = (
            launches[0].campaign.get_absolute_url()
            if len(launches) == 1 and not hidden
            else reverse("admin:campaigns_campaign_changelist")
        )
        return composer.confirmation_page(
            request, self, launches, hidden=hidden, back_url=back
        )

    def run(self, request: HttpRequest, campaign: Campaign, action: str) -> None:
        refused = applicable.refusal(campaign, action)
        if refused:
            self.message_user(request, refused, messages.ERROR)
            return
        try:
            with audit.action(AUDIT_LABELS[action], campaign):
                self._run(request, campaign, action)
        except sending.LaunchError as err:
            self.message_user(request, str(err), messages.ERROR)

    def _run(self, request: HttpRequest, campaign: Campaign, action: str) -> None:
        if action == "launch":
            queued = sending.launch(campaign=campaign)
            campaign.refresh_from_db()
            note = (
                f"scheduled for {campaign.scheduled_at:%Y-%m-%d %H:%M}"
                if campaign.status == Campaign.Status.SCHEDULED
                else f"launched: {queued} messages queued"
            )
            self.message_user(request, f"“{campaign}” {note}.", messages.SUCCESS)
        elif action == "cancel":
            stopped = actions.cancel(campaign=campaign)
            self.message_user(
                request,
                f"“{campaign}” cancelled; {stopped} queued messages will not be sent.",
                messages.WARNING,
            )
        else:
            again = actions.retry_failed(campaign=campaign)
            self.message_user(
                request,
                f"“{campaign}”: {again} failed messages queued "
                "again, with their original message ids.",
                messages.SUCCESS,
            )

    def has_launch_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("campaigns.launch_campaign")

    def _run_on(self, request: HttpRequest, queryset, action: str) -> None:
        for campaign in queryset:
            self.run(request, campaign, action)

    @admin.action(description="Launch selected campaigns", permissions=["launch"])
    def launch_selected(self, request: HttpRequest, queryset) -> HttpResponse | None:
        if "confirm" in request.POST:
            self._run_on(request, queryset, "launch")
            return None
        hidden = {
            "action": ["launch_selected"],
            helpers.ACTION_CHECKBOX_NAME: [str(c.pk) for c in queryset],
        }
        return self.confirm_launch(request, queryset, hidden=hidden)

    @admin.action(description="Cancel selected campaigns", permissions=["launch"])
    def cancel_selected(self, request: HttpRequest, queryset) -> None:
        self._run_on(request, queryset, "cancel")

    @admin.action(
        description="Retry failed messages of selected campaigns",
        permissions=["launch"],
    )
    def retry_failed_selected(self, request: HttpRequest, queryset) -> None:
        self._run_on(request, queryset, "retry")

    def get_action_choices(self, request: HttpRequest, *args: Any, **kwargs: Any):
        """The menu lists only actions that apply to some campaign listed; a
        posted action is still run, so each campaign can say why it refuses."""
        choices = super().get_action_choices(request, *args, **kwargs)
        if request.method == "POST":
            return choices
        # Not get_queryset(): its message counts would join every message.
        listed = Campaign.objects.filter(**self.status_filter(request))
        offered = {LIST_ACTIONS[action] for action in applicable.offered(listed)}
        left_out = set(LIST_ACTIONS.values()) - offered
        return [(name, label) for name, label in choices if name not in left_out]

    def status_filter(self, request: HttpRequest) -> dict[str, str]:
        status = request.GET.get("status__exact")
        return {"status": status} if status in Campaign.Status.values else {}

    def changeform_view(
        self, request, object_id=None, form_url="", extra_context=None
    ) -> HttpResponse:
        campaign = stored(object_id)
        if campaign is None or campaign.status in EDITABLE:
            return super().changeform_view(request, object_id, form_url, extra_context)
        if request.method == "POST":
            self.message_user(
                request,
                f"“{campaign}” is {campaign.get_status_display().lower()}: a "
                "launched campaign can no longer be changed, and nothing was saved. "
                "Add a new campaign to send another message.",
                messages.ERROR,
            )
            return redirect(campaign.get_absolute_url())
        read_only = {
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
        }
        return super().changeform_view(
            request, object_id, form_url, {**(extra_context or {}), **read_only}
        )

    def render_change_form(
        self, request, context, add=False, change=False, form_url="", obj=None
    ):
        if obj is not None:
            context["progress_url"] = reverse(
                "admin:campaigns_campaign_progress", args=[obj.pk]
            )
            context["messages_url"] = (
                reverse("admin:campaigns_message_changelist")
                + f"?campaign__id__exact={obj.pk}"
            )
            context["replies_url"] = replies.changelist_url(campaign__id__exact=obj.pk)
            context["can_launch"] = self.has_launch_permission(request)
            context["editable"] = obj.status in EDITABLE
            context["offered"] = {
                action
                for action in applicable.ACTIONS
                if obj.pk and applicable.refusal(obj, action) is None
            }
            if obj.pk and obj.status not in EDITABLE:
                context["stats"] = campaign_stats(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)


def stored(object_id: str | None) -> Campaign | None:
    """The campaign a change page is about, without the list's figures."""
    try:
        return Campaign.objects.filter(pk=object_id).first() if object_id else None
    except (ValueError, ValidationError):
        return None  # the admin's own lookup answers it


class FailureFilter(FixedChoicesFilter):
    title = "failure"
    parameter_name = "failure_category__exact"
    options = tuple(FAILURE_CHOICES)
    rare = ~Q(failure_category="")  # the condition of the message_failure index


class ProviderFilter(admin.SimpleListFilter):
    """Messages by the provider they went (or are going) to."""

    title = "provider"
    parameter_name = "provider"

    def lookups(self, request: HttpRequest, model_admin):
        return [(str(p.pk), p.nickname) for p in Provider.objects.order_by("nickname")]

    def queryset(self, request: HttpRequest, queryset):
        value = self.value()
        if not value:
            return queryset
        # Not a key the database can hold ("abc", "²", 30 digits): no provider.
        if not holds(Provider._meta.pk, value):
            return queryset.none()
        return queryset.filter(sender__provider_id=int(value))


@admin.register(Message)
class MessageAdmin(SentMessageSearch, PermittedActionsOnly):
    list_display = [
        "to",
        "campaign",
        "status",
        "failure_category",
        "failure_reason",
        "provider_display",
        "sent_at",
        "delivered_at",
    ]
    list_filter = ["status", FailureFilter, ProviderFilter, "campaign"]
    list_select_related = ["campaign", "sender__provider"]

    @admin.display(description="provider")
    def provider_display(self, obj: Message) -> str:
        return str(obj.sender.provider) if obj.sender else "—"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AnsweredFilter(FixedChoicesFilter):
    title = "answered"
    parameter_name = "response_status"
    options = (
        ("200", "200 accepted"),
        ("400", "400 unreadable"),
        ("401", "401 wrong credentials"),
        ("413", "413 too large"),
        ("503", "503 not stored"),
    )
    rare = ~Q(response_status=200)  # the condition of the dlr_answered index
    common = "200"


class FormatFilter(FixedChoicesFilter):
    title = "format"
    parameter_name = "format"
    options = (
        ("8x8", "8x8"),
        ("clevertap", "CleverTap"),
        ("mapped", "Mapped"),
        ("inbound", "Inbound reply (refused)"),
    )


@admin.register(DeliveryReport)
class DeliveryReportAdmin(LargeList, PermittedActionsOnly):
    """Every callback as received, for diagnosing a provider's delivery reports."""

    list_display = [
        "received_at",
        "provider",
        "format",
        "response_status",
        "state",
        "result",
    ]
    list_filter = ["received_at", "state", AnsweredFilter, FormatFilter, "provider"]
    search_fields = ["receipt"]
    # The receipt is what the provider was answered, so it may be all it has.
    search_help_text = "A receipt, as the provider was answered."
    list_select_related = ["provider"]

    def get_search_results(self, request: HttpRequest, queryset, search_term: str):
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            return queryset.filter(receipt=uuid.UUID(term)), False
        except ValueError:
            return queryset.none(), False

    fields = [
        "received_at",
        "receipt",
        "provider",
        "method",
        "content_type",
        "format",
        "response_status",
        "state",
        "processed",
        "unmatched_ids",
        "result",
        "body",
    ]
    readonly_fields = ["received_at", "receipt"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
