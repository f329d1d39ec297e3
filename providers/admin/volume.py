"""Admin lists that stay fast with millions of rows.

Django's changelist counts every matching row for its paginator, searches with
a LIKE '%term%' over each search field, and builds date drill-downs and value
filters from DISTINCT over the whole table: each of those reads every row. The
pieces here bound them: a paginator that counts up to a cap, searches that are
exact or by prefix (so an index answers them), and filters whose choices are
known in advance.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin import helpers
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpRequest
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.translation import gettext as _

COUNT_CAP = 10_000


class CappedPaginator(Paginator):
    """Counts at most COUNT_CAP + 1 rows: the last pages of a list of millions
    are not what anyone pages to, and counting them all takes seconds."""

    @cached_property
    def count(self) -> int:
        return self.object_list[: COUNT_CAP + 1].count()


def number_prefix(term: str) -> Q | None:
    """Numbers beginning with what was typed (+65 9123…, or 6591…), as a range
    an index answers; None when the term is not the start of a number."""
    digits = "".join(c for c in term if c.isdigit())
    if not digits or any(c not in "+0123456789 -()" for c in term.strip()):
        return None
    start = "+" + digits
    # Every number starting with `start` sorts between it and start + "~".
    return Q(to__gte=start, to__lte=start + "~")


class FixedChoicesFilter(admin.SimpleListFilter):
    """A filter on one field whose choices are listed, not read from the rows."""

    options: tuple[tuple[str, str], ...] = ()
    # What every choice but the `common` one implies, said again in the query:
    # a database uses a partial index only when the query names its condition,
    # and the rare choices are those a capped count would otherwise scan
    # millions of rows for.
    rare: Q | None = None
    common: str | None = None

    def lookups(self, request, model_admin):
        return self.options

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        chosen = queryset.filter(**{self.parameter_name: self.value()})
        if self.rare is not None and self.value() != self.common:
            chosen = chosen.filter(self.rare)
        return chosen


class LargeList:
    """A changelist of many rows: counted up to a cap, never counted in full."""

    paginator = CappedPaginator
    show_full_result_count = False

    def action_checkbox(self, obj) -> str:
        # The input Django renders through a form widget's template, written
        # directly: a template per row is a third of a full page's time.
        label = format_html(_("Select this object for an action - {}"), str(obj))
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" '
            'aria-label="{}">',
            helpers.ACTION_CHECKBOX_NAME,
            obj.pk,
            label,
        )


class SentMessageSearch(LargeList):
    """Search messages by number (or its beginning), our id or the provider's."""

    search_fields = ["to", "message_id", "provider_message_id"]
    search_help_text = (
        "A number or its beginning (+6591…), our message id, or the provider's."
    )

    def get_search_results(self, request: HttpRequest, queryset, search_term: str):
        term = search_term.strip()
        if not term:
            return queryset, False
        found = Q(message_id=term) | Q(provider_message_id=term)
        number = number_prefix(term)
        return queryset.filter(found | number if number else found), False
