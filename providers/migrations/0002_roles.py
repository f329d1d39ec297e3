from django.db import migrations


def create_roles(apps, schema_editor):
    from providers.roles import FIRST_ROLES, sync_roles

    sync_roles(apps, FIRST_ROLES)


def remove_roles(apps, schema_editor):
    from providers.roles import FIRST_ROLES

    apps.get_model("auth", "Group").objects.filter(name__in=FIRST_ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("providers", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
