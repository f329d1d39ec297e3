"""DLT message templates: what onboarding staff register once per template, and
campaigns and Send Test SMS choose from."""

from __future__ import annotations

from django.contrib import admin

from ..audit.history import AuditHistory
from ..message_templates import MessageTemplate
from .actions import PermittedActionsOnly


@admin.register(MessageTemplate)
class MessageTemplateAdmin(AuditHistory, PermittedActionsOnly):
    list_display = ["name", "template_id", "sender", "entity_id"]
    list_select_related = ["sender__provider"]
    search_fields = ["name", "template_id", "text"]
    fields = ["name", "template_id", "text", "sender", "entity_id"]
