"""The staff roles for tests that run on a flushed database.

The groups are made by data migrations; a transactional test starts from a
database that an earlier one flushed, where only what post_migrate makes again
(content types and permissions) is left."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

from campaigns.roles import CAMPAIGN_ROLES
from providers.roles import (
    ADDED_WITH_AUDIT,
    ADDED_WITH_MESSAGE_TEMPLATES,
    ADDED_WITH_ROUTES,
    ADDED_WITH_TEST_LOG,
    FIRST_ROLES,
)


def role_group(name: str) -> Group:
    group, created = Group.objects.get_or_create(name=name)
    if created:
        for granted in (
            FIRST_ROLES,
            ADDED_WITH_TEST_LOG,
            ADDED_WITH_MESSAGE_TEMPLATES,
            ADDED_WITH_ROUTES,
            ADDED_WITH_AUDIT,
            CAMPAIGN_ROLES,
        ):
            for dotted in granted.get(name, []):
                app_label, codename = dotted.split(".")
                group.permissions.add(
                    Permission.objects.get(
                        content_type__app_label=app_label, codename=codename
                    )
                )
    return group
