"""The campaign admin: adding a campaign with its audience, the launch, cancel and
retry actions, the progress figures, the message list, and who may do what.

The provider is mocked at the HTTP wire with `responses`; on-commit callbacks
(the queued chunks) run only where a test captures and executes them.
"""

from __future__ import annotations

import json

import pytest
import responses
from django.contrib.auth.models import Group, User
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile

from campaigns import sending
from campaigns.dlr.applying import apply_waiting
from campaigns.models import AudienceMember, Campaign, Message, OptOut
from providers.models import Sender
from providers.roles import MARKETING, SUPPORT

from ..fake_provider import campaign_to, connect, numbers
from ..rows import stored_message

pytestmark = pytest.mark.django_db

ENDPOINT = "https://sms.example.test/send"
ADD_URL = "/admin/campaigns/campaign/add/"
Status = Message.Status


class Wire:
    """The provider's end of the wire: keeps every body, refuses chosen numbers."""

    def __init__(self, mock: responses.RequestsMock) -> None:
        self.bodies: list[bytes] = []
        self.refused: set[str] = set()
        mock.add_callback(responses.POST, ENDPOINT, callback=self.answer)

    def answer(self, request) -> tuple[int, dict[str, str], str]:
        self.bodies.append(request.body)
        sent = json.loads(request.body)
        if sent["to"] in self.refused:
            return 400, {}, json.dumps({"error": "invalid destination"})
        headers = {"Content-Type": "application/json"}
        return 200, headers, json.dumps({"id": "p-" + sent["mid"]})

    @property
    def ids(self) -> list[str]:
        return [json.loads(body)["mid"] for body in self.bodies]


@pytest.fixture
def wire() -> Wire:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield Wire(mock)


@pytest.fixture
def sender() -> Sender:
    return connect(ENDPOINT)


def notes(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def do(client, campaign: Campaign, action: str):
    """Runs an action as its button does; a launch as confirmed."""
    return client.post(
        f"/admin/campaigns/campaign/{campaign.pk}/do/{action}/", {"confirm": "yes"}
    )


def add_form(**overrides) -> dict:
    data = {
        "name": "Spring sale",
        "kind": "one_time",
        "event_name": "",
        "sender_type": "transactional",
        "sender": "",
        "message": "Hi $$name, 20% off today",
        "default_country": "SG",
        "scheduled_at_0": "",
        "scheduled_at_1": "",
        "audience_numbers": "",
        "_save": "Save",
    }
    return {**data, **overrides}


def csv_upload(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("audience.csv", text.encode(), content_type="text/csv")


# --- adding a campaign ----------------------------------------------------------------


def test_it_adds_a_campaign_with_its_uploaded_audience(admin_client) -> None:
    audience = csv_upload(
        "phone,name\n"
        "91234567,Ann\n"
        "+65 8123 4567,Bob\n"
        "9123 4567,Ann again\n"
        "not a number,Cy\n"
    )

    response = admin_client.post(ADD_URL, add_form(audience_file=audience))

    campaign = Campaign.objects.get()
    members = {m.to: m.fields for m in AudienceMember.objects.all()}
    assert response.status_code == 302
    assert campaign.status == Campaign.Status.DRAFT
    assert members == {
        "+6591234567": {"phone": "91234567", "name": "Ann"},
        "+6581234567": {"phone": "+65 8123 4567", "name": "Bob"},
    }
    [report] = [n for n in notes(response) if n.startswith("Audience")]
    assert report.startswith(
        "Audience: 2 numbers; 1 duplicates removed; 1 invalid rows left out (line 5: "
    )


def test_it_adds_a_campaign_with_pasted_numbers(admin_client) -> None:
    response = admin_client.post(
        ADD_URL,
        add_form(message="Sale today", audience_numbers="91234567\n81234567; 8123"),
    )

    assert response.status_code == 302
    assert sorted(AudienceMember.objects.values_list("to", flat=True)) == [
        "+6581234567",
        "+6591234567",
    ]
    assert any("line 2: 8123 is not a valid" in n for n in notes(response))


def form_errors(response) -> dict[str, list[str]]:
    assert response.status_code == 200
    return response.context["adminform"].form.errors


def test_it_refuses_a_message_using_a_column_the_audience_lacks(admin_client) -> None:
    response = admin_client.post(
        ADD_URL,
        add_form(
            message="Hi $$first_name", audience_file=csv_upload("phone\n91234567\n")
        ),
    )

    assert form_errors(response)["message"] == [
        "The message uses $$first_name, but the audience has no such column."
    ]
    assert not Campaign.objects.exists()


def test_it_refuses_a_message_that_is_too_long(admin_client, settings) -> None:
    settings.SMS_MAX_SEGMENTS = 2
    response = admin_client.post(
        ADD_URL,
        add_form(message="x" * 307, audience_file=csv_upload("phone\n91234567\n")),
    )

    assert form_errors(response)["message"] == [
        "This message is 3 segments long (GSM-7 · 307 characters · 3 segments); "
        "the maximum is 2. Shorten it."
    ]
    assert not Campaign.objects.exists()


def test_a_csv_row_whose_personalised_message_is_too_long_is_refused_by_line(
    admin_client, settings
) -> None:
    settings.SMS_MAX_SEGMENTS = 1
    audience = csv_upload(
        f"phone,name\n91234567,Ann\n81234567,{'B' * 150}\n91234568,Cy\n"
    )

    response = admin_client.post(ADD_URL, add_form(audience_file=audience))

    assert form_errors(response)["message"] == [
        "Line 3, once personalised: This message is 2 segments long (GSM-7 · 168 "
        "characters · 2 segments); the maximum is 1. Shorten it."
    ]
    assert not Campaign.objects.exists()
    assert not AudienceMember.objects.exists()


def test_it_names_five_long_rows_and_counts_the_rest(admin_client, settings) -> None:
    settings.SMS_MAX_SEGMENTS = 1
    rows = "".join(f"{to},{'B' * 150}\n" for to in numbers(8))

    response = admin_client.post(
        ADD_URL, add_form(audience_file=csv_upload("phone,name\n" + rows))
    )

    errors = list(form_errors(response)["message"])
    assert [error.split(",")[0] for error in errors[:5]] == [
        f"Line {n}" for n in range(2, 7)
    ]
    assert errors[5:] == ["3 more recipients are over the limit too."]


def test_editing_the_message_is_checked_against_the_stored_audience(
    admin_client, settings, sender
) -> None:
    settings.SMS_MAX_SEGMENTS = 1
    campaign = campaign_to(numbers(2), message="Hi $$name")
    AudienceMember.objects.filter(to=numbers(2)[1]).update(fields={"name": "B" * 150})

    response = admin_client.post(
        f"/admin/campaigns/campaign/{campaign.pk}/change/",
        add_form(message="Hi $$name, 20% off today"),
    )

    [error] = form_errors(response)["message"]
    assert error.startswith(
        f"Recipient {numbers(2)[1]}, once personalised: This message is 2 segments"
    )
    campaign.refresh_from_db()
    assert campaign.message == "Hi $$name"


def test_launch_refuses_a_personalised_message_over_a_lowered_limit(
    settings, sender
) -> None:
    campaign = campaign_to(numbers(3), message="Hi $$name")
    AudienceMember.objects.filter(to=numbers(3)[2]).update(fields={"name": "B" * 200})
    settings.SMS_MAX_SEGMENTS = 1

    with pytest.raises(sending.LaunchError) as refused:
        sending.launch(campaign=campaign)

    assert str(refused.value).startswith(
        f"The message to {numbers(3)[2]}, once personalised: This message is 2 "
        "segments long"
    )
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DRAFT
    assert not Message.objects.exists()


def test_it_refuses_an_audience_without_one_valid_number(admin_client) -> None:
    response = admin_client.post(
        ADD_URL, add_form(audience_file=csv_upload("phone,name\n123,Ann\n"))
    )

    [error] = form_errors(response)["audience_file"]
    assert error.startswith("No valid number in the audience (line 2: 123 is not")
    assert not Campaign.objects.exists()


# --- large audience files ------------------------------------------------------------


def change_url(campaign: Campaign) -> str:
    return f"/admin/campaigns/campaign/{campaign.pk}/change/"


def stored_audience(campaign: Campaign) -> list[str]:
    return list(campaign.audience.order_by("pk").values_list("to", flat=True))


def rows_of(audience: list[str]) -> str:
    return "".join(f"{to},N{i}\n" for i, to in enumerate(audience))


def test_a_large_file_read_from_disk_replaces_the_previous_audience_in_full(
    admin_client, settings
) -> None:
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024  # the upload goes to a temporary file
    campaign = campaign_to(numbers(2, start=900_000))
    audience = numbers(12_000)

    response = admin_client.post(
        change_url(campaign),
        add_form(audience_file=csv_upload("phone,name\n" + rows_of(audience))),
    )

    assert response.status_code == 302
    assert stored_audience(campaign) == audience
    assert campaign.audience.order_by("pk").last().fields == {
        "phone": audience[-1],
        "name": "N11999",
    }
    assert "Audience: 12000 numbers." in notes(response)


def test_a_file_repeating_the_previous_audience_counts_only_its_own_duplicates(
    admin_client,
) -> None:
    first, second = numbers(2)
    campaign = campaign_to([first, second])
    text = f"phone,name\n{second},Bob\n{first},Ann\n{second},Bob again\n"

    response = admin_client.post(
        change_url(campaign), add_form(audience_file=csv_upload(text))
    )

    assert response.status_code == 302
    assert list(campaign.audience.order_by("pk").values_list("to", "fields")) == [
        (second, {"phone": second, "name": "Bob"}),
        (first, {"phone": first, "name": "Ann"}),
    ]
    assert "Audience: 2 numbers; 1 duplicates removed." in notes(response)


@pytest.mark.parametrize(
    ("last_row", "field", "says"),
    [
        ("91234567,A\x00nn\n", "audience_file", "(first on line 6002)"),
        ("91234567," + "x" * 131_073 + "\n", "audience_file", "Line 6002 has a cell"),
        ("91234567," + "B" * 150 + "\n", "message", "Line 6002, once personalised"),
    ],
    ids=["nul", "cell-too-long", "personalised-too-long"],
)
def test_a_bad_row_after_thousands_of_good_ones_leaves_the_previous_audience(
    admin_client, settings, last_row, field, says
) -> None:
    settings.SMS_MAX_SEGMENTS = 1
    campaign = campaign_to(numbers(2, start=900_000))
    text = "phone,name\n" + rows_of(numbers(6_000)) + last_row

    response = admin_client.post(
        change_url(campaign), add_form(audience_file=csv_upload(text))
    )

    [error] = form_errors(response)[field]
    assert says in error
    assert stored_audience(campaign) == numbers(2, start=900_000)


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(
    admin_client, settings
) -> None:
    settings.CAMPAIGN_AUDIENCE_MAX_BYTES = 1000
    # Not UTF-8 either: reading it would have said so.
    upload = SimpleUploadedFile("audience.csv", b"phone\n\xff" + b"9" * 1000)

    response = admin_client.post(ADD_URL, add_form(audience_file=upload))

    assert form_errors(response)["audience_file"] == [
        "The file is 1007\xa0bytes, over the 1000\xa0bytes an audience file may be "
        "(CAMPAIGN_AUDIENCE_MAX_BYTES); split it into several campaigns."
    ]
    assert not Campaign.objects.exists()


def test_the_form_states_the_audience_limits(admin_client, settings) -> None:
    settings.CAMPAIGN_MAX_RECIPIENTS = 200_000
    settings.CAMPAIGN_AUDIENCE_MAX_BYTES = 50 * 1024 * 1024

    page = admin_client.get(ADD_URL).content.decode()

    assert "At most 200,000 rows and 50.0\xa0MB." in page


def test_the_report_names_ten_invalid_rows_and_counts_the_rest(admin_client) -> None:
    invalid = "".join(f"12{i},Cy\n" for i in range(13))

    response = admin_client.post(
        ADD_URL,
        add_form(audience_file=csv_upload(f"phone,name\n91234567,Ann\n{invalid}")),
    )

    [report] = [n for n in notes(response) if n.startswith("Audience")]
    assert report.startswith("Audience: 1 numbers; 13 invalid rows left out (line 3: ")
    assert report.count("line ") == 10
    assert report.endswith(" and 3 more).")


# --- launching, cancelling, retrying ----------------------------------------------


def test_launching_sends_every_message(
    admin_client, wire, sender, django_capture_on_commit_callbacks
) -> None:
    campaign = campaign_to(numbers(3))

    with django_capture_on_commit_callbacks(execute=True):
        response = do(admin_client, campaign, "launch")

    campaign.refresh_from_db()
    first = campaign.messages.get(to="+6591000000")
    assert response.status_code == 302
    assert response["Location"] == f"/admin/campaigns/campaign/{campaign.pk}/change/"
    assert notes(response) == ["“Spring sale” launched: 3 messages queued."]
    assert campaign.status == Campaign.Status.COMPLETED
    assert set(campaign.messages.values_list("status", flat=True)) == {Status.SENT}
    ids = campaign.messages.values_list("message_id", flat=True)
    assert sorted(wire.ids) == sorted(ids)
    assert (
        b'{"from":"ACME","to":"+6591000000","text":"Hi N0, your code is ready",'
        b'"mid":"' + first.message_id.encode() + b'"}'
    ) in wire.bodies
    assert first.provider_message_id == "p-" + first.message_id


def test_launching_twice_says_why_and_doubles_nothing(
    admin_client, wire, sender, django_capture_on_commit_callbacks
) -> None:
    campaign = campaign_to(numbers(3))
    with django_capture_on_commit_callbacks(execute=True):
        do(admin_client, campaign, "launch")

    with django_capture_on_commit_callbacks(execute=True):
        again = do(admin_client, campaign, "launch")

    assert notes(again)[-1] == (
        "“Spring sale” is completed; only a draft or scheduled campaign can be "
        "launched."
    )
    assert campaign.messages.count() == 3
    assert len(wire.bodies) == 3


def test_launching_through_an_archived_provider_queues_nothing(
    admin_client, wire, sender, django_capture_on_commit_callbacks
) -> None:
    sender.provider.is_active = False
    sender.provider.save()
    campaign = campaign_to(numbers(3))

    with django_capture_on_commit_callbacks(execute=True):
        response = do(admin_client, campaign, "launch")

    campaign.refresh_from_db()
    assert notes(response) == ["The provider Fake SMS is archived (inactive)."]
    assert campaign.status == Campaign.Status.DRAFT
    assert not campaign.messages.exists()
    assert wire.bodies == []


def test_cancelling_stops_the_queued_messages(admin_client, wire, sender) -> None:
    campaign = campaign_to(numbers(3))
    do(admin_client, campaign, "launch")  # chunks queued, not yet run

    response = do(admin_client, campaign, "cancel")
    sending.process_chunk(campaign_id=campaign.pk)

    campaign.refresh_from_db()
    assert notes(response)[-1] == (
        "“Spring sale” cancelled; 3 queued messages will not be sent."
    )
    assert campaign.status == Campaign.Status.CANCELLED
    assert set(campaign.messages.values_list("status", flat=True)) == {Status.CANCELLED}
    assert wire.bodies == []


def test_retrying_failed_messages_resends_them_with_their_ids(
    admin_client, wire, sender, django_capture_on_commit_callbacks
) -> None:
    audience = numbers(3)
    wire.refused = {audience[0], audience[2]}
    campaign = campaign_to(audience)
    with django_capture_on_commit_callbacks(execute=True):
        do(admin_client, campaign, "launch")
    failed = set(
        campaign.messages.filter(status=Status.FAILED).values_list(
            "message_id", flat=True
        )
    )
    wire.refused = set()

    with django_capture_on_commit_callbacks(execute=True):
        response = do(admin_client, campaign, "retry")

    campaign.refresh_from_db()
    assert len(failed) == 2
    assert notes(response)[-1] == (
        "“Spring sale”: 2 failed messages queued again, with their original "
        "message ids."
    )
    assert set(campaign.messages.values_list("status", flat=True)) == {Status.SENT}
    assert campaign.status == Campaign.Status.COMPLETED
    assert sorted(wire.ids[3:]) == sorted(failed)


def test_progress_gives_the_campaigns_figures(admin_client, wire, client) -> None:
    sender = connect(ENDPOINT, sender_type=Sender.SenderType.PROMOTIONAL)
    audience = numbers(4)
    OptOut.objects.create(to=audience[3])
    wire.refused = {audience[2]}
    campaign = campaign_to(audience, sender_type=Sender.SenderType.PROMOTIONAL)
    sending.launch(campaign=campaign)
    sending.process_chunk(campaign_id=campaign.pk)
    delivered = campaign.messages.get(to=audience[0])
    report = {
        "namespace": "SMS",
        "eventType": "outbound_message_status_changed",
        "payload": {
            "clientMessageId": delivered.message_id,
            "status": {"state": "delivered", "errorCode": 0},
        },
    }
    client.post(
        f"/dlr/{sender.provider.callback_token}/",
        json.dumps(report),
        content_type="application/json",
    )
    apply_waiting()  # what the worker does moments later

    progress = admin_client.get(
        f"/admin/campaigns/campaign/{campaign.pk}/progress/"
    ).json()

    assert progress["status"] == "completed"
    assert progress["total"] == 4
    assert progress["done"] == 4
    assert progress["counts"] == {
        "queued": 0,
        "sending": 0,
        "sent": 1,
        "delivered": 1,
        "failed": 1,
        "skipped": 1,
        "cancelled": 0,
    }
    assert progress["delivery_rate"] == 50.0
    reasons = {f["failure_label"]: f["count"] for f in progress["failures"]}
    assert reasons == {"Bad request": 1, "Opted out": 1}


def test_the_message_list_filters_by_status_and_searches_by_number(
    admin_client, wire, sender
) -> None:
    audience = numbers(3)
    wire.refused = {audience[1]}
    campaign = campaign_to(audience)
    sending.launch(campaign=campaign)
    sending.process_chunk(campaign_id=campaign.pk)

    def listed(query: str) -> list[str]:
        response = admin_client.get(f"/admin/campaigns/message/?{query}")
        assert response.status_code == 200
        return sorted(m.to for m in response.context["cl"].result_list)

    assert listed("status__exact=failed") == [audience[1]]
    assert listed("status__exact=sent") == [audience[0], audience[2]]
    assert listed("q=%2B6591000002") == [audience[2]]
    assert listed(f"campaign__id__exact={campaign.pk}") == audience


def test_the_message_list_finds_a_number_by_its_beginning_or_an_id(
    admin_client, wire, sender
) -> None:
    audience = numbers(3)
    campaign = campaign_to(audience)
    sending.launch(campaign=campaign)
    sending.process_chunk(campaign_id=campaign.pk)
    some = campaign.messages.get(to=audience[1])

    def listed(term: str) -> list[str]:
        response = admin_client.get("/admin/campaigns/message/", {"q": term})
        assert response.status_code == 200
        return sorted(m.to for m in response.context["cl"].result_list)

    assert listed("+65 9100 0001") == [audience[1]]
    assert listed("6591000001") == [audience[1]]
    assert listed("+659100000") == audience
    assert listed(some.message_id) == [audience[1]]
    # A part from the middle of a number is not a beginning: an index can only
    # answer what a number starts with.
    assert listed("91000001") == []
    assert listed("not a number or id") == []


def test_the_message_list_counts_no_further_than_its_cap(
    admin_client, wire, sender, monkeypatch
) -> None:
    from providers.admin import volume

    monkeypatch.setattr(volume, "COUNT_CAP", 2)
    audience = numbers(5)
    campaign = campaign_to(audience)
    sending.launch(campaign=campaign)

    response = admin_client.get("/admin/campaigns/message/")

    assert response.context["cl"].paginator.count == 3  # the cap, and one more


# --- who may act ----------------------------------------------------------------------


def staff(client, role: str) -> User:
    user = User.objects.create_user(username=role.replace(" ", "_"), is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return user


def test_a_marketing_admin_can_launch(
    client, wire, sender, django_capture_on_commit_callbacks
) -> None:
    staff(client, MARKETING)
    campaign = campaign_to(numbers(2))

    with django_capture_on_commit_callbacks(execute=True):
        response = do(client, campaign, "launch")

    assert response.status_code == 302
    assert campaign.messages.filter(status=Status.SENT).count() == 2


@pytest.mark.parametrize("action", ["launch", "cancel", "retry"])
def test_support_cannot_launch_cancel_or_retry(client, wire, sender, action) -> None:
    staff(client, SUPPORT)
    campaign = campaign_to(numbers(2))

    response = do(client, campaign, action)
    progress = client.get(f"/admin/campaigns/campaign/{campaign.pk}/progress/")

    campaign.refresh_from_db()
    assert response.status_code == 403
    assert campaign.status == Campaign.Status.DRAFT
    assert not campaign.messages.exists()
    assert progress.status_code == 200  # but may watch


@pytest.mark.django_db
def test_retry_failed_is_offered_only_when_something_can_be_retried(
    admin_client,
) -> None:
    from campaigns.models import Message

    from ..fake_provider import campaign_to, connect, numbers

    connect("http://127.0.0.1:9/send")
    campaign = campaign_to(numbers(2))
    campaign.status = campaign.Status.COMPLETED
    campaign.save()
    url = f"/admin/campaigns/campaign/{campaign.pk}/change/"
    for n, category in enumerate(["undelivered", "server_error"]):
        stored_message(
            campaign=campaign,
            message_id=f"m{n}",
            to=numbers(2)[n],
            body="x",
            status=Message.Status.FAILED,
            failure_category=category,
        )
        page = admin_client.get(url).content.decode()
        offered = '<li data-offered-while="retry">' in page
        # Undelivered messages reached the provider; only the 5xx one is retried.
        assert offered is (category == "server_error")
        assert "Singapore (+65)" in page
