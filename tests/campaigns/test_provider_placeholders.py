"""Custom placeholders in a provider's request ($$hid, $$uid, ...), as
CleverTap's generic provider has them: every one has a source, and a missing one
is an error that names it, never an empty string on the wire."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import responses

from campaigns.forms import CampaignForm
from campaigns.models import AudienceMember, Campaign, Message
from campaigns.sending import LaunchError, launch
from providers.models import Provider, Sender

from .test_event_api import OTP, event_campaign

pytestmark = pytest.mark.django_db

ENDPOINT = "https://sms.example.test/batch"
# $$hid once a request, $$uid and $$CampaignID in every record.
BATCH_PAYLOAD = (
    '{"hid": "$$hid", "messages": [{"to": "$$To", "text": "$$Body", '
    '"uid": "$$uid", "campaign": "$$CampaignID", "ref": "$$MessageID"}]}'
)


@pytest.fixture
def wire() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(ENDPOINT, json={"status": "ok"})
        yield mock


def batch_sender(payload: str = BATCH_PAYLOAD) -> Sender:
    provider = Provider.objects.create(
        nickname="Aggregator",
        endpoint=ENDPOINT,
        payload=payload,
        batch_enabled=True,
        batch_key="messages",
        batch_size=100,
    )
    return Sender.objects.create(
        provider=provider,
        name="Alerts",
        sender_type=Sender.SenderType.TRANSACTIONAL,
        is_default=True,
    )


def campaign_with(rows: list[dict[str, str]], **fields) -> Campaign:
    campaign = Campaign.objects.create(
        name="Renewals",
        sender_type=Sender.SenderType.TRANSACTIONAL,
        message="Hi $$name",
        **fields,
    )
    AudienceMember.objects.bulk_create(
        AudienceMember(campaign=campaign, to=row["phone"], fields=row) for row in rows
    )
    return campaign


ANN = {"phone": "+6591234567", "name": "Ann", "uid": "u-1"}
BOB = {"phone": "+6581234567", "name": "Bob", "uid": "u-2"}


def test_a_batch_carries_the_campaign_value_columns_and_campaign_id(
    wire, django_capture_on_commit_callbacks
) -> None:
    batch_sender()
    campaign = campaign_with([ANN, BOB], placeholder_values={"hid": "H-7"})

    with django_capture_on_commit_callbacks(execute=True):
        assert launch(campaign=campaign) == 2

    ids = dict(Message.objects.values_list("to", "message_id"))
    pk = campaign.pk
    assert len(wire.calls) == 1
    assert (
        wire.calls[0].request.body
        == (
            '{"hid":"H-7","messages":['
            f'{{"to":"+6591234567","text":"Hi Ann","uid":"u-1","campaign":"{pk}",'
            f'"ref":"{ids["+6591234567"]}"}},'
            f'{{"to":"+6581234567","text":"Hi Bob","uid":"u-2","campaign":"{pk}",'
            f'"ref":"{ids["+6581234567"]}"}}]}}'
        ).encode()
    )
    assert set(Message.objects.values_list("status", flat=True)) == {"sent"}


def test_a_campaign_without_a_value_for_a_request_placeholder_cannot_launch() -> None:
    batch_sender()
    campaign = campaign_with([ANN])

    with pytest.raises(LaunchError) as caught:
        launch(campaign=campaign)

    assert str(caught.value) == (
        "The request of Aggregator uses $$hid, which has no value: give it under "
        "Provider placeholders or as an audience column."
    )
    assert not Message.objects.exists()


def test_a_per_message_placeholder_needs_a_column_or_a_campaign_value(
    wire, django_capture_on_commit_callbacks
) -> None:
    batch_sender()
    without_uid = {"phone": "+6591234567", "name": "Ann"}
    campaign = campaign_with([without_uid], placeholder_values={"hid": "H-7"})

    with pytest.raises(LaunchError) as caught:
        launch(campaign=campaign)
    assert "uses $$uid, which has no value" in str(caught.value)

    campaign.placeholder_values = {"hid": "H-7", "uid": "everyone"}
    campaign.save()
    with django_capture_on_commit_callbacks(execute=True):
        launch(campaign=campaign)

    record = json.loads(wire.calls[0].request.body)["messages"][0]
    assert record["uid"] == "everyone"


def form_data(**fields) -> dict[str, str]:
    return {
        "name": "Renewals",
        "kind": Campaign.Kind.ONE_TIME,
        "sender_type": Sender.SenderType.TRANSACTIONAL,
        "message": "Hi",
        "default_country": "SG",
        "audience_numbers": "91234567",
        "placeholder_values": "",
        **fields,
    }


def test_the_campaign_form_asks_for_the_request_placeholders() -> None:
    batch_sender()

    form = CampaignForm(data=form_data())

    assert not form.is_valid()
    assert form.errors["placeholder_values"] == [
        "The request of Aggregator uses $$hid, $$uid: give a value here "
        "(name=value) or an audience column of that name."
    ]
    filled = CampaignForm(data=form_data(placeholder_values="hid = H-7\n$$uid=u\n"))
    assert filled.is_valid(), filled.errors
    assert filled.cleaned_data["placeholder_values"] == {"hid": "H-7", "uid": "u"}


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("hid", "Line 1 is not name=value"),
        ("ok=1\n9lives=2", "Line 2 is not name=value"),
        ("hid=1\nhid=2", "$$hid is given twice (line 2); keep one value."),
    ],
)
def test_bad_placeholder_lines_are_named(text, error) -> None:
    batch_sender()

    form = CampaignForm(data=form_data(placeholder_values=text))

    assert not form.is_valid()
    assert form.errors["placeholder_values"][0].startswith(error)


def test_the_campaign_page_previews_the_request_with_them_filled(admin_client) -> None:
    batch_sender()
    campaign = campaign_with([ANN], placeholder_values={"hid": "H-7"})

    page = admin_client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/")

    html = page.content.decode()
    assert "&quot;hid&quot;:&quot;H-7&quot;" in html
    assert "&quot;uid&quot;:&quot;u-1&quot;" in html
    assert f"&quot;campaign&quot;:&quot;{campaign.pk}&quot;" in html


# --- events: the properties give per-message placeholders -------------------------


@pytest.fixture
def event_sender() -> Sender:
    return batch_sender(payload=BATCH_PAYLOAD)


def test_an_event_fills_per_message_placeholders_from_its_properties(
    post, event_sender, wire
) -> None:
    event_campaign(placeholder_values={"hid": "H-7"})

    response = post({**OTP, "properties": {"code": "42", "uid": "u-9"}})

    assert response.status_code == 202
    record = json.loads(wire.calls[0].request.body)
    assert record["hid"] == "H-7"
    assert record["messages"][0]["uid"] == "u-9"


def test_an_event_lacking_a_placeholder_is_refused_with_422(
    post, event_sender, wire
) -> None:
    event_campaign(placeholder_values={"hid": "H-7"})

    response = post(OTP)

    assert response.status_code == 422
    assert response.json() == {
        "error": "The event “otp_requested” lacks properties the request of "
        "Aggregator uses: uid.",
        "missing": ["uid"],
    }
    assert not Message.objects.exists()
    assert len(wire.calls) == 0


def test_an_event_campaign_cannot_launch_without_its_request_value(
    event_sender,
) -> None:
    draft = event_campaign(status=Campaign.Status.DRAFT)

    with pytest.raises(LaunchError) as caught:
        launch(campaign=draft)

    assert "uses $$hid, which has no value" in str(caught.value)
