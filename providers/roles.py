"""The three staff roles and the permissions each one holds."""

from __future__ import annotations

ONBOARDING = "Onboarding staff"
SUPPORT = "Support"
MARKETING = "Marketing admin"

FIRST_ROLES: dict[str, list[str]] = {
    ONBOARDING: [
        "providers.add_provider",
        "providers.change_provider",
        "providers.delete_provider",
        "providers.view_provider",
        "providers.add_sender",
        "providers.change_sender",
        "providers.delete_sender",
        "providers.view_sender",
        "providers.send_test_sms",
    ],
    SUPPORT: [
        "providers.view_provider",
        "providers.view_sender",
        "providers.send_test_sms",
    ],
    MARKETING: [
        "providers.view_provider",
        "providers.view_sender",
    ],
}


# What each later migration added; a migration names its own list so that it
# only asks for permissions that exist at its point in history.
ADDED_WITH_TEST_LOG: dict[str, list[str]] = {
    ONBOARDING: ["providers.view_testsend"],
    SUPPORT: ["providers.view_testsend"],
}
ADDED_WITH_MESSAGE_TEMPLATES: dict[str, list[str]] = {
    ONBOARDING: [
        "providers.add_messagetemplate",
        "providers.change_messagetemplate",
        "providers.delete_messagetemplate",
        "providers.view_messagetemplate",
    ],
    SUPPORT: ["providers.view_messagetemplate"],
    MARKETING: ["providers.view_messagetemplate"],
}

ADDED_WITH_ROUTES: dict[str, list[str]] = {
    ONBOARDING: [
        "providers.add_route",
        "providers.change_route",
        "providers.delete_route",
        "providers.view_route",
        "providers.pause_provider",
    ],
    SUPPORT: ["providers.view_route", "providers.pause_provider"],
    MARKETING: ["providers.view_route"],
}

# The list of audit entries (django-auditlog's): each role reads there only the
# entries of what it may view, and each object's History page stays with the
# object's own view permission.
ADDED_WITH_AUDIT: dict[str, list[str]] = {
    ONBOARDING: ["auditlog.view_logentry"],
    SUPPORT: ["auditlog.view_logentry"],
    MARKETING: ["auditlog.view_logentry"],
}


def sync_roles(apps, permissions: dict[str, list[str]]) -> None:
    """Create the groups and grant them the listed permissions (idempotent)."""
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations; roles need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, names in permissions.items():
        group, _ = Group.objects.get_or_create(name=role)
        for dotted in names:
            app_label, codename = dotted.split(".")
            group.permissions.add(
                Permission.objects.get(
                    content_type__app_label=app_label, codename=codename
                )
            )
