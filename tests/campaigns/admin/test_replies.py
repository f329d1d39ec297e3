"""The inbound replies list: per number, campaign, provider and keyword action,
read-only, and who may read it."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from campaigns.models import Campaign, InboundMessage
from providers.models import Provider
from providers.roles import MARKETING, ONBOARDING, SUPPORT

pytestmark = pytest.mark.django_db

LIST = reverse("admin:campaigns_inboundmessage_changelist")


@pytest.fixture
def replies() -> dict[str, InboundMessage]:
    eight = Provider.objects.create(nickname="8x8 SMS", endpoint="https://8.8.8.8/x")
    twilio = Provider.objects.create(nickname="Twilio", endpoint="https://8.8.4.4/x")
    may = Campaign.objects.create(name="May offers", message="Hi")
    june = Campaign.objects.create(name="June offers", message="Hi")

    def kept(name: str, **fields) -> InboundMessage:
        return InboundMessage.objects.create(text=f"text of {name}", **fields)

    return {
        "stop": kept(
            "stop",
            provider=eight,
            from_number="+6591000001",
            campaign=may,
            keyword="STOP",
            action="opt_out",
        ),
        "thanks": kept(
            "thanks", provider=eight, from_number="+6591000001", campaign=june
        ),
        "start": kept(
            "start",
            provider=twilio,
            from_number="+6591000002",
            campaign=may,
            keyword="START",
            action="opt_in",
        ),
        "stranger": kept("stranger", provider=twilio, from_number="+6591000003"),
    }


def listed(client, **filters) -> set[str]:
    page = client.get(f"{LIST}?{urlencode(filters)}")
    assert page.status_code == 200
    return {r.text.removeprefix("text of ") for r in page.context["cl"].result_list}


def test_it_lists_every_reply_and_filters_them(admin_client, replies) -> None:
    stop = replies["stop"]

    assert listed(admin_client) == {"stop", "thanks", "start", "stranger"}
    assert listed(admin_client, from_number="+6591000001") == {"stop", "thanks"}
    assert listed(admin_client, q="+6591000003") == {"stranger"}
    assert listed(admin_client, campaign__id__exact=stop.campaign_id) == {
        "stop",
        "start",
    }
    assert listed(admin_client, provider__id__exact=stop.provider_id) == {
        "stop",
        "thanks",
    }
    assert listed(admin_client, action__exact="opt_out") == {"stop"}
    assert listed(admin_client, action__exact="opt_in") == {"start"}


def test_a_number_links_to_all_its_replies(admin_client, replies) -> None:
    page = admin_client.get(LIST).content.decode()

    assert f'href="{LIST}?from_number=%2B6591000001"' in page


def test_the_campaign_filter_offers_only_campaigns_with_replies(
    admin_client, replies
) -> None:
    Campaign.objects.create(name="Silent campaign", message="Hi")

    page = admin_client.get(LIST).content.decode()

    assert "May offers" in page
    assert "Silent campaign" not in page


def test_the_campaign_page_links_to_its_replies(admin_client, replies) -> None:
    may = replies["stop"].campaign
    may.status = Campaign.Status.COMPLETED
    may.save()

    page = admin_client.get(reverse("admin:campaigns_campaign_change", args=[may.pk]))

    assert f'href="{LIST}?campaign__id__exact={may.pk}"' in page.content.decode()


def test_a_reply_is_read_only(admin_client, replies) -> None:
    change = reverse("admin:campaigns_inboundmessage_change", args=[replies["stop"].pk])

    page = admin_client.get(change)
    refused = admin_client.post(change, {"text": "edited"})

    assert page.status_code == 200
    assert "text of stop" in page.content.decode()
    assert 'name="_save"' not in page.content.decode()
    assert refused.status_code == 403
    assert (
        admin_client.get(reverse("admin:campaigns_inboundmessage_add")).status_code
        == 403
    )


@pytest.mark.parametrize("role", [MARKETING, SUPPORT, ONBOARDING])
def test_every_role_reads_the_replies_and_none_deletes_them(
    client, replies, role: str
) -> None:
    user = User.objects.create_user(username="staff", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)

    assert listed(client) == {"stop", "thanks", "start", "stranger"}
    page = client.get(LIST).content.decode()
    assert 'value="delete_selected"' not in page
    delete = reverse("admin:campaigns_inboundmessage_delete", args=[replies["stop"].pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert InboundMessage.objects.count() == 4
