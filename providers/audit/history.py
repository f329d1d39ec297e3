"""Reading the audit history: an object's entries (and its parts'), described
for the History page and the list of every entry."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Model, Q
from django.template.response import TemplateResponse
from django.urls import reverse

ENTRIES_PER_PAGE = 50


@dataclass(frozen=True)
class Described:
    entry: object
    what: str
    who: str
    about: str  # the part an entry is about, on its whole's page ("Sender 8x8")
    changes: list[tuple[str, str, str]]


def what(entry) -> str:
    """The admin action's label, else Created / Changed / Deleted."""
    label = (entry.additional_data or {}).get("action")
    if label:
        return str(label)
    return {0: "Created", 1: "Changed", 2: "Deleted"}.get(entry.action, "Read")


def who(entry) -> str:
    return entry.actor.get_username() if entry.actor_id else "system"


def describe(entry, *, whole: Model | None = None) -> Described:
    display = entry.changes_display_dict if entry.changes else {}
    changes = [(str(name), *map(str, pair[:2])) for name, pair in display.items()]
    model = entry.content_type.model_class()
    part = whole is not None and not isinstance(whole, model)
    about = (
        f"{model._meta.verbose_name.capitalize()} {entry.object_repr}" if part else ""
    )
    return Described(entry, what(entry), who(entry), about, changes)


def history_of(obj: Model, related: tuple[str, ...] = ()):
    """The entries of `obj` and of the objects its `related` managers hold."""
    from auditlog.models import LogEntry

    wanted = Q(content_type=ContentType.objects.get_for_model(obj), object_pk=obj.pk)
    for name in related:
        manager = getattr(obj, name)
        pks = [str(pk) for pk in manager.values_list("pk", flat=True)]
        kind = ContentType.objects.get_for_model(manager.model)
        wanted |= Q(content_type=kind, object_pk__in=pks)
    return (
        LogEntry.objects.filter(wanted)
        .select_related("actor", "content_type")
        .order_by("-timestamp", "-pk")
    )


class AuditHistory(admin.ModelAdmin):
    """The History page of each object shows its audit history."""

    object_history_template = "admin/audit/object_history.html"
    # Reverse relations whose entries the page shows too (a provider's senders).
    audit_related: tuple[str, ...] = ()

    def history_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        entries = history_of(obj, self.audit_related)
        page = Paginator(entries, ENTRIES_PER_PAGE).get_page(request.GET.get("p"))
        kind = ContentType.objects.get_for_model(obj)
        context = {
            **self.admin_site.each_context(request),
            "title": f"History: {obj}",
            "subtitle": None,
            "object": obj,
            "opts": self.opts,
            "module_name": str(self.opts.verbose_name_plural).capitalize(),
            "page": page,
            "entries": [describe(entry, whole=obj) for entry in page],
            "list_url": reverse("admin:auditlog_logentry_changelist")
            + f"?resource_type={kind.pk}&object_pk={obj.pk}",
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.object_history_template, context)
