"""Which models are audited and which of their fields are secret, and what an
entry is given before it is stored: secret pairs in words, the action label."""

from __future__ import annotations

from collections.abc import Iterable

from auditlog import get_logentry_model
from auditlog.registry import auditlog
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model
from django.db.models.signals import post_save, pre_save

from . import actions, masking

MASK = "providers.audit.masking.mask"
CREATE = 0  # auditlog's LogEntry.Action.CREATE
SECRET_FIELDS: dict[type[Model], frozenset[str]] = {}
# Boolean fields whose change is an action in its own right: the label when it
# goes off, and when it comes back on (a provider archived, a token deactivated).
FLAG_ACTIONS: dict[type[Model], dict[str, tuple[str, str]]] = {}


def track(
    model: type[Model],
    *,
    secret: Iterable[str] = (),
    exclude: Iterable[str] = (),
    flags: dict[str, tuple[str, str]] | None = None,
) -> None:
    """Audit every change to `model`; `secret` fields are masked before the
    diff reaches an entry, and shown as set / changed / removed."""
    secret, exclude = frozenset(secret), frozenset(exclude)
    # Concrete fields only: on a create auditlog would list reverse relations too.
    fields = [
        f.name
        for f in model._meta.concrete_fields
        if not f.primary_key and f.name not in exclude
    ]
    auditlog.register(
        model, include_fields=fields, mask_fields=sorted(secret), mask_callable=MASK
    )
    SECRET_FIELDS[model] = secret
    FLAG_ACTIONS[model] = dict(flags or {})
    entry = get_logentry_model()
    pre_save.connect(_stamp, sender=entry, dispatch_uid="smsbridge.audit.stamp")
    post_save.connect(_made, sender=entry, dispatch_uid="smsbridge.audit.made")


def secret_fields(model: type[Model] | None) -> frozenset[str]:
    return SECRET_FIELDS.get(model, frozenset())


def _stamp(sender, instance, **kwargs) -> None:
    if instance.pk is not None:
        return  # an entry amended later (rows.py) was stamped when made
    model = ContentType.objects.get_for_id(instance.content_type_id).model_class()
    changes = instance.changes if isinstance(instance.changes, dict) else {}
    for name in secret_fields(model) & changes.keys():
        old, new = changes[name]
        changes[name] = masking.secret_change(old, new) if old or new else None
    for name, pair in list(changes.items()):
        if pair is None or said_nothing(instance.action, *pair):
            del changes[name]
    label = actions.current_label() or flag_label(model, changes)
    if label:
        instance.additional_data = {"action": label, **(instance.additional_data or {})}


EMPTY = ("", "None", "{}", "[]")


def said_nothing(action: int, old: str, new: str) -> bool:
    """A pair that tells nothing: a field created blank, or "None" to None."""
    return str(old) == str(new) or (action == CREATE and str(new) in EMPTY)


def flag_label(model: type[Model] | None, changes: dict) -> str:
    for name, (off, on) in FLAG_ACTIONS.get(model, {}).items():
        old, new = changes.get(name, ("", ""))
        if old == "True" and new == "False":
            return off
        if old == "False" and new == "True":
            return on
    return ""


def _made(sender, instance, created: bool, **kwargs) -> None:
    if created:
        actions.noted(instance)
