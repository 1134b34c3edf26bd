"""app.core.validators: what looks like a Danish CPR number is caught, what merely has digits is not.

Property-based (hypothesis, deterministic): every valid CPR number, in each way it is written (separators,
full-width digits, invisible characters, line breaks), inside any text; and phone numbers, dates, times,
amounts, postcodes and year ranges never."""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core.validators import contains_cpr_number, cpr_birth_year, find_cpr_numbers

DETERMINISTIC = settings(derandomize=True, deadline=None, max_examples=300, database=None)


def _reads_as_no_digit(char: str) -> bool:
    """Not a digit, and not one once normalised (¼ reads 1⁄4, ² reads 2, ① reads 1)."""
    return not any(c.isdecimal() for c in unicodedata.normalize("NFKC", char))


#: Text that cannot extend a digit run: anything that does not read as a digit.
no_digits = st.text(alphabet=st.characters(exclude_categories=("Nd", "Cs")).filter(_reads_as_no_digit), max_size=30)


def seventh_digits(year: int) -> list[int]:
    """The serial numbers' first digits CPR uses for people born in `year`."""
    digits = []
    if 1900 <= year <= 1999:
        digits += [0, 1, 2, 3]
    if 2000 <= year <= 2036 or 1937 <= year <= 1999:
        digits += [4, 9]
    if 2000 <= year <= 2057 or 1858 <= year <= 1899:
        digits += [5, 6, 7, 8]
    return digits


@st.composite
def born_and_cpr(draw) -> tuple[date, str]:
    """A date of birth and a CPR number that CPR could have given someone born that day."""
    born = draw(st.dates(min_value=date(1858, 1, 1), max_value=date(2057, 12, 31)))
    seventh = draw(st.sampled_from(seventh_digits(born.year)))
    rest = draw(st.integers(0, 999))
    separator = draw(st.sampled_from(["", "-", " ", "\u2010", "\u2013"]))
    return born, f"{born:%d%m%y}{separator}{seventh}{rest:03d}"


def cpr_numbers():
    return born_and_cpr().map(lambda pair: pair[1])


@DETERMINISTIC
@given(cpr=cpr_numbers(), before=no_digits, after=no_digits)
def test_every_valid_cpr_number_is_caught_wherever_it_stands(cpr, before, after):
    assert find_cpr_numbers(before + cpr + after) == [cpr]


#: What may stand between the parts of a written CPR number.
SEPARATORS = [" ", "\u00a0", "\u202f", "\u3000", "\t", "\n", "\r", "\u2028", ".", "/", "\\", "-", "\u2010", "\u2011"]
SEPARATORS += ["\u2012", "\u2013", "\u2014", "\u2212", "\uff0d", "\uff0e", "\uff0f"]
#: Invisible characters someone (or a word processor) may have put inside it.
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]


def _digit_forms(digit: str) -> list[str]:
    """The ASCII digit and characters that read as it: full-width and mathematical bold."""
    value = int(digit)
    return [digit, chr(0xFF10 + value), chr(0x1D7CE + value)]


@st.composite
def rendered_cpr_numbers(draw) -> tuple[str, str]:
    """(the ten digits, a way of writing them): random separators between DD, MM, YY and the serial, digits
    in full width, invisible characters anywhere inside."""
    digits = "".join(char for char in draw(cpr_numbers()) if char.isdigit())
    parts = [digits[0:2], digits[2:4], digits[4:6], digits[6:10]]
    separator = st.one_of(st.just(""), st.text(alphabet=st.sampled_from(SEPARATORS), min_size=1, max_size=3))
    chars: list[str] = []
    for index, part in enumerate(parts):
        if index:
            chars += list(draw(separator))
        chars += [draw(st.sampled_from(_digit_forms(digit))) for digit in part]
    for _ in range(draw(st.integers(0, 3))):
        chars.insert(draw(st.integers(1, len(chars) - 1)), draw(st.sampled_from(INVISIBLE)))
    return digits, "".join(chars)


@DETERMINISTIC
@given(pair=rendered_cpr_numbers(), before=no_digits, after=no_digits)
def test_every_way_of_writing_a_valid_cpr_number_is_caught(pair, before, after):
    _digits, written = pair
    assert find_cpr_numbers(before + written + after) == [written]


@DETERMINISTIC
@given(pair=born_and_cpr())
def test_the_birth_date_is_read_in_the_century_the_serial_number_gives(pair):
    born, cpr = pair
    digits = cpr.replace("-", "").replace(" ", "").replace("\u2010", "").replace("\u2013", "")
    year = cpr_birth_year(int(digits[4:6]), int(digits[6]))
    assert date(year, int(digits[2:4]), int(digits[0:2])) == born  # the very day of birth, century and all


#: CPR's century table (docs/privacy.md, "The CPR guard"): the seventh digit and the two-digit year
#: give the century. Each row: seventh digit, two-digit year, year of birth.
CENTURY_TABLE = [
    *[(d, yy, 1900 + yy) for d in (0, 1, 2, 3) for yy in (0, 36, 37, 57, 58, 99)],
    *[(d, yy, 2000 + yy) for d in (4, 9) for yy in (0, 36)],
    *[(d, yy, 1900 + yy) for d in (4, 9) for yy in (37, 57, 58, 99)],
    *[(d, yy, 2000 + yy) for d in (5, 6, 7, 8) for yy in (0, 36, 37, 57)],
    *[(d, yy, 1800 + yy) for d in (5, 6, 7, 8) for yy in (58, 99)],
]


@pytest.mark.parametrize("seventh, yy, year", CENTURY_TABLE)
def test_the_century_follows_cprs_table(seventh, yy, year):
    assert cpr_birth_year(yy, seventh) == year


@pytest.mark.parametrize(
    "text, caught",
    [
        ("290200-5123", True),  # seventh digit 5, year 00: born 2000, a leap year (1800 was none)
        ("290200-9123", True),  # seventh digit 9, year 00: born 2000
        ("290200-3123", False),  # seventh digit 3, year 00: born 1900, no leap year
    ],
)
def test_the_century_decides_29_february(text, caught):
    assert contains_cpr_number(text) is caught


@pytest.mark.parametrize(
    "text",
    [
        "Familien har cpr 010180-1234 og bor i Valby",
        "0101801234",
        "cpr: 311299 4321.",
        "290200-4123",  # 29 February 2000 (seventh digit 4: born 2000)
        "250107-5555",  # issued after 2007: no modulus-11 check
        "010180--1234",
    ],
)
def test_examples_are_caught(text):
    assert contains_cpr_number(text)


@pytest.mark.parametrize(
    "text",
    [
        "01.02.03-1234",
        "010203 - 1234",
        "0102 03 1234",
        "01 02 03 1234",
        "010203/1234",
        "01/02/03 1234",
        "010203\u00a01234",  # no-break space
        "010203\u2011\u20091234",  # non-breaking hyphen, thin space
        "\uff10\uff11\uff10\uff12\uff10\uff13-\uff11\uff12\uff13\uff14",  # full-width: ０１０２０３-１２３４
        "\uff10\uff11\uff10\uff12\uff10\uff13\uff0d1234",  # full-width hyphen, ASCII serial
        "0102\u200b03-1234",  # zero-width space
        "01\u200c02\u200d03-12\u206034",  # zero-width non-joiner and joiner, word joiner
        "\ufeff010203\ufeff-1234",  # BOM / zero-width no-break space
        "0102\u00ad03-1234",  # soft hyphen
        "010203-\n1234",  # a line break where the text was wrapped
        "010203\r\n1234",
        "01.\n02.\n03\t-\t1234",
        "Mor: 010203-1234, far: 020304-2345",
    ],
)
def test_variants_are_caught(text):
    assert contains_cpr_number(text)


def test_a_number_is_given_back_as_written():
    text = "Sagen: \uff10\uff11 02\u200b03 -\n1234."
    assert find_cpr_numbers(text) == ["\uff10\uff11 02\u200b03 -\n1234"]


def test_several_numbers_written_together_are_each_found():
    assert find_cpr_numbers("0102031234,020304-2345;030405 3456") == ["0102031234", "020304-2345", "030405 3456"]


@pytest.mark.parametrize(
    "text",
    [
        "01.02.03-1234-5",  # a longer number
        "7.01.02.03-1234",
        "01020312345",
        "1\u200b0102031234",  # an invisible character does not split a number
        "010203-12 34",  # the serial is four digits together
        "31.02.03-1234",  # no 31 February
        "+45 12 34 56 78",
        "+45 01 02 03 04",
        "Tlf. 20 30 01 02\n2300 København S",  # a phone number in pairs, then a postcode
        "12.05.26 1400-1600",  # a date and a time range
        "01.02.26 1230.50 kr",
        "01.02.2026",
        "1.234.567 kr",
        "kl. 09.00-15.30",
        "2300 København S",
        "Reg. nr. 1234 kontonr. 0012345678",
    ],
)
def test_harmless_numbers_are_not_caught(text):
    assert not contains_cpr_number(text)


@pytest.mark.parametrize(
    "text",
    [
        "320180-1234",  # no 32nd
        "011380-1234",  # no 13th month
        "290201-4123",  # 2001 is no leap year
        "290200-2123",  # seventh digit 2: born 1900, which was no leap year
        "12010180-1234",  # part of a longer number
        "010180-12345",
        "Kontonummer 9876543210123",
        "",
    ],
)
def test_near_misses_are_not_caught(text):
    assert not contains_cpr_number(text)


@DETERMINISTIC
@given(
    number=st.integers(10_000_000, 99_999_999),
    style=st.sampled_from(
        ["{n}", "{a} {b} {c} {d}", "+45 {n}", "+45{n}", "tlf. {a}{b} {c}{d}", "(+45) {a} {b} {c} {d}"]
    ),
    before=no_digits,
    after=no_digits,
)
def test_phone_numbers_are_not_flagged(number, style, before, after):
    n = f"{number}"
    text = style.format(n=n, a=n[0:2], b=n[2:4], c=n[4:6], d=n[6:8])
    assert not contains_cpr_number(before + text + after)


@DETERMINISTIC
@given(
    day=st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)),
    fmt=st.sampled_from(
        [
            "%d-%m-%Y",
            "%d.%m.%Y",
            "%Y-%m-%d",
            "%d/%m/%Y",
            "%d%m%Y",
            "%d-%m-%y",
            "%d.%m.%y kl. 09.00",
            "%d. %B %Y",
            "%d-%m-%Y %H:%M",
        ]
    ),
    before=no_digits,
    after=no_digits,
)
def test_dates_are_not_flagged(day, fmt, before, after):
    assert not contains_cpr_number(before + day.strftime(fmt) + after)


@DETERMINISTIC
@given(
    kroner=st.integers(0, 10**10),
    ore=st.integers(0, 99),
    style=st.sampled_from(
        ["{grouped} kr", "{grouped} kr.", "{grouped},{ore:02d} kr.", "kr. {grouped}", "DKK {plain}", "{plain} kr"]
    ),
    before=no_digits,
    after=no_digits,
)
def test_amounts_are_not_flagged(kroner, ore, style, before, after):
    grouped = f"{kroner:,}".replace(",", ".")
    if style == "{plain} kr" or style == "DKK {plain}":
        kroner = kroner % 10**6  # a plain amount the size a course costs, not a ten-digit number
    assert not contains_cpr_number(before + style.format(grouped=grouped, plain=kroner, ore=ore) + after)


@DETERMINISTIC
@given(
    first=st.integers(1900, 2100),
    length=st.integers(0, 20),
    separator=st.sampled_from(["-", "–", " - ", " til ", "/"]),
    before=no_digits,
    after=no_digits,
)
def test_year_ranges_are_not_flagged(first, length, separator, before, after):
    assert not contains_cpr_number(f"{before}{first}{separator}{first + length}{after}")


def test_several_harmless_numbers_in_one_text():
    text = (
        "Kurset 30-09-2008 kl. 09.00-15.30 koster 187.500 kr. for 2008-2009; ring 33 66 33 66 "
        "eller +45 33663366. Hold 12, lokale 2.14."
    )
    assert not contains_cpr_number(text)


@DETERMINISTIC
@given(
    start=st.integers(0, 23 * 60 + 59),
    length=st.integers(0, 12 * 60),
    style=st.sampled_from(
        [
            "kl. {h:02d}.{m:02d}",
            "kl. {h}.{m:02d}-{h2}.{m2:02d}",
            "{h:02d}:{m:02d}-{h2:02d}:{m2:02d}",
            "{h:02d}{m:02d}-{h2:02d}{m2:02d}",
            "{h:02d}.{m:02d} - {h2:02d}.{m2:02d}",
            "kl. {h}-{h2}",
        ]
    ),
    day=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)),
    date_style=st.sampled_from(["", "%d.%m.%Y ", "%d-%m-%Y ", "%d.%m.%y ", "%d/%m %Y ", "d. %d.%m. "]),
    before=no_digits,
    after=no_digits,
)
def test_times_are_not_flagged(start, length, style, day, date_style, before, after):
    end = (start + length) % (24 * 60)
    time = style.format(h=start // 60, m=start % 60, h2=end // 60, m2=end % 60)
    assert not contains_cpr_number(before + day.strftime(date_style) + time + after)


@DETERMINISTIC
@given(
    postcode=st.integers(1000, 9990),
    house=st.integers(1, 300),
    phone=st.integers(10_000_000, 99_999_999),
    style=st.sampled_from(
        [
            "Vesterbrogade {house}, {postcode} København V",
            "DK-{postcode} Valby",
            "Gade {house}\n{postcode} By\nTlf. {a} {b} {c} {d}",
            "Tlf. {a} {b} {c} {d}\n{postcode} By",
            "Tlf. {a} {b} {c} {d} {postcode} By",
            "{phone} / {postcode}",
        ]
    ),
    before=no_digits,
    after=no_digits,
)
def test_postcodes_and_addresses_are_not_flagged(postcode, house, phone, style, before, after):
    n = f"{phone}"
    text = style.format(postcode=postcode, house=house, phone=n, a=n[0:2], b=n[2:4], c=n[4:6], d=n[6:8])
    assert not contains_cpr_number(before + text + after)
