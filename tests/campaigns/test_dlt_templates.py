"""DLT message templates (India) on campaigns, events and Send Test SMS: every
text is checked against its registered template before anything is sent, and
$$TemplateID / $$TemplateVariables reach the provider in its format."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import responses
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from campaigns.forms import CampaignForm
from campaigns.models import AudienceMember, Campaign, Message
from campaigns.sending import LaunchError, launch
from providers.message_templates import MessageTemplate
from providers.models import Provider, Sender
from providers.models import TestSend as SentTest

from .test_event_api import OTP, event_campaign

pytestmark = pytest.mark.django_db

ENDPOINT = "https://dlt-sms.example.test/send"
PAYLOAD = (
    '{"tid": "$$TemplateID", "to": "$$To", "text": "$$Body", '
    '"vars": "$$TemplateVariables", "ref": "$$MessageID"}'
)
REGISTERED = "Dear {#var#}, your order {#var#} has shipped. - ACME"


@pytest.fixture
def wire() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.post(ENDPOINT, json={"id": "p-1"})
        yield mock


@pytest.fixture
def sender() -> Sender:
    provider = Provider.objects.create(
        nickname="Indian aggregator",
        endpoint=ENDPOINT,
        payload=PAYLOAD,
        message_id_path="id",
        template_variables_format="pipe",
    )
    return Sender.objects.create(
        provider=provider,
        name="ACMEIN",
        sender_id="ACMEIN",
        sender_type=Sender.SenderType.TRANSACTIONAL,
        is_default=True,
    )


@pytest.fixture
def template(sender) -> MessageTemplate:
    return MessageTemplate.objects.create(
        name="Shipped",
        template_id="1107161234567890123",
        text=REGISTERED,
        sender=sender,
        entity_id="1101234567890123456",
    )


def campaign_to(rows: list[dict[str, str]], **fields) -> Campaign:
    campaign = Campaign.objects.create(
        **{
            "name": "Shipping",
            "sender_type": Sender.SenderType.TRANSACTIONAL,
            "message": "Dear $$name, your order $$order has shipped. - ACME",
            **fields,
        }
    )
    AudienceMember.objects.bulk_create(
        AudienceMember(campaign=campaign, to=row["phone"], fields=row) for row in rows
    )
    return campaign


ANN = {"phone": "+919812345678", "name": "Ann", "order": "A-17"}


def test_a_template_campaign_sends_its_id_and_variables(
    wire, template, django_capture_on_commit_callbacks
) -> None:
    campaign = campaign_to([ANN], template=template)

    with django_capture_on_commit_callbacks(execute=True):
        assert launch(campaign=campaign) == 1

    message = Message.objects.get()
    assert (
        wire.calls[0].request.body
        == (
            '{"tid":"1107161234567890123","to":"+919812345678",'
            '"text":"Dear Ann, your order A-17 has shipped. - ACME",'
            f'"vars":"Ann|A-17","ref":"{message.message_id}"}}'
        ).encode()
    )
    assert message.status == Message.Status.SENT


def test_a_text_that_leaves_its_template_stops_the_launch_whole(template) -> None:
    long_name = {**ANN, "phone": "+919812345679", "name": "N" * 31}
    campaign = campaign_to([ANN, long_name], template=template)

    with pytest.raises(LaunchError) as caught:
        launch(campaign=campaign)

    assert str(caught.value) == (
        "The message to +919812345679: Variable 1 of the template “Shipped” is 31 "
        f"characters (“{'N' * 31}…”); DLT allows at most 30."
    )
    assert not Message.objects.exists()


def test_a_provider_that_needs_a_template_id_sends_nothing_without_one(
    sender,
) -> None:
    campaign = campaign_to([ANN])

    with pytest.raises(LaunchError) as caught:
        launch(campaign=campaign)

    assert str(caught.value) == (
        "The request of Indian aggregator uses $$TemplateID: choose the DLT "
        "template the message follows."
    )


def test_a_template_of_another_sender_is_refused(template) -> None:
    other = Sender.objects.create(
        provider=template.sender.provider,
        name="OTHER",
        sender_type=Sender.SenderType.PROMOTIONAL,
        is_default=True,
    )
    campaign = campaign_to(
        [ANN], template=template, sender=other, sender_type="promotional"
    )

    with pytest.raises(LaunchError) as caught:
        launch(campaign=campaign)

    assert "is registered for the sender" in str(caught.value)
    assert str(other) in str(caught.value)


def audience_csv() -> dict:
    data = b"phone,name,order\n9812345678,Ann,A-17\n"
    return {"audience_file": SimpleUploadedFile("a.csv", data, "text/csv")}


def test_the_campaign_form_checks_the_message_against_the_template(
    template,
) -> None:
    data = {
        "name": "Shipping",
        "kind": Campaign.Kind.ONE_TIME,
        "sender_type": Sender.SenderType.TRANSACTIONAL,
        "template": str(template.pk),
        "message": "Hi $$name, your order $$order has shipped. - ACME",
        "default_country": "IN",
    }

    form = CampaignForm(data=data, files=audience_csv())

    assert not form.is_valid()
    assert form.errors["message"] == [
        "The text does not match the DLT template “Shipped”: it must start with “Dear”."
    ]
    data["message"] = "Dear $$name, your order $$order has shipped. - ACME"
    fixed = CampaignForm(data=data, files=audience_csv())
    assert fixed.is_valid(), fixed.errors


# --- events -------------------------------------------------------------------------


def test_an_event_campaign_with_a_template_sends_its_variables(
    post, template, wire
) -> None:
    event_campaign(message="Dear $$name, your order $$order has shipped. - ACME")
    event_campaign(
        name="Shipping (DLT)",
        template=template,
        message="Dear $$name, your order $$order has shipped. - ACME",
        event_name="shipped",
    )

    response = post(
        {**OTP, "event": "shipped", "properties": {"name": "Bo", "order": "B-2"}}
    )

    assert response.status_code == 202
    body = json.loads(wire.calls[0].request.body)
    assert (body["tid"], body["vars"]) == ("1107161234567890123", "Bo|B-2")


def test_an_event_whose_text_leaves_the_template_is_refused_with_422(
    post, template, wire
) -> None:
    event_campaign(
        template=template,
        message="Dear $$name, your order $$order has shipped. - ACME",
        event_name="shipped",
    )

    response = post(
        {**OTP, "event": "shipped", "properties": {"name": "X" * 40, "order": "1"}}
    )

    assert response.status_code == 422
    assert "DLT allows at most 30" in response.json()["error"]
    assert not Message.objects.exists()
    assert len(wire.calls) == 0


# --- Send Test SMS ------------------------------------------------------------------


def send_test(client, provider: Provider, **fields):
    return client.post(
        reverse("admin:providers_provider_send_test", args=[provider.pk]),
        {"country": "IN", "number": "9812345678", **fields},
    )


def test_send_test_sms_with_a_template_sends_its_id_and_variables(
    admin_client, template, wire
) -> None:
    answer = send_test(
        admin_client,
        template.sender.provider,
        message="Dear Ann, your order A-17 has shipped. - ACME",
        template=str(template.pk),
    )

    assert answer.status_code == 302
    body = json.loads(wire.calls[0].request.body)
    assert (body["tid"], body["vars"]) == ("1107161234567890123", "Ann|A-17")


def test_send_test_sms_refuses_a_text_off_its_template_or_no_template(
    admin_client, template, wire
) -> None:
    provider = template.sender.provider

    off = send_test(
        admin_client,
        provider,
        message="Dear Ann, your parcel A-17 has shipped. - ACME",
        template=str(template.pk),
    )
    missing = send_test(
        admin_client, provider, message="Dear Ann, your order 1 has shipped. - ACME"
    )

    assert "Only the template&#x27;s {#var#} parts may change." in (
        off.content.decode()
    )
    assert "uses $$TemplateID: choose the DLT template" in missing.content.decode()
    assert len(wire.calls) == 0
    assert SentTest.objects.filter(category="invalid").count() == 2


def test_onboarding_registers_templates_in_the_admin(admin_client, sender) -> None:
    answer = admin_client.post(
        reverse("admin:providers_messagetemplate_add"),
        {
            "name": "OTP",
            "template_id": "1107-bad",
            "text": "Your OTP is {#var#}. - ACME",
            "sender": str(sender.pk),
            "entity_id": "1101234567890123456",
        },
    )

    assert answer.status_code == 200
    assert "Enter the ID" in answer.content.decode()
    assert not MessageTemplate.objects.exists()
