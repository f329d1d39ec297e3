from django.db import migrations


def grant(apps, schema_editor):
    from providers.roles import ADDED_WITH_DELIVERY_REPORTS, sync_roles

    sync_roles(apps, ADDED_WITH_DELIVERY_REPORTS)


class Migration(migrations.Migration):
    dependencies = [
        ("providers", "0004_delivery_reports"),
        ("campaigns", "0001_initial"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
