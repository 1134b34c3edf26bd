"""Amounts typed in Danish and in English: one parser (app.core.money), one field (app.core.fields.KronerField)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms.validators import InputRequired, NumberRange

from app.core.fields import KronerField, at_most_two_decimals
from app.core.money import AmbiguousAmount, InvalidAmount, format_kroner_grouped, parse_kroner


@pytest.mark.parametrize(
    ("text", "danish", "english"),
    [
        ("375000", "375000", "375000"),
        ("375.000", "375000", None),  # Danish grouping; ambiguous in English
        ("1,000", None, "1000"),  # English grouping; ambiguous in Danish
        ("375.000,50", "375000.50", "375000.50"),  # both marks: the last one is the decimal mark
        ("375,000.50", "375000.50", "375000.50"),
        ("1.250.000 kr.", "1250000", "1250000"),
        ("1,250,000", "1250000", "1250000"),  # several of one mark can only group thousands
        ("12,5", "12.5", "12.5"),  # one or two digits after a lone mark: a decimal mark
        ("12.50", "12.50", "12.50"),
        ("10,1234", "10.1234", "10.1234"),  # four decimals: too precise, but not ambiguous
        ("12345.678", "12345.678", "12345.678"),  # more than three digits before the mark: not a group
        ("0,500", "0.500", "0.500"),  # a thousands group never starts with 0
        ("187.500,-", "187500", None),
        ("DKK 100", "100", "100"),
        (" 1 000 kr ", "1000", "1000"),
        ("-5", "-5", "-5"),
        ("", "blank", "blank"),
    ],
)
def test_both_languages_read_their_own_way_and_every_unambiguous_way(text, danish, english):
    for language, expected in (("da", danish), ("en", english)):
        if expected is None:
            with pytest.raises(AmbiguousAmount):
                parse_kroner(text, language)
        elif expected == "blank":
            assert parse_kroner(text, language) is None
        else:
            assert parse_kroner(text, language) == Decimal(expected), (language, text)


@pytest.mark.parametrize(
    "text", ["mange penge", "NaN", "Infinity", "1e400", "1,2.3", "1.00.000", "12,34,5", ",5", "5,"]
)
def test_what_is_no_amount_in_either_language_is_invalid(text):
    for language in ("da", "en"):
        with pytest.raises(InvalidAmount) as refused:
            parse_kroner(text, language)
        assert not isinstance(refused.value, AmbiguousAmount)


def test_an_ambiguous_amount_carries_both_readings():
    with pytest.raises(AmbiguousAmount) as danish:
        parse_kroner("1,000", "da")
    assert (danish.value.as_thousands, danish.value.as_decimal) == (Decimal("1000"), Decimal("1.000"))
    assert format_kroner_grouped(Decimal("1000"), "da") == "1.000"
    assert format_kroner_grouped(Decimal("1000"), "en") == "1,000"
    assert format_kroner_grouped(Decimal("1"), "da", places=2) == "1,00"


class _AmountForm(FlaskForm):
    amount = KronerField(
        "Beløb",
        invalid_value_message="Skriv beløbet som et tal.",
        validators=[
            InputRequired(message="Skriv beløbet."),
            NumberRange(min=0, max=1000, message="For stort."),
            at_most_two_decimals("Højst to decimaler."),
        ],
    )


def _submit(app, amount: str, language: str) -> tuple[Decimal | None, list[str]]:
    """The field's data and its messages, rendered in `language` (as the page would)."""
    with app.test_request_context("/", headers={"Accept-Language": language}):
        form = _AmountForm(formdata=MultiDict({"amount": amount}), meta={"csrf": False})
        form.validate()
        return form.amount.data, [str(message) for message in form.amount.errors]


@pytest.mark.parametrize(
    ("language", "typed", "expected"),
    [("da", "1.000", Decimal("1000")), ("en", "1,000", Decimal("1000")), ("da", "1,5", Decimal("1.5"))],
)
def test_the_field_reads_the_ui_language(app, language, typed, expected):
    assert _submit(app, typed, language) == (expected, [])


@pytest.mark.parametrize(
    ("language", "typed", "message"),
    [
        ("da", "1,000", "Er det 1.000 kr. eller 1,00 kr.? Skriv beløbet som 1.000 eller 1,00."),
        ("en", "1.000", "Do you mean 1,000 kr. or 1.00 kr.? Write the amount as 1,000 or 1.00."),
        (
            "da",
            "10,123",
            "Mener du 10.123 kr.? Skriv det som 10.123 – et beløb kan højst have to decimaler (øre).",
        ),
    ],
)
def test_an_ambiguous_amount_is_refused_in_the_users_language(app, language, typed, message):
    assert _submit(app, typed, language) == (None, [message])  # and no range error after it


def test_unreadable_input_gets_the_fields_message_only(app):
    assert _submit(app, "mange penge", "da") == (None, ["Skriv beløbet som et tal."])


@pytest.mark.parametrize(("language", "expected"), [("da", "375000,50"), ("en", "375000.50")])
def test_the_field_writes_the_amount_back_in_the_ui_language(app, language, expected):
    with app.test_request_context("/", headers={"Accept-Language": language}):
        form = _AmountForm(data={"amount": Decimal("375000.50")}, meta={"csrf": False})
        assert form.amount._value() == expected
