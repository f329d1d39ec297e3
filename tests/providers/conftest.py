from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth.models import Group, User


@pytest.fixture
def staff_in(db, client) -> Callable[[str], User]:
    """Log the test client in as a staff user holding one role (group)."""

    def login(role: str) -> User:
        user = User.objects.create_user(
            username=role.lower().replace(" ", "_"), is_staff=True
        )
        user.groups.add(Group.objects.get(name=role))
        client.force_login(user)
        return user

    return login
