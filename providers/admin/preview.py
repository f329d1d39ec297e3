"""The live request preview of the setup screens: the exact request that sample
messages would produce, with every secret masked."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from django.http import JsonResponse

from .. import bounded_json, dlr, inbound
from ..forms.setup import ProviderForm
from ..outbound import oauth
from ..outbound.redaction import redact_request
from ..outbound.rendering import Message
from ..outbound.spec import SAMPLE_MESSAGE, SampleValues, secrets_of, wire_secrets

SECOND_SAMPLE = Message(
    to="+447700900123",
    body="A second message, to show how batch records repeat",
    message_id="sample-message-id-2",
    campaign_id=SAMPLE_MESSAGE.campaign_id,
    template_id=SAMPLE_MESSAGE.template_id,
    template_variables=SAMPLE_MESSAGE.template_variables,
    extra=SampleValues(),
)


def preview_response(form: ProviderForm) -> JsonResponse:
    form.is_valid()
    compiled = form.compiled
    if compiled is None:
        return JsonResponse(
            {
                "ok": False,
                "errors": labelled_errors(form),
                "fixes": form.fixes_json(),
                "guide_fix": form.guide_fix(),
            }
        )
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
    if data.get("authentication") == "oauth":
        # The token exists only at send time, and is never shown.
        shown = oauth.with_bearer(shown, oauth.MASKED)
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
            "fixes": form.fixes_json(),
            "guide_fix": form.guide_fix(),
        }
    )


def labelled_errors(form: ProviderForm) -> dict[str, list[str]]:
    return {
        (str(form.fields[name].label) if name in form.fields else "Form"): list(
            messages
        )
        for name, messages in form.errors.items()
    }


class UnreadableSample(ValueError):
    """A pasted sample that is neither JSON nor a form; the message says so."""


def read_sample(sample: str, *, what: str = "callback") -> Any:
    """A pasted callback (JSON, form or query string) as data."""
    text = sample.strip()
    if not text:
        raise UnreadableSample(f"Paste a sample {what} first.")
    try:
        return bounded_json.loads(text)
    except bounded_json.TooDeep as err:
        raise UnreadableSample(f"The sample is refused: {err}") from err
    except ValueError:
        payload = dict(parse_qsl(text.lstrip("?"), keep_blank_values=True))
        if not payload:
            raise UnreadableSample(
                "The sample is neither JSON nor a form/query string."
            ) from None
        return payload


def propose_mapping_response(sample: str) -> JsonResponse:
    """Read a pasted callback (JSON, form or query string); suggest a mapping."""
    try:
        payload = read_sample(sample)
    except UnreadableSample as err:
        return JsonResponse({"ok": False, "error": str(err)})
    kind = dlr.detect_format(payload)
    if kind != "mapped":
        return JsonResponse({"ok": True, "format": kind, "mapping": None})
    mapping = dlr.propose_mapping(payload)
    if not mapping.usable:
        return JsonResponse(
            {
                "ok": False,
                "error": "No message id or status field was recognised in the sample; "
                "fill in the fields by hand.",
            }
        )
    status = dlr.dig(
        payload[0] if isinstance(payload, list) else payload, mapping.status_path
    )
    return JsonResponse(
        {
            "ok": True,
            "format": kind,
            "mapping": {
                "dlr_id_path": mapping.id_path,
                "dlr_provider_id_path": mapping.provider_id_path,
                "dlr_status_path": mapping.status_path,
                "dlr_error_code_path": mapping.error_code_path,
                "dlr_description_path": mapping.description_path,
                "dlr_timestamp_path": mapping.timestamp_path,
                "dlr_status_values": "\n".join(
                    f"{k} = {v}" for k, v in mapping.values.items()
                ),
            },
            "sample_status": "" if status is None else str(status),
            "sample_state": mapping.state_for(str(status or "")),
        }
    )


INBOUND_NOTES = {
    "8x8": "This is 8x8's own inbound format: it is understood without a mapping, "
    "on the inbound URL or the callback URL.",
    "clevertap": "CleverTap replies come as “replied” events on the callback URL "
    "and are understood as they are; no inbound mapping is needed.",
}


INBOUND_UNRECOGNISED = (
    "No sender's number or text was recognised in the sample; fill in the fields "
    "by hand."
)


def propose_inbound_mapping_response(sample: str) -> JsonResponse:
    """Read a pasted reply (JSON, form or query string); suggest where its
    sender's number, our number, text, time and id are."""
    try:
        payload = read_sample(sample, what="reply")
    except UnreadableSample as err:
        return JsonResponse({"ok": False, "error": str(err)})
    kind = inbound.detect_format(payload)
    if kind == "mapped" and dlr.detect_format(payload) == "clevertap":
        kind = "clevertap"
    if kind != "mapped":
        return JsonResponse(
            {"ok": True, "format": kind, "mapping": None, "note": INBOUND_NOTES[kind]}
        )
    mapping = inbound.propose_mapping(payload)
    if not mapping.usable:
        return JsonResponse({"ok": False, "error": INBOUND_UNRECOGNISED})
    try:
        found = inbound.parse(payload, mapping=mapping)
    except inbound.InboundError as err:
        return JsonResponse({"ok": False, "error": f"The sample is refused: {err}"})
    if not found:  # the fields are there, but null
        return JsonResponse({"ok": False, "error": INBOUND_UNRECOGNISED})
    return JsonResponse(
        {
            "ok": True,
            "format": kind,
            "mapping": {
                f"inbound_{name}": path for name, path in mapping.paths.items()
            },
            "sample": {"from": found[0].from_number, "text": found[0].text},
            "replies": len(found),
        }
    )
