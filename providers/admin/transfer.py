"""Export selected providers (an admin action) and the import page: a provider
file in, its providers checked by their setup screens, the secrets it names
asked for, and every problem listed with its place in the file."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone

from ..transfer.exporting import export_text
from ..transfer.importing import (
    MAX_BYTES,
    ImportRefused,
    import_document,
    named_secrets,
    parse,
)
from ..transfer.secrets import Secrets, env_name


class ProviderTransfer(admin.ModelAdmin):
    """Mixed into the provider admin."""

    @admin.action(
        description="Export selected providers (a file without secrets)",
        permissions=["view"],
    )
    def export_providers(self, request: HttpRequest, queryset) -> HttpResponse:
        providers = queryset.prefetch_related(
            "headers", "url_parameters", "variables", "senders"
        ).order_by("nickname")
        response = HttpResponse(export_text(providers), content_type="application/json")
        day = timezone.now().strftime("%Y-%m-%d")
        response["Content-Disposition"] = (
            f'attachment; filename="smsbridge-providers-{day}.json"'
        )
        return response

    def get_urls(self):
        view = self.admin_site.admin_view(self.import_view)
        return [
            path("import/", view, name="providers_provider_import"),
            *super().get_urls(),
        ]

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra = {"has_import_permission": self.has_import_permission(request)}
        return super().changelist_view(request, {**extra, **(extra_context or {})})

    def has_import_permission(self, request: HttpRequest) -> bool:
        return self.has_add_permission(request) and request.user.has_perm(
            "providers.add_sender"
        )

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_import_permission(request):
            raise PermissionDenied
        text, document, problems = "", None, []
        if request.method == "POST":
            upload = request.FILES.get("file")
            raw = upload.read(MAX_BYTES + 1) if upload else request.POST.get("document")
            try:
                document = parse(raw or b"")
                text = raw.decode() if isinstance(raw, bytes) else raw
            except ImportRefused as refused:
                problems = refused.problems
        asked = named_secrets(document) if document else []
        if document and not upload and "import" in request.POST:
            given = {
                f"{nickname}/{name}": request.POST.get(f"secret-{i}", "")
                for i, (nickname, name) in enumerate(asked)
            }
            try:
                providers = import_document(document, secrets=Secrets(given))
            except ImportRefused as refused:
                problems = refused.problems
            else:
                names = ", ".join(p.nickname for p in providers)
                self.message_user(
                    request,
                    f"Imported {len(providers)} provider(s): {names}. Each has a new "
                    "callback URL; give it to the provider.",
                    messages.SUCCESS,
                )
                return redirect("admin:providers_provider_changelist")
        return self.import_page(request, text, document, asked, problems)

    def import_page(self, request, text, document, asked, problems) -> HttpResponse:
        entries = document["providers"] if document else []
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Import providers",
            "document": text,
            "nicknames": [
                e.get("nickname", "?") for e in entries if isinstance(e, dict)
            ],
            "asked": [
                {
                    "field": f"secret-{i}",
                    "nickname": nickname,
                    "name": name,
                    "env": env_name(nickname, name),
                }
                for i, (nickname, name) in enumerate(asked)
            ],
            "problems": problems,
        }
        return TemplateResponse(
            request, "admin/providers/provider/import.html", context
        )
