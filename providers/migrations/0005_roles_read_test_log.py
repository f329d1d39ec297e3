from django.db import migrations


def grant(apps, schema_editor):
    from providers.roles import ADDED_WITH_TEST_LOG, sync_roles

    sync_roles(apps, ADDED_WITH_TEST_LOG)


class Migration(migrations.Migration):
    dependencies = [
        ("providers", "0004_delivery_reports"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
