from django.db import migrations


def grant(apps, schema_editor):
    from providers.roles import ADDED_WITH_AUDIT, sync_roles

    sync_roles(apps, ADDED_WITH_AUDIT)


class Migration(migrations.Migration):
    dependencies = [
        ("providers", "0018_inbound_mapping"),
        ("auditlog", "0001_initial"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
