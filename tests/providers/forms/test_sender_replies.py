"""A sender's keywords and auto-replies: written back as they are matched, and
refused when they would opt a number both ways or could start a loop."""

from __future__ import annotations

import pytest

from providers.forms.sender import SenderForm
from providers.inbound import KeywordAction
from providers.models import Provider, Sender

pytestmark = pytest.mark.django_db


@pytest.fixture
def provider() -> Provider:
    return Provider.objects.create(nickname="Generic", endpoint="https://8.8.8.8/x")


def sender_form(provider: Provider, **fields: str) -> SenderForm:
    data = {
        "provider": provider.pk,
        "name": "Offers",
        "sender_id": "+6560001234",
        "sender_type": "promotional",
        "time_zone": "UTC",
        "opt_out_keywords": "STOP, UNSUBSCRIBE",
        "opt_in_keywords": "START",
        **fields,
    }
    return SenderForm(data)


def codes(form: SenderForm, field: str) -> list[str]:
    return [error.code for error in form.errors.as_data().get(field, [])]


def test_a_new_sender_answers_the_default_keywords(provider) -> None:
    sender = Sender.objects.create(provider=provider, name="Offers")

    assert sender.keywords().match("quit") == (KeywordAction.OPT_OUT, "QUIT")
    assert sender.keywords().match("unstop") == (KeywordAction.OPT_IN, "UNSTOP")
    assert sender.auto_reply(KeywordAction.OPT_OUT) == ""


def test_keywords_are_kept_as_they_are_matched(provider) -> None:
    form = sender_form(
        provider,
        opt_out_keywords="stop,  Stop all\nend,end",
        opt_in_keywords=" start ",
        opt_out_reply="  You will get no more offers.  ",
    )

    assert form.is_valid(), form.errors
    sender = form.save()
    assert sender.opt_out_keywords == "STOP, STOPALL, END"
    assert sender.opt_in_keywords == "START"
    assert sender.auto_reply(KeywordAction.OPT_OUT) == "You will get no more offers."
    assert sender.keywords().match("Stop All!") == (KeywordAction.OPT_OUT, "STOPALL")


def test_empty_lists_turn_keywords_off(provider) -> None:
    form = sender_form(provider, opt_out_keywords="", opt_in_keywords="")

    assert form.is_valid(), form.errors
    assert form.save().keywords().match("STOP") == ("", "")


def test_a_keyword_in_both_lists_is_refused(provider) -> None:
    form = sender_form(provider, opt_in_keywords="START, stop")

    assert not form.is_valid()
    assert codes(form, "opt_in_keywords") == ["keyword_in_both_lists"]
    assert (
        "STOP cannot both opt out and opt back in" in form.errors["opt_in_keywords"][0]
    )


@pytest.mark.parametrize(
    ("field", "text"),
    [("opt_out_reply", "Start"), ("opt_in_reply", "STOP!"), ("opt_out_reply", "stop")],
)
def test_an_auto_reply_that_is_a_keyword_is_refused(provider, field, text) -> None:
    form = sender_form(provider, **{field: text})

    assert not form.is_valid()
    assert codes(form, field) == ["auto_reply_is_keyword"]


def test_a_keyword_too_long_to_be_one_says_to_use_commas(provider) -> None:
    form = sender_form(
        provider, opt_out_keywords="Please stop sending me any more offers"
    )

    assert not form.is_valid()
    assert codes(form, "opt_out_keywords") == ["keyword_too_long"]
    assert "separate keywords with commas" in form.errors["opt_out_keywords"][0]


def test_an_auto_reply_longer_than_the_segment_limit_is_refused(
    provider, settings
) -> None:
    settings.SMS_MAX_SEGMENTS = 1

    form = sender_form(provider, opt_in_reply="Welcome back! " * 20)

    assert not form.is_valid()
    assert codes(form, "opt_in_reply") == ["too_long"]


def test_the_sender_page_has_the_replies_fields(admin_client, provider) -> None:
    sender = Sender.objects.create(provider=provider, name="Offers")

    page = admin_client.get(f"/admin/providers/sender/{sender.pk}/change/")

    html = page.content.decode()
    assert "Replies" in html
    for name in (
        "opt_out_keywords",
        "opt_out_reply",
        "opt_in_keywords",
        "opt_in_reply",
    ):
        assert f'name="{name}"' in html
    assert "STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT" in html
