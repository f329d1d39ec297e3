"""Existing providers of a recognised API (8x8) read its answers as documented,
unless their users already set how: see Provider.adopt_documented_rules."""

from django.db import migrations

from providers import presets
from providers.models import RESPONSE_FIELDS


def adopt(apps, schema_editor):
    Provider = apps.get_model("providers", "Provider")
    for provider in Provider.objects.all():
        preset = presets.recognise(provider.endpoint)
        if preset is None or any(getattr(provider, f) for f in RESPONSE_FIELDS):
            continue
        for name in RESPONSE_FIELDS:
            setattr(provider, name, getattr(preset, name))
        provider.save(update_fields=list(RESPONSE_FIELDS))


class Migration(migrations.Migration):
    dependencies = [("providers", "0008_response_counts_and_record_ids")]

    operations = [migrations.RunPython(adopt, migrations.RunPython.noop)]
