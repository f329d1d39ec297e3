"""campaigns.audience: reading an uploaded CSV or pasted numbers, row by row."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from campaigns.audience import Audience, read_csv, read_pasted, store, unreadable
from campaigns.forms import CampaignForm

from .fake_provider import campaign_to, numbers


def read(data: bytes, *, region: str = "SG") -> Audience:
    return read_csv(io.BytesIO(data), region=region)


def members(audience: Audience) -> dict[str, dict[str, str]]:
    return {member.to: member.fields for member in audience.recipients()}


def stored(audience: Audience) -> dict[str, dict[str, str]]:
    """The audience as a campaign holds it once stored, in the order stored."""
    campaign = campaign_to([])
    assert store(audience, campaign=campaign) == audience.count
    return dict(campaign.audience.order_by("pk").values_list("to", "fields"))


def refusal(data: bytes) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        read(data)
    return caught.value


@pytest.mark.django_db
def test_it_reads_numbers_and_keeps_the_other_columns() -> None:
    audience = read(b"phone,first_name,plan\n91234567, Ann ,Gold\n+65 8123 4567,Bob,\n")

    assert audience.columns == ["phone", "first_name", "plan"]
    assert stored(audience) == {
        "+6591234567": {"phone": "91234567", "first_name": "Ann", "plan": "Gold"},
        "+6581234567": {"phone": "+65 8123 4567", "first_name": "Bob", "plan": ""},
    }
    assert (audience.invalid, audience.duplicates) == ([], 0)


@pytest.mark.parametrize(
    "header", ["mobile", "Number", "MSISDN", "to", "destination", "phone_number"]
)
def test_it_finds_the_phone_column_by_any_of_its_names(header) -> None:
    audience = read(f"name,{header}\nAnn,91234567\n".encode())

    assert list(members(audience)) == ["+6591234567"]


def test_it_reads_numbers_without_a_country_code_for_the_chosen_country() -> None:
    audience = read(b"phone\n07400 123456\n", region="GB")

    assert list(members(audience)) == ["+447400123456"]


@pytest.mark.django_db
def test_it_removes_and_counts_duplicates() -> None:
    audience = read(
        b"phone,name\n91234567,Ann\n+6591234567,Ann again\n9123 4567,Ann 3\n"
        b"81234567,Bob\n"
    )

    members = stored(audience)

    assert list(members) == ["+6591234567", "+6581234567"]
    assert members["+6591234567"]["name"] == "Ann"  # the first one wins
    assert (audience.count, audience.duplicates) == (2, 2)


def test_it_reports_invalid_rows_with_their_line_numbers_and_leaves_them_out() -> None:
    audience = read(
        b"name,phone\nAnn,91234567\nBob,call me\n\nCy,12\nDee\nEve,81234567\n"
    )

    assert list(members(audience)) == ["+6591234567", "+6581234567"]
    lines = [line for line, _ in audience.invalid]
    reasons = dict(audience.invalid)
    assert lines == [3, 5, 6]
    assert "“call me” is not a phone number" in reasons[3]
    assert reasons[5].startswith("12 is not a valid mobile number for +65")
    assert reasons[6] == "the row has no value in the phone column"


@pytest.mark.parametrize("sep", [";", "\t", "|"], ids=["semicolon", "tab", "pipe"])
def test_it_reads_files_separated_otherwise_than_by_commas(sep) -> None:
    text = f"phone{sep}name\n91234567{sep}Lee, Ann\n81234567{sep}Bob\n"

    audience = read(text.encode())

    assert members(audience) == {
        "+6591234567": {"phone": "91234567", "name": "Lee, Ann"},
        "+6581234567": {"phone": "81234567", "name": "Bob"},
    }


@pytest.mark.parametrize(
    "data",
    [
        b"name,email\nAnn,ann@example.com\n",
        b"Telefon;Name\n91234567;Ann\n",
        b"phone:name\n91234567:Ann\n",  # ":" is no delimiter it tries
    ],
    ids=["other-columns", "other-language", "colon"],
)
def test_it_says_when_there_is_no_phone_column(data) -> None:
    error = refusal(data)

    assert error.code == "no_phone_column"
    assert error.messages == [
        "No phone column: name one of the columns phone, mobile, number, msisdn in "
        "the header row."
    ]


def test_it_says_when_the_columns_could_not_be_split() -> None:
    error = refusal(b'"phone;name"\n"91234567;Ann"\n')

    assert error.code == "wrong_delimiter"
    assert error.messages == [
        "The file seems to be separated by “;”, but its columns could not be split; "
        "use commas, with a header row."
    ]


def test_it_refuses_a_file_that_is_not_utf8() -> None:
    error = refusal("phone,name\n91234567,René\n".encode("latin-1"))

    assert error.code == "not_utf8"
    assert error.messages == [
        "The file is not UTF-8 text (byte 24 cannot be read). Save it as “CSV UTF-8” "
        "and upload it again."
    ]


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (
            b"phone,notes\n91234567," + b"x" * 131_073 + b"\n",
            "Line 2 has a cell in the column “notes” over 131,072 characters",
        ),
        (
            b'phone,notes\n91234567,ok\n91234568,ok,"' + b"x" * 131_073 + b'"\n',
            "Line 3 has a cell in column 3 over 131,072 characters",
        ),
        (
            b'phone,notes\n91234567,"' + b"x\n" * 70_000 + b'"\n',
            "Line 2 has a cell over 131,072 characters",
        ),
    ],
    ids=["named-column", "column-past-the-header", "cell-over-many-lines"],
)
def test_a_cell_over_the_csv_field_limit_is_refused_with_its_line_and_column(
    data: bytes, says: str
) -> None:
    error = refusal(data)

    assert error.code == "cell_too_long"
    assert error.messages[0].startswith(says)


def test_a_csv_error_names_the_line_and_what_to_do() -> None:
    text = io.StringIO("phone\n1\n")

    error = unreadable(csv.Error("unexpected end of data"), text, line=2, delimiter=",")

    assert error.code == "invalid_csv"
    assert error.messages == [
        "Line 2 cannot be read as CSV (unexpected end of data); check its quotes, "
        "or save the file again as “CSV UTF-8”."
    ]


def test_lines_ending_in_a_carriage_return_alone_are_read() -> None:
    audience = read(b"phone,name\r91234567,Ann\r91234568,Bob\r")

    assert list(members(audience)) == ["+6591234567", "+6591234568"]


def test_a_utf16_file_is_refused_as_not_utf8() -> None:
    error = refusal("phone\n91234567\n".encode("utf-16-le"))

    assert error.code == "nul_character"
    assert "Save it as “CSV UTF-8”" in error.messages[0]


def test_it_reads_utf8_with_a_byte_order_mark() -> None:
    audience = read("\ufeffphone,name\n91234567,René\n".encode())

    assert members(audience) == {"+6591234567": {"phone": "91234567", "name": "René"}}


@pytest.mark.parametrize("data", [b"", b" \n\n"], ids=["empty", "blank"])
def test_it_refuses_an_empty_file(data) -> None:
    assert refusal(data).code == "empty_file"


@pytest.mark.django_db
def test_it_reads_pasted_numbers_one_per_line_or_separated() -> None:
    audience = read_pasted(
        "91234567\n81234567, 9123 4567; 12\n\n +65 9876 5432 \n", region="SG"
    )

    members = stored(audience)

    assert list(members) == ["+6591234567", "+6581234567", "+6598765432"]
    assert members["+6591234567"] == {"phone": "91234567"}  # the first one wins
    assert members["+6598765432"] == {"phone": "+65 9876 5432"}
    assert audience.duplicates == 1
    assert [line for line, _ in audience.invalid] == [2]
    assert audience.columns == ["phone"]


# --- streaming: large files, limits ---------------------------------------------------


def csv_of(rows: list[str], *, header: str = "phone,name") -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def good_rows(count: int) -> list[str]:
    # Long names, so that the valid rows outgrow the in-memory spool.
    return [f"{to},{'N' * 150}{i}" for i, to in enumerate(numbers(count))]


@pytest.mark.django_db
def test_rows_past_the_first_thousands_keep_their_line_numbers_and_columns() -> None:
    rows = good_rows(12_000)
    rows[7_000] = "call me,Zed"
    rows[9_000] = f"{numbers(1)[0]},Ann"  # a duplicate of line 2

    audience = read(csv_of(rows))

    read_back = list(audience.recipients())
    members = stored(audience)
    assert (audience.count, audience.duplicates) == (11_998, 1)
    assert audience.invalid[0][0] == 7_002
    assert [r.line for r in read_back] == [i + 2 for i in range(12_000) if i != 7_000]
    assert read_back[-1].line == 12_001
    assert read_back[-1].fields == {"phone": "+6591011999", "name": "N" * 150 + "11999"}
    assert list(members) == [
        to for i, to in enumerate(numbers(12_000)) if i not in (7_000, 9_000)
    ]
    assert members[numbers(1)[0]]["name"] == "N" * 150 + "0"  # line 2's, not Ann


def test_invalid_rows_past_the_first_ten_are_counted_not_kept() -> None:
    audience = read(csv_of([f"12{i},Cy" for i in range(15)] + ["91234567,Ann"]))

    assert audience.invalid_count == 15
    assert [line for line, _ in audience.invalid] == list(range(2, 12))


def test_rows_over_the_limit_are_refused_before_the_rest_is_read(settings) -> None:
    settings.CAMPAIGN_MAX_RECIPIENTS = 3
    # Line 6 holds a NUL: it would be refused for that had it been read.
    data = csv_of([*good_rows(4), "91234567\x00,Ann"])

    error = refusal(data)

    assert error.code == "too_many_rows"
    assert error.messages == [
        "The audience has more than 3 rows, the most a campaign takes "
        "(CAMPAIGN_MAX_RECIPIENTS); split it into several campaigns."
    ]


def test_blank_rows_do_not_count_towards_the_limit(settings) -> None:
    settings.CAMPAIGN_MAX_RECIPIENTS = 2

    audience = read(csv_of(["91234567,Ann", "", ",", "81234567,Bob"]))

    assert audience.valid == 2


def test_pasted_numbers_over_the_limit_are_refused(settings) -> None:
    settings.CAMPAIGN_MAX_RECIPIENTS = 2

    with pytest.raises(ValidationError) as caught:
        read_pasted("91234567\n81234567, 91234568", region="SG")

    assert caught.value.code == "too_many_rows"


def test_a_byte_that_is_not_utf8_is_named_far_into_the_file() -> None:
    data = csv_of(good_rows(1_000))  # past the reader's first chunk of bytes
    position = len(data)

    error = refusal(data + "91234567,René\n".encode("latin-1"))

    assert error.code == "not_utf8"
    assert f"(byte {position + 13} cannot be read)" in error.messages[0]


def test_a_file_ending_inside_a_character_names_its_first_byte() -> None:
    data = "phone,name\n91234567,Zoë".encode()

    error = refusal(data[:-1])

    assert error.code == "not_utf8"
    assert f"(byte {len(data) - 1} cannot be read)" in error.messages[0]


def test_a_nul_far_into_the_file_is_refused_with_its_line() -> None:
    error = refusal(csv_of([*good_rows(8_000), "91234567,A\x00nn"]))

    assert error.code == "nul_character"
    assert "(first on line 8002)" in error.messages[0]


def test_a_line_without_end_is_refused_before_it_fills_the_memory() -> None:
    error = refusal(b"phone,notes\n91234567," + b"x," * 600_000)

    assert error.code == "line_too_long"
    assert error.messages == [
        "Line 2 is over 1,048,576 characters long, the most a line may hold; check "
        "that the file has one row a line."
    ]


def test_a_long_cell_far_into_the_file_names_its_line_and_column() -> None:
    error = refusal(csv_of([*good_rows(6_000), "91234567," + "x" * 131_073]))

    assert error.code == "cell_too_long"
    assert error.messages[0].startswith(
        "Line 6002 has a cell in the column “name” over 131,072 characters"
    )


# --- through the campaign form ------------------------------------------------------


def campaign_form(**audience) -> CampaignForm:
    data = {
        "name": "Spring sale",
        "kind": "one_time",
        "sender_type": "transactional",
        "message": "Hi $$name",
        "default_country": "SG",
        "audience_numbers": audience.get("pasted", ""),
    }
    files = {}
    if "csv" in audience:
        files["audience_file"] = SimpleUploadedFile("audience.csv", audience["csv"])
    return CampaignForm(data=data, files=files)


@pytest.mark.django_db
def test_the_form_refuses_a_file_without_one_valid_number() -> None:
    form = campaign_form(csv=b"phone,name\n123,Ann\nabc,Bob\n")

    assert not form.is_valid()
    [error] = form.errors.as_data()["audience_file"]
    assert error.code == "no_valid_rows"
    assert error.messages[0].startswith(
        "No valid number in the audience (line 2: 123 is not a valid"
    )
    assert "line 3: “abc” is not a phone number" in error.messages[0]


@pytest.mark.django_db
def test_the_form_refuses_pasted_text_without_one_valid_number() -> None:
    form = campaign_form(pasted="12\n34")

    assert not form.is_valid()
    assert [e.code for e in form.errors.as_data()["audience_numbers"]] == [
        "no_valid_rows"
    ]


@pytest.mark.django_db
def test_the_form_puts_an_unreadable_file_on_the_file_field() -> None:
    form = campaign_form(csv="phone\n9123456é\n".encode("latin-1"))

    assert not form.is_valid()
    assert [e.code for e in form.errors.as_data()["audience_file"]] == ["not_utf8"]


@pytest.mark.django_db
def test_the_form_puts_a_cell_over_the_limit_on_the_file_field() -> None:
    form = campaign_form(csv=b"phone,name\n91234567," + b"x" * 200_000 + b"\n")

    assert not form.is_valid()
    [error] = form.errors.as_data()["audience_file"]
    assert error.code == "cell_too_long"
    assert "Line 2" in error.messages[0]


@pytest.mark.django_db
def test_the_form_accepts_a_file_with_some_valid_numbers() -> None:
    form = campaign_form(csv=b"phone,name\n91234567,Ann\n123,Bob\n")

    assert form.is_valid(), form.errors
    assert list(members(form.audience)) == ["+6591234567"]
    assert form.preview() == "Hi Ann"
