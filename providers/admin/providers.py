"""The provider setup screens: the CleverTap and MoEngage layouts, presets, the
request preview, Send Test SMS and the callback URL actions."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.timesince import timesince

from .. import audit, bounded_json, dlr, presets
from ..audit.history import AuditHistory
from ..dlr import DLR_FIELDS, DeliveryState
from ..forms.client_credentials import FIELDS as OAUTH_FIELDS
from ..forms.setup import FORMS
from ..inbound import INBOUND_FIELDS
from ..models import RESPONSE_FIELDS, Provider, TestSend
from ..outbound.outcomes import Category
from ..outbound.rendering import (
    BUILTIN_VARIABLES,
    CLEVERTAP_PLACEHOLDERS,
    MOENGAGE_PLACEHOLDERS,
)
from .actions import PermittedActionsOnly
from .health import HealthActions
from .preview import (
    preview_response,
    propose_inbound_mapping_response,
    propose_mapping_response,
)
from .send_test_sms import send_test_page, test_status, use_message_id
from .transfer import ProviderTransfer

SCREEN_FIELDSETS = {
    Provider.SetupScreen.CLEVERTAP: [
        (
            None,
            {
                "fields": [
                    "preset",
                    "nickname",
                    "callback_url_display",
                    "method",
                    "endpoint",
                    "variables",
                    "authentication",
                    "basic_username",
                    "basic_password",
                    *OAUTH_FIELDS,
                    "headers",
                    "body_type",
                    "payload",
                    "template_variables_format",
                    "batch_enabled",
                    "batch_key",
                    "batch_size",
                ]
            },
        ),
        ("Sender", {"fields": ["sender_id", "sender_type", "is_default"]}),
    ],
    Provider.SetupScreen.MOENGAGE: [
        (
            "Sender details",
            {
                "fields": [
                    "preset",
                    "is_default",
                    "nickname",
                    "sender_name",
                    "sender_type",
                    "sender_id",
                ]
            },
        ),
        (
            "Webhook",
            {
                "fields": [
                    "endpoint",
                    "variables",
                    "method",
                    "url_parameters",
                    "headers",
                    "body_type",
                    "payload",
                ]
            },
        ),
        ("Delivery tracking", {"fields": ["callback_url_display"]}),
    ],
}
DLR_FIELDSET = (
    "Delivery reports",
    {
        "classes": ["collapse"],
        "description": "8x8 and CleverTap callbacks are understood as they are. For "
        "other providers, paste a sample callback and press Map automatically, then "
        "check the fields it proposes.",
        "fields": list(DLR_FIELDS),
    },
)
INBOUND_FIELDSET = (
    "Inbound replies",
    {
        "classes": ["collapse"],
        "description": "Replies to your senders' numbers (STOP, START, …) come to "
        "the inbound URL, or to the callback URL when the provider has one URL for "
        "everything: a callback with the sender's number and text fields below is "
        "a reply, not a delivery report. 8x8's inbound webhook and CleverTap's "
        "replied events are understood as they are. For other providers, paste a "
        "sample reply and press Map automatically. Keywords and auto-replies are "
        "set per sender.",
        "fields": ["inbound_url_display", *INBOUND_FIELDS],
    },
)
RESPONSE_FIELDSET = (
    "Response handling",
    {
        "classes": ["collapse"],
        "fields": [
            "number_format",
            "rate_limit",
            *RESPONSE_FIELDS,
            "is_active",
        ],
    },
)
# What a user who may only view a provider sees in place of each editable field.
VIEW_ONLY_FIELDS = {
    "headers": "headers_display",
    "url_parameters": "url_parameters_display",
    "variables": "variables_display",
    "basic_password": "basic_password_display",
    "oauth_client_secret": "oauth_client_secret_display",
    "sender_name": "sender_display",
    "sender_id": "sender_id_display",
    "sender_type": "sender_type_display",
    "is_default": "sender_default_display",
    "preset": "preset_display",
    "dlr_credentials": "dlr_credentials_display",
}


def known_format(sample: str) -> str | None:
    """8x8's or CleverTap's callback format, read without a mapping; else None.
    Both are JSON, so a sample that is not JSON is neither."""
    try:
        kind = dlr.detect_format(bounded_json.loads(sample))
    except ValueError:
        return None
    return None if kind == "mapped" else kind


def rows_table(rows: Any) -> str:
    return (
        format_html(
            "<table class='kv-readonly'><tbody>{}</tbody></table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td><code>{}</code></td></tr>",
                ((row.name, row.display_value) for row in rows),
            ),
        )
        if rows
        else "—"
    )


@admin.register(Provider)
class ProviderAdmin(
    AuditHistory, ProviderTransfer, HealthActions, PermittedActionsOnly
):
    # Health next to the name: it is what an operator looks for when sending
    # stalls, and the last columns are off-screen on a laptop.
    list_display = [
        "nickname",
        "health_display",
        "setup_screen",
        "method",
        "endpoint_host",
        "senders_display",
        "last_test_display",
        "is_active",
    ]
    list_filter = ["setup_screen", "is_active", "method"]
    actions = [
        "rotate_callback_urls",
        "pause_providers",
        "resume_providers",
        "export_providers",
    ]
    search_fields = ["nickname", "endpoint"]
    readonly_fields = [
        "callback_url_display",
        "inbound_url_display",
        *VIEW_ONLY_FIELDS.values(),
    ]
    view_on_site = False
    audit_related = ("senders",)

    def get_queryset(self, request: HttpRequest):
        latest = TestSend.objects.filter(provider=OuterRef("pk")).order_by(
            "-created_at"
        )
        return (
            super()
            .get_queryset(request)
            .select_related("health")
            .prefetch_related("senders")
            .annotate(
                last_test_category=Subquery(latest.values("category")[:1]),
                last_test_at=Subquery(latest.values("created_at")[:1]),
                last_test_delivery=Subquery(latest.values("delivery_state")[:1]),
            )
        )

    # --- which screen -------------------------------------------------------------

    def screen_for(self, request: HttpRequest, obj: Provider | None) -> str:
        if obj is not None:
            return obj.setup_screen
        preset = presets.BY_SLUG.get(request.GET.get("preset", ""))
        if preset:
            return preset.screen
        screen = request.GET.get("screen", "")
        return screen if screen in FORMS else Provider.SetupScreen.CLEVERTAP

    def get_form(
        self, request: HttpRequest, obj: Provider | None = None, **kwargs: Any
    ):
        kwargs["form"] = FORMS[self.screen_for(request, obj)]
        return super().get_form(request, obj, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Provider | None = None):
        fieldsets = [
            *SCREEN_FIELDSETS[self.screen_for(request, obj)],
            DLR_FIELDSET,
            INBOUND_FIELDSET,
            RESPONSE_FIELDSET,
        ]
        if obj is None or self.has_change_permission(request, obj):
            return fieldsets
        return [
            (
                title,
                {
                    **opts,
                    "fields": [VIEW_ONLY_FIELDS.get(f, f) for f in opts["fields"]],
                },
            )
            for title, opts in fieldsets
        ]

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial = super().get_changeform_initial_data(request)
        preset = presets.BY_SLUG.get(request.GET.get("preset", ""))
        if preset is None:
            return initial
        filled = preset.initial()
        taken = Provider.objects.filter(nickname__istartswith=filled["nickname"])
        filled["nickname"] = presets.free_nickname(
            filled["nickname"],
            taken={name.lower() for name in taken.values_list("nickname", flat=True)},
        )
        return {**initial, **filled}

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None):
        chosen = (
            request.GET.get("screen") in FORMS
            or request.GET.get("preset") in presets.BY_SLUG
        )
        if request.method == "POST" or chosen:
            return super().add_view(request, form_url, extra_context)
        if request.GET.get("preset"):
            messages.error(request, "That preset does not exist; choose one below.")
        if not self.has_add_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Add SMS provider",
            "screens": Provider.SetupScreen.choices,
            "presets": presets.PRESETS,
        }
        return TemplateResponse(
            request, "admin/providers/provider/choose_screen.html", context
        )

    def render_change_form(
        self, request, context, add=False, change=False, form_url="", obj=None
    ):
        screen = self.screen_for(request, obj)
        context["screen_label"] = Provider.SetupScreen(screen).label
        context["palette"] = (
            MOENGAGE_PLACEHOLDERS
            if screen == Provider.SetupScreen.MOENGAGE
            else CLEVERTAP_PLACEHOLDERS
        )
        context["builtin_variables"] = BUILTIN_VARIABLES
        if obj is not None:
            context["recent_tests"] = obj.test_sends.select_related("created_by")[:10]
            context["can_send_test"] = self.has_send_test_permission(request)
        context["preview_url"] = (
            reverse("admin:providers_provider_preview_existing", args=[obj.pk])
            if obj
            else reverse("admin:providers_provider_preview")
            + "?"
            + request.GET.urlencode()
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def has_send_test_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("providers.send_test_sms")

    # Rotating changes what the provider must call, so it is a change to the
    # provider: users who may only view it never see the action.
    @admin.action(
        description="Rotate callback URL (the old one keeps working 24 h)",
        permissions=["change"],
    )
    def rotate_callback_urls(self, request: HttpRequest, queryset) -> None:
        now = timezone.now()
        for provider in queryset:
            with audit.action("Rotated the callback URL", provider):
                provider.rotate_callback_token(now=now)
        hours = settings.DLR_TOKEN_GRACE_HOURS
        self.message_user(
            request,
            f"Issued new callback URLs for {len(queryset)} provider(s); the old ones "
            f"keep working for {hours} hours. Update them at the provider meanwhile.",
            messages.SUCCESS,
        )

    # --- request preview ------------------------------------------------------------

    def get_urls(self):
        urls = [
            path(
                "<int:object_id>/send-test/<int:test_id>/status/",
                self.admin_site.admin_view(self.test_status_view),
                name="providers_provider_test_status",
            ),
            path(
                "<int:object_id>/send-test/<int:test_id>/use-message-id/",
                self.admin_site.admin_view(self.use_message_id_view),
                name="providers_provider_use_message_id",
            ),
            path(
                "propose-mapping/",
                self.admin_site.admin_view(self.propose_mapping_view),
                name="providers_provider_propose_mapping",
            ),
            path(
                "propose-inbound-mapping/",
                self.admin_site.admin_view(self.propose_inbound_mapping_view),
                name="providers_provider_propose_inbound_mapping",
            ),
            path(
                "<int:object_id>/send-test/",
                self.admin_site.admin_view(self.send_test_view),
                name="providers_provider_send_test",
            ),
            path(
                "preview/",
                self.admin_site.admin_view(self.preview_view),
                name="providers_provider_preview",
            ),
            path(
                "<int:object_id>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="providers_provider_preview_existing",
            ),
        ]
        return urls + super().get_urls()

    def preview_view(
        self, request: HttpRequest, object_id: int | None = None
    ) -> HttpResponse:
        if request.method != "POST":
            return JsonResponse({"error": "POST the form to preview it."}, status=405)
        obj = get_object_or_404(Provider, pk=object_id) if object_id else None
        allowed = (
            self.has_change_permission(request, obj)
            if obj
            else self.has_add_permission(request)
        )
        if not allowed:
            raise PermissionDenied
        screen = self.screen_for(request, obj)
        form_class = self.get_form(request, obj, fields=None)
        instance = obj or Provider(setup_screen=screen)
        return preview_response(form_class(request.POST, instance=instance))

    def propose_mapping_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return JsonResponse({"error": "POST a sample callback."}, status=405)
        if not (
            self.has_add_permission(request) or self.has_change_permission(request)
        ):
            raise PermissionDenied
        sample = request.POST.get("sample", "")
        kind = known_format(sample)
        if kind is None:
            return propose_mapping_response(sample)
        # Given the form's current settings, the note also checks them.
        note = dlr.correlation_note(
            kind,
            payload=request.POST.get("payload"),
            message_id_path=request.POST.get("message_id_path"),
        )
        return JsonResponse({"ok": True, "format": kind, "mapping": None, "note": note})

    def propose_inbound_mapping_view(self, request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return JsonResponse({"error": "POST a sample reply."}, status=405)
        if not (
            self.has_add_permission(request) or self.has_change_permission(request)
        ):
            raise PermissionDenied
        return propose_inbound_mapping_response(request.POST.get("sample", ""))

    def send_test_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        provider = get_object_or_404(Provider, pk=object_id)
        if not self.has_send_test_permission(request):
            raise PermissionDenied
        return send_test_page(self, request, provider)

    def test_status_view(
        self, request: HttpRequest, object_id: int, test_id: int
    ) -> HttpResponse:
        if not self.has_send_test_permission(request):
            raise PermissionDenied
        return test_status(
            get_object_or_404(TestSend, pk=test_id, provider_id=object_id)
        )

    def use_message_id_view(
        self, request: HttpRequest, object_id: int, test_id: int
    ) -> HttpResponse:
        if request.method != "POST":
            return JsonResponse({"error": "POST the proposal to use it."}, status=405)
        provider = get_object_or_404(Provider, pk=object_id)
        if not self.has_change_permission(request, provider):
            raise PermissionDenied
        test = get_object_or_404(TestSend, pk=test_id, provider=provider)
        return use_message_id(request, provider, test)

    def response_add(self, request, obj, post_url_continue=None):
        if "_continue" in request.POST or "_addanother" in request.POST:
            return super().response_add(request, obj, post_url_continue)
        # As CleverTap's pop-up does: a saved provider is proven by a test SMS.
        messages.success(request, "Provider saved — send a test SMS to verify it.")
        return redirect("admin:providers_provider_send_test", obj.pk)

    # --- columns and read-only displays -------------------------------------------

    @admin.display(description="Callback URL")
    def callback_url_display(self, obj: Provider | None) -> str:
        if obj is None or obj.pk is None:
            return (
                "Generated when you save. Use {callback_url} in the payload meanwhile."
            )
        return format_html(
            '<code id="callback-url">{}</code> '
            '<button type="button" class="button copy-button"'
            ' data-copy="#callback-url">'
            "Copy</button>",
            obj.callback_url,
        )

    @admin.display(description="Inbound URL")
    def inbound_url_display(self, obj: Provider | None) -> str:
        if obj is None or obj.pk is None:
            return "Generated when you save."
        return format_html(
            '<code id="inbound-url">{}</code> '
            '<button type="button" class="button copy-button"'
            ' data-copy="#inbound-url">'
            "Copy</button>",
            obj.inbound_url,
        )

    @admin.display(description="Last test", ordering="last_test_at")
    def last_test_display(self, obj: Provider) -> str:
        if not getattr(obj, "last_test_at", None):
            return "—"
        # A refused message or a failed delivery is a failed test, whatever the
        # HTTP status said.
        passed = obj.last_test_category == Category.ACCEPTED and (
            getattr(obj, "last_test_delivery", "") != DeliveryState.FAILED
        )
        mark = "✓" if passed else "✗"
        return format_html(
            '<span class="test-{}">{}</span> {} ago',
            "ok" if mark == "✓" else "failed",
            mark,
            timesince(obj.last_test_at),
        )

    @admin.display(description="Endpoint host")
    def endpoint_host(self, obj: Provider) -> str:
        return urlsplit(obj.endpoint).hostname or obj.endpoint

    @admin.display(description="Senders")
    def senders_display(self, obj: Provider) -> str:
        return (
            ", ".join(
                f"{s.name}{' (default)' if s.is_default else ''}"
                for s in obj.senders.all()
            )
            or "—"
        )

    @admin.display(description="Headers")
    def headers_display(self, obj: Provider) -> str:
        return rows_table(obj.headers.all())

    @admin.display(description="URL Parameters")
    def url_parameters_display(self, obj: Provider) -> str:
        return rows_table(obj.url_parameters.all())

    @admin.display(description="Provider variables")
    def variables_display(self, obj: Provider) -> str:
        return rows_table(obj.variables.all())

    @admin.display(description="Password")
    def basic_password_display(self, obj: Provider) -> str:
        return "Stored" if obj.basic_password else "—"

    @admin.display(description="Secret key")
    def oauth_client_secret_display(self, obj: Provider) -> str:
        return "Stored" if obj.oauth_client_secret else "—"

    @admin.display(description="Callback credentials")
    def dlr_credentials_display(self, obj: Provider) -> str:
        count = len(obj.dlr_credential_pairs())
        return f"{count} stored" if count else "None: the callback URL alone is the key"

    @admin.display(description="Sender name")
    def sender_display(self, obj: Provider) -> str:
        return obj.primary_sender.name if obj.primary_sender else "—"

    @admin.display(description="Sender ID / Virtual Number")
    def sender_id_display(self, obj: Provider) -> str:
        return obj.primary_sender.sender_id if obj.primary_sender else "—"

    @admin.display(description="Sender type")
    def sender_type_display(self, obj: Provider) -> str:
        sender = obj.primary_sender
        return sender.get_sender_type_display() if sender else "—"

    @admin.display(description="Mark as default", boolean=True)
    def sender_default_display(self, obj: Provider) -> bool:
        return bool(obj.primary_sender and obj.primary_sender.is_default)

    @admin.display(description="Preset")
    def preset_display(self, obj: Provider) -> str:
        preset = presets.BY_SLUG.get(obj.preset)
        return preset.name if preset else "—"
