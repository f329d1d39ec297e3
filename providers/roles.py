"""The three staff roles and the permissions each one holds."""

from __future__ import annotations

ONBOARDING = "Onboarding staff"
SUPPORT = "Support"
MARKETING = "Marketing admin"

ROLE_PERMISSIONS: dict[str, list[str]] = {
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


def sync_roles(apps, permissions: dict[str, list[str]] = ROLE_PERMISSIONS) -> None:
    """Create the groups and grant them the listed permissions (idempotent)."""
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
