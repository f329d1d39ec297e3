"""Who may run which admin action: every role, a staff user with no role and the
superuser, against every action and button that changes something.

Each action is posted as that user, as a browser would (refused ones too, as if
the menu had offered them), and its effect is read back from the database:
allowed actions take effect, refused ones are answered 403 and change nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
import responses
from django.contrib.auth.models import Group, User
from django.db.models import Model
from django.test import Client
from django.urls import reverse

from campaigns.models import ApiToken, Campaign, Message, OptOut
from providers import health
from providers.health import ProviderHealth
from providers.models import Provider, Sender
from providers.models import TestSend as SentTest
from providers.outbound.outcomes import Category
from providers.roles import MARKETING, ONBOARDING, SUPPORT
from providers.routes import Route, RouteStep

from .campaigns.fake_provider import accepted_test_send, campaign_to, connect, numbers
from .campaigns.rows import stored_message

pytestmark = pytest.mark.django_db

ENDPOINT = "https://sms.example.test/send"
NO_ROLE = "staff with no role"
SUPERUSER = "superuser"
ROLES = [ONBOARDING, SUPPORT, MARKETING, NO_ROLE, SUPERUSER]


def log_in(client: Client, role: str) -> User:
    user = User.objects.create_user(
        username="user", is_staff=True, is_superuser=role == SUPERUSER
    )
    if role in (ONBOARDING, SUPPORT, MARKETING):
        user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return user


def changelist(model: type) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")


def post_action(client: Client, model: type, action: str, *pks: int, **extra: str):
    data = {"action": action, "_selected_action": list(pks), "index": "0", **extra}
    return client.post(changelist(model), data)


def offered_in_menu(client: Client, model: type, action: str) -> bool:
    page = client.get(changelist(model))
    return page.status_code == 200 and f'value="{action}"' in page.content.decode()


def campaign_button(action: str) -> Callable[[Client, Campaign], bool]:
    def offered(client: Client, campaign: Campaign) -> bool:
        page = client.get(
            reverse("admin:campaigns_campaign_change", args=[campaign.pk])
        )
        # Hidden buttons stand ready for the progress panel to show them.
        return f'<li data-offered-while="{action}">' in page.content.decode()

    return offered


# --- the actions ----------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """What to set up, how to ask for the action, whether it was done, and
    whether the page offered it to the user in the first place."""

    name: str
    allowed: frozenset[str]
    setup: Callable[[], object]
    run: Callable[[Client, object], object]
    done: Callable[[object], bool]
    offered: Callable[[Client, object], bool]

    def __str__(self) -> str:
        return self.name


def provider() -> Provider:
    return connect(ENDPOINT).provider


def draft() -> Campaign:
    connect(ENDPOINT)
    return campaign_to(numbers(2))


def sending_campaign() -> Campaign:
    campaign = draft()
    campaign.status = Campaign.Status.SENDING
    campaign.save()
    for n, to in enumerate(numbers(2)):
        stored_message(campaign=campaign, message_id=f"m{n}", to=to, body="x")
    return campaign


def with_a_failure() -> Campaign:
    campaign = draft()
    campaign.status = Campaign.Status.COMPLETED
    campaign.save()
    stored_message(
        campaign=campaign,
        message_id="m0",
        to=numbers(1)[0],
        body="x",
        status=Message.Status.FAILED,
        failure_category="server_error",
    )
    return campaign


def unread_id_test() -> SentTest:
    test = accepted_test_send(provider(), "m-1")
    test.response_excerpt = '{"umid": "u-1"}'
    test.save()
    Provider.objects.filter(pk=test.provider_id).update(message_id_path="")
    return test


def token() -> ApiToken:
    token = ApiToken(name="app-backend")
    token.issue()
    token.save()
    return token


def send_test(client: Client, sent: Provider):
    url = reverse("admin:providers_provider_send_test", args=[sent.pk])
    data = {"country": "SG", "number": "91234567", "message": "Hello"}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as wire:
        wire.post(ENDPOINT, json={"id": "p-1"})
        return client.post(url, data)


def campaign_added(client: Client, _: object):
    data = {
        "name": "Spring sale",
        "kind": "one_time",
        "sender_type": "transactional",
        "message": "Hello",
        "default_country": "SG",
        "audience_numbers": "+6591234567",
        "_save": "Save",
    }
    return client.post(reverse("admin:campaigns_campaign_add"), data)


def campaign_do(action: str) -> Callable[[Client, Campaign], object]:
    def run(client: Client, campaign: Campaign):
        # A launch as confirmed; cancel and retry ignore the confirmation.
        return client.post(
            reverse("admin:campaigns_campaign_action", args=[campaign.pk, action]),
            {"confirm": "yes"},
        )

    return run


def status_of(campaign: Campaign) -> str:
    return Campaign.objects.get(pk=campaign.pk).status


def never_offered(client: Client, _: object) -> bool:
    return False


def paused(provider: Provider) -> bool:
    return ProviderHealth.objects.filter(provider=provider, paused=True).exists()


def paused_provider() -> Provider:
    paused = provider()
    health.pause(paused.pk, reason="Paused by the on-call.")
    return paused


def route() -> Route:
    sender = connect(ENDPOINT)
    route = Route.objects.create(name="Main route")
    RouteStep.objects.create(route=route, sender=sender)
    return route


def route_added(client: Client, _: object):
    sender = Sender.objects.get()
    data = {
        "name": "Main route",
        "fallback_on": ["connection", "server_error"],
        "attempts_per_provider": "2",
        "steps-TOTAL_FORMS": "1",
        "steps-INITIAL_FORMS": "0",
        "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000",
        "steps-0-position": "0",
        "steps-0-sender": str(sender.pk),
        "steps-0-countries": "",
        "_save": "Save",
    }
    return client.post(reverse("admin:providers_route_add"), data)


def route_tested(client: Client, tested: Route):
    url = reverse("admin:providers_route_test", args=[tested.pk])
    data = {"country": "SG", "number": "91234567", "message": "Hello"}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as wire:
        wire.post(ENDPOINT, json={"id": "p-1"})
        return client.post(url, data)


ONBOARDING_ONLY = frozenset({ONBOARDING, SUPERUSER})
MARKETING_ONLY = frozenset({MARKETING, SUPERUSER})
MENU_ACTIONS = {
    "launch": "launch_selected",
    "cancel": "cancel_selected",
    "retry": "retry_failed_selected",
}


def campaign_action(
    action: str, setup: Callable[[], Campaign], done: Callable[[Campaign], bool]
) -> list[Action]:
    """A campaign action both ways: its button on the campaign, and the same
    action from the list's menu on the selected campaigns."""
    menu = MENU_ACTIONS[action]
    return [
        Action(
            f"{action} (button)",
            MARKETING_ONLY,
            setup,
            campaign_do(action),
            done,
            campaign_button(action),
        ),
        Action(
            f"{action} (menu)",
            MARKETING_ONLY,
            setup,
            lambda c, x: post_action(c, Campaign, menu, x.pk, confirm="yes"),
            done,
            lambda c, _: offered_in_menu(c, Campaign, menu),
        ),
    ]


def deleting(
    model: type[Model], allowed: frozenset[str], setup: Callable[[], Model]
) -> Action:
    """The list's "Delete selected", confirmed."""
    return Action(
        f"delete {model._meta.verbose_name}s",
        allowed,
        setup,
        lambda c, obj: post_action(c, model, "delete_selected", obj.pk, post="yes"),
        lambda obj: not model.objects.filter(pk=obj.pk).exists(),
        lambda c, _: offered_in_menu(c, model, "delete_selected"),
    )


ACTIONS = [
    Action(
        "rotate callback URL",
        ONBOARDING_ONLY,
        provider,
        lambda c, p: post_action(c, Provider, "rotate_callback_urls", p.pk),
        lambda p: Provider.objects.get(pk=p.pk).previous_callback_token != "",
        lambda c, p: offered_in_menu(c, Provider, "rotate_callback_urls"),
    ),
    deleting(Provider, ONBOARDING_ONLY, provider),
    Action(
        "pause a provider",
        frozenset({ONBOARDING, SUPPORT, SUPERUSER}),
        provider,
        lambda c, p: post_action(c, Provider, "pause_providers", p.pk),
        paused,
        lambda c, p: offered_in_menu(c, Provider, "pause_providers"),
    ),
    Action(
        "resume a provider",
        frozenset({ONBOARDING, SUPPORT, SUPERUSER}),
        paused_provider,
        lambda c, p: post_action(c, Provider, "resume_providers", p.pk),
        lambda p: not paused(p),
        lambda c, p: offered_in_menu(c, Provider, "resume_providers"),
    ),
    Action(
        "add a route",
        ONBOARDING_ONLY,
        lambda: connect(ENDPOINT),
        route_added,
        lambda _: Route.objects.filter(name="Main route").exists(),
        lambda c, _: c.get(reverse("admin:providers_route_add")).status_code == 200,
    ),
    deleting(Route, ONBOARDING_ONLY, route),
    Action(
        "test a route",
        frozenset({ONBOARDING, SUPPORT, SUPERUSER}),
        route,
        route_tested,
        lambda r: SentTest.objects.filter(category=Category.ACCEPTED).exists(),
        lambda c, r: (
            "route-test-link"
            in c.get(reverse("admin:providers_route_change", args=[r.pk])).text
        ),
    ),
    deleting(Sender, ONBOARDING_ONLY, lambda: connect(ENDPOINT)),
    Action(
        "send a test SMS",
        frozenset({ONBOARDING, SUPPORT, SUPERUSER}),
        provider,
        send_test,
        lambda p: SentTest.objects.filter(
            provider=p, category=Category.ACCEPTED
        ).exists(),
        lambda c, p: (
            "send-test-link"
            in c.get(reverse("admin:providers_provider_change", args=[p.pk])).text
        ),
    ),
    Action(
        "use a test's message id",
        ONBOARDING_ONLY,
        unread_id_test,
        lambda c, t: c.post(
            reverse(
                "admin:providers_provider_use_message_id",
                args=[t.provider_id, t.pk],
            ),
            {"path": "umid"},
        ),
        lambda t: Provider.objects.get(pk=t.provider_id).message_id_path == "umid",
        lambda c, t: (
            "data-id-proposal"
            in c.get(
                reverse("admin:providers_provider_send_test", args=[t.provider_id])
                + f"?result={t.pk}"
            ).text
        ),
    ),
    deleting(
        SentTest, frozenset({SUPERUSER}), lambda: accepted_test_send(provider(), "m-1")
    ),
    Action(
        "add a campaign",
        MARKETING_ONLY,
        lambda: connect(ENDPOINT),
        campaign_added,
        lambda _: Campaign.objects.filter(name="Spring sale").exists(),
        lambda c, _: c.get(reverse("admin:campaigns_campaign_add")).status_code == 200,
    ),
    *campaign_action(
        "launch", draft, lambda c: status_of(c) == Campaign.Status.SENDING
    ),
    *campaign_action(
        "cancel",
        sending_campaign,
        lambda c: status_of(c) == Campaign.Status.CANCELLED,
    ),
    *campaign_action(
        "retry",
        with_a_failure,
        lambda c: c.messages.filter(status=Message.Status.QUEUED).exists(),
    ),
    deleting(Campaign, frozenset({SUPERUSER}), draft),
    Action(
        "create an API token",
        ONBOARDING_ONLY,
        lambda: None,
        lambda c, _: c.post(
            reverse("admin:campaigns_apitoken_add"),
            {"name": "app-backend", "_save": "Save"},
        ),
        lambda _: ApiToken.objects.filter(name="app-backend").exists(),
        lambda c, _: c.get(reverse("admin:campaigns_apitoken_add")).status_code == 200,
    ),
    Action(
        "deactivate an API token",
        ONBOARDING_ONLY,
        token,
        lambda c, t: post_action(c, ApiToken, "deactivate", t.pk),
        lambda t: not ApiToken.objects.get(pk=t.pk).is_active,
        lambda c, _: offered_in_menu(c, ApiToken, "deactivate"),
    ),
    Action(
        "add an opt-out",
        MARKETING_ONLY,
        lambda: None,
        lambda c, _: c.post(
            reverse("admin:campaigns_optout_add"),
            {"to": "+6591234567", "source": "admin", "_save": "Save"},
        ),
        lambda _: OptOut.objects.filter(to="+6591234567").exists(),
        lambda c, _: c.get(reverse("admin:campaigns_optout_add")).status_code == 200,
    ),
    deleting(OptOut, MARKETING_ONLY, lambda: OptOut.objects.create(to="+6591234567")),
]


@pytest.fixture
def target(client, role: str, action: Action) -> object:
    """What the action is run on, with the client logged in as the role."""
    log_in(client, role)
    return action.setup()


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ACTIONS, ids=str)
def test_each_role_runs_exactly_the_actions_it_is_allowed(
    client, role: str, action: Action, target: object
) -> None:
    response = action.run(client, target)

    if role in action.allowed:
        assert response.status_code in (200, 302), response.content[:500]
        assert action.done(target)
    else:
        assert response.status_code == 403
        assert not action.done(target)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ACTIONS, ids=str)
def test_each_role_is_offered_exactly_the_actions_it_is_allowed(
    client, role: str, action: Action, target: object
) -> None:
    assert action.offered(client, target) is (role in action.allowed)


def test_a_support_user_rotating_a_callback_url_leaves_the_old_one_in_force(
    client,
) -> None:
    log_in(client, SUPPORT)
    sender = connect(ENDPOINT)
    before = sender.provider.callback_token

    response = post_action(client, Provider, "rotate_callback_urls", sender.provider_id)

    assert response.status_code == 403
    sender.provider.refresh_from_db()
    assert sender.provider.callback_token == before
    assert sender.provider.previous_callback_token == ""
