"""The campaign composer in the admin: the preview, the launch confirmation, a
launched campaign kept read-only, actions offered only when they apply, and the
sender type a new campaign starts with."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.messages import get_messages

from campaigns import estimate
from campaigns.models import AudienceMember, Campaign, Message, OptOut
from providers.models import Sender
from providers.roles import SUPPORT

from ..fake_provider import campaign_to, connect, numbers
from ..rows import stored_message

pytestmark = pytest.mark.django_db

ENDPOINT = "https://sms.example.test/send"
LIST_URL = "/admin/campaigns/campaign/"
Status = Campaign.Status
CAMPAIGN_ACTIONS = {"launch_selected", "cancel_selected", "retry_failed_selected"}


@pytest.fixture
def sender() -> Sender:
    return connect(ENDPOINT)


def page_of(campaign: Campaign) -> str:
    return f"{LIST_URL}{campaign.pk}/change/"


def launch_url(campaign: Campaign) -> str:
    return f"{LIST_URL}{campaign.pk}/do/launch/"


def notes(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def offered(page: str) -> set[str]:
    """The action buttons shown (not hidden) on a campaign's page."""
    return set(re.findall(r'<li data-offered-while="(\w+)">', page))


def with_status(campaign: Campaign, status: str) -> Campaign:
    Campaign.objects.filter(pk=campaign.pk).update(status=status)
    campaign.refresh_from_db()
    return campaign


def failed_message(campaign: Campaign, *, category: str) -> Message:
    return stored_message(
        campaign=campaign,
        message_id=f"m-{category}",
        to=numbers(1)[0],
        body="x",
        status=Message.Status.FAILED,
        failure_category=category,
    )


# --- launch confirmation ----------------------------------------------------------


def test_launch_first_shows_recipients_segments_and_cost_units(
    admin_client, sender
) -> None:
    campaign = campaign_to(numbers(30), message="Hi $$name, " + "x" * 160)

    response = admin_client.get(launch_url(campaign))

    page = response.content.decode()
    assert response.status_code == 200
    assert '<td data-launch="recipients">30</td>' in page
    assert '<td data-launch="segments">2</td>' in page
    assert '<td data-launch="total">60</td>' in page
    assert '<td data-launch="cost">60 units (one unit per segment' in page
    assert 'name="csrfmiddlewaretoken"' in page
    assert not campaign.messages.exists()


def test_a_launch_posted_without_confirming_only_asks(admin_client, sender) -> None:
    campaign = campaign_to(numbers(3))

    response = admin_client.post(launch_url(campaign))

    campaign.refresh_from_db()
    assert response.status_code == 200
    assert "Yes, launch" in response.content.decode()
    assert campaign.status == Status.DRAFT
    assert not campaign.messages.exists()


def test_confirming_launches(admin_client, sender) -> None:
    campaign = campaign_to(numbers(3))

    response = admin_client.post(launch_url(campaign), {"confirm": "yes"})

    campaign.refresh_from_db()
    assert response.status_code == 302
    assert notes(response) == ["“Spring sale” launched: 3 messages queued."]
    assert campaign.status == Status.SENDING
    assert campaign.messages.count() == 3


def test_the_confirmation_leaves_out_opted_out_numbers(admin_client) -> None:
    connect(ENDPOINT, sender_type=Sender.SenderType.PROMOTIONAL)
    audience = numbers(4)
    OptOut.objects.create(to=audience[0])
    campaign = campaign_to(audience, sender_type=Sender.SenderType.PROMOTIONAL)

    page = admin_client.get(launch_url(campaign)).content.decode()

    assert (
        '<td data-launch="recipients">3 (1 on the opt-out list left out)</td>' in page
    )
    assert '<td data-launch="total">3</td>' in page


def test_personalised_lengths_are_counted_per_recipient(admin_client, sender) -> None:
    campaign = campaign_to(numbers(3), message="Hi $$name")
    AudienceMember.objects.filter(to=numbers(3)[2]).update(fields={"name": "€" * 80})

    page = admin_client.get(launch_url(campaign)).content.decode()

    assert '<td data-launch="segments">1–2</td>' in page
    assert '<td data-launch="total">4</td>' in page


def test_a_large_personalised_audience_is_estimated_and_says_so(
    admin_client, sender, monkeypatch
) -> None:
    monkeypatch.setattr(estimate, "COUNTED_RECIPIENTS", 2)
    campaign = campaign_to(numbers(10), message="Hi $$name " + "x" * 155)

    page = admin_client.get(launch_url(campaign)).content.decode()

    assert '<td data-launch="total">about 20</td>' in page
    assert "the total is estimated from them" in page


def test_a_campaign_that_cannot_launch_is_refused_before_asking(admin_client) -> None:
    campaign = campaign_to(numbers(2))  # no sender exists

    response = admin_client.get(launch_url(campaign))

    assert response.status_code == 302
    assert notes(response) == [
        "There is no default transactional sender; choose a sender or mark one as "
        "default."
    ]


def test_the_confirmation_is_forbidden_without_launch_permission(
    client, sender
) -> None:
    user = User.objects.create_user(username="support", is_staff=True)
    user.groups.add(Group.objects.get(name=SUPPORT))
    client.force_login(user)
    campaign = campaign_to(numbers(2))

    assert client.get(launch_url(campaign)).status_code == 403
    assert client.post(launch_url(campaign), {"confirm": "yes"}).status_code == 403
    assert not campaign.messages.exists()


def test_the_list_action_asks_before_launching(admin_client, sender) -> None:
    campaigns = [campaign_to(numbers(2), name=f"C{n}") for n in range(2)]
    chosen = {
        "action": "launch_selected",
        "_selected_action": [c.pk for c in campaigns],
    }

    asked = admin_client.post(LIST_URL, chosen)
    confirmed = admin_client.post(LIST_URL, {**chosen, "confirm": "yes"})

    page = asked.content.decode()
    assert asked.status_code == 200
    assert "Launch “C0”?" in page
    assert "Launch “C1”?" in page
    assert confirmed.status_code == 302
    assert Message.objects.count() == 4


# --- launched campaigns are read-only -----------------------------------------------


def test_a_launched_campaign_shows_no_save_buttons(admin_client, sender) -> None:
    campaign = with_status(campaign_to(numbers(2)), Status.COMPLETED)

    page = admin_client.get(page_of(campaign)).content.decode()

    assert 'name="_save"' not in page
    assert 'name="_continue"' not in page
    assert 'name="_addanother"' not in page
    assert "View on site" not in page


def test_a_change_posted_to_a_launched_campaign_is_refused(
    admin_client, sender
) -> None:
    campaign = with_status(campaign_to(numbers(2)), Status.SENDING)

    response = admin_client.post(
        page_of(campaign), {"name": "Renamed", "message": "Other", "_save": "Save"}
    )

    campaign.refresh_from_db()
    assert response.status_code == 302
    assert notes(response) == [
        "“Spring sale” is sending: a launched campaign can no longer be changed, "
        "and nothing was saved. Add a new campaign to send another message."
    ]
    assert (campaign.name, campaign.message) == (
        "Spring sale",
        "Hi $$name, your code is ready",
    )


# --- actions offered only when they apply -------------------------------------------


@pytest.mark.parametrize(
    ("status", "failure", "expected"),
    [
        (Status.DRAFT, None, {"launch"}),
        (Status.SCHEDULED, None, {"launch", "cancel"}),
        (Status.SENDING, None, {"cancel"}),
        (Status.COMPLETED, None, set()),
        (Status.COMPLETED, "server_error", {"retry"}),
        (Status.COMPLETED, "undelivered", set()),
        (Status.CANCELLED, None, set()),
    ],
)
def test_the_page_offers_the_actions_that_apply(
    admin_client, sender, status, failure, expected
) -> None:
    campaign = with_status(campaign_to(numbers(2)), status)
    if failure:
        failed_message(campaign, category=failure)

    page = admin_client.get(page_of(campaign)).content.decode()

    assert offered(page) == expected


def test_launch_is_not_offered_to_a_draft_that_cannot_launch(admin_client) -> None:
    campaign = campaign_to(numbers(2))  # no default sender

    assert offered(admin_client.get(page_of(campaign)).content.decode()) == set()


def test_cancel_posted_to_a_completed_campaign_is_refused(admin_client, sender) -> None:
    campaign = with_status(campaign_to(numbers(2)), Status.COMPLETED)

    response = admin_client.post(f"{LIST_URL}{campaign.pk}/do/cancel/")

    campaign.refresh_from_db()
    assert notes(response) == [
        "“Spring sale” is completed; only a scheduled or sending campaign can be "
        "cancelled."
    ]
    assert campaign.status == Status.COMPLETED


def test_retry_posted_with_nothing_to_retry_is_refused(admin_client, sender) -> None:
    campaign = with_status(campaign_to(numbers(2)), Status.COMPLETED)
    failed = failed_message(campaign, category="undelivered")

    response = admin_client.post(f"{LIST_URL}{campaign.pk}/do/retry/")

    failed.refresh_from_db()
    assert notes(response)[0].startswith(
        "“Spring sale” has no failed message to send again"
    )
    assert failed.status == Message.Status.FAILED


def menu(admin_client, query: str = "") -> set[str]:
    response = admin_client.get(LIST_URL + query)
    choices = response.context["action_form"].fields["action"].choices
    return {name for name, _ in choices} & CAMPAIGN_ACTIONS


def test_the_action_menu_lists_only_actions_that_apply(admin_client, sender) -> None:
    with_status(campaign_to(numbers(2), name="Done"), Status.COMPLETED)
    with_status(campaign_to(numbers(2), name="Going"), Status.SENDING)

    assert menu(admin_client) == {"cancel_selected"}
    assert menu(admin_client, "?status__exact=completed") == set()
    campaign_to(numbers(2), name="New")
    assert menu(admin_client) == {"launch_selected", "cancel_selected"}


def test_the_action_menu_offers_retry_when_a_failure_can_be_retried(
    admin_client, sender
) -> None:
    done = with_status(campaign_to(numbers(2)), Status.COMPLETED)
    failed_message(done, category="server_error")

    assert menu(admin_client) == {"retry_failed_selected"}


def test_a_list_action_posted_anyway_is_refused_per_campaign(
    admin_client, sender
) -> None:
    done = with_status(campaign_to(numbers(2), name="Done"), Status.COMPLETED)

    response = admin_client.post(
        LIST_URL, {"action": "cancel_selected", "_selected_action": [done.pk]}
    )

    done.refresh_from_db()
    assert notes(response) == [
        "“Done” is completed; only a scheduled or sending campaign can be cancelled."
    ]
    assert done.status == Status.COMPLETED


# --- the composer -------------------------------------------------------------------


def test_the_preview_shows_the_first_recipients_message(admin_client, sender) -> None:
    campaign = campaign_to(numbers(2), message="Hi $$name, see you")

    page = admin_client.get(page_of(campaign)).content.decode()

    assert re.search(
        r'<output class="campaign-preview"[^>]*>Hi N0, see you</output>', page
    )
    assert '<div class="help" id="campaign-segments">GSM-7 · 14 characters' in page
    assert 'data-row="{&quot;to&quot;: &quot;+6591000000&quot;' in page


def test_the_preview_without_an_audience_asks_for_one(admin_client, sender) -> None:
    page = admin_client.get(f"{LIST_URL}add/").content.decode()

    assert "Upload an audience to preview the first message." in page
    assert 'data-max-segments="10"' in page


def test_the_counter_says_when_the_first_message_is_over_the_limit(
    admin_client, sender, settings
) -> None:
    settings.SMS_MAX_SEGMENTS = 1
    campaign = campaign_to(numbers(1), message="x" * 200)

    page = admin_client.get(page_of(campaign)).content.decode()

    assert "2 segments — over the limit of 1; shorten it." in page


@pytest.mark.parametrize(
    ("defaults", "expected"),
    [
        ({Sender.SenderType.TRANSACTIONAL}, "transactional"),
        ({Sender.SenderType.PROMOTIONAL}, "promotional"),
        (
            {Sender.SenderType.PROMOTIONAL, Sender.SenderType.TRANSACTIONAL},
            "promotional",
        ),
        (set(), "promotional"),
    ],
)
def test_the_sender_type_starts_on_a_type_with_a_default_sender(
    admin_client, defaults, expected
) -> None:
    for kind in defaults:
        connect(ENDPOINT, sender_type=kind, nickname=f"P {kind}")

    response = admin_client.get(f"{LIST_URL}add/")

    form = response.context["adminform"].form
    assert form["sender_type"].value() == expected


def test_a_finished_campaign_shows_its_final_figures_without_script(
    admin_client, sender
) -> None:
    campaign = with_status(campaign_to(numbers(2)), Status.COMPLETED)
    for n, to in enumerate(numbers(2)):
        stored_message(
            campaign=campaign, message_id=f"d{n}", to=to, body="x", status="delivered"
        )

    page = admin_client.get(page_of(campaign)).content.decode()

    assert '<strong data-progress="done">2</strong> of' in page
    assert '<td data-count="delivered">2</td>' in page
    assert '<strong data-progress="delivery_rate">100.0 %</strong>' in page
