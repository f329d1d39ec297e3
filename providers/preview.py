"""The live request preview of the setup screens: the exact request that sample
messages would produce, with every secret masked."""

from __future__ import annotations

from django.http import JsonResponse

from .forms import ProviderForm
from .redaction import redact_request
from .rendering import Message
from .spec import SAMPLE_MESSAGE, secrets_of, wire_secrets

SECOND_SAMPLE = Message(
    to="+447700900123",
    body="A second message, to show how batch records repeat",
    message_id="sample-message-id-2",
    campaign_id=SAMPLE_MESSAGE.campaign_id,
)


def preview_response(form: ProviderForm) -> JsonResponse:
    form.is_valid()
    compiled = form.compiled
    if compiled is None:
        return JsonResponse({"ok": False, "errors": labelled_errors(form)})
    batch = bool(compiled.spec.batch_key)
    request = compiled.render(
        [SAMPLE_MESSAGE, SECOND_SAMPLE] if batch else [SAMPLE_MESSAGE]
    )
    data = form.cleaned_data
    rows = [
        *data.get("variables", []),
        *data.get("headers", []),
        *data.get("url_parameters", []),
    ]
    secrets = wire_secrets(request, secrets_of(form.unsaved_provider(), rows))
    shown = redact_request(request, secrets)
    return JsonResponse(
        {
            "ok": True,
            "request": {
                "method": shown.method,
                "url": shown.url,
                "headers": [list(pair) for pair in shown.headers],
                "body": shown.body.decode("utf-8", errors="replace"),
            },
            "messages": 2 if batch else 1,
            "errors": labelled_errors(form),
        }
    )


def labelled_errors(form: ProviderForm) -> dict[str, list[str]]:
    return {
        (str(form.fields[name].label) if name in form.fields else "Form"): list(
            messages
        )
        for name, messages in form.errors.items()
    }
