from django.db import migrations


def grant(apps, schema_editor):
    from campaigns.roles import CAMPAIGN_ROLES
    from providers.roles import sync_roles

    sync_roles(apps, CAMPAIGN_ROLES)


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0002_campaigns_and_messages"),
        ("providers", "0002_roles"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
