"""Is a configured secret fit for production? (ProductionConfig.validate, docs/security.md "Secrets".)

Two refusals, for SECRET_KEY, OIDC_CLIENT_SECRET and the passwords inside DATABASE_URL and SMTP_URL:

- a *public* value: one printed in the repository (the example settings in deploy/*.example, the README,
  docs/, config.py's testing key) or one of `KNOWN_PUBLIC_VALUES` below (for an installation that ships
  without those files). Anyone who read the repository knows it, so with it anyone could forge a session;
- a *guessable* key (SECRET_KEY, OIDC_CLIENT_SECRET; not the passwords in the URLs, which the operator may
  not choose): made of dictionary words (`MAX_WORD_SHARE` or more of its characters are words of three or more
  letters from zxcvbn's lists), or an estimated entropy below `MIN_SECRET_BITS`. The estimate is the lower of
  length times the bits of the character classes used and zxcvbn's decomposition (repeats, sequences, keyboard
  rows, words, dates; a stretch it cannot explain counts as random characters from those classes). So
  "x" * 40, "abcabc...", "0123456789abcdef..." and "change-me-to-the-output-of-..." are refused;
  `secrets.token_urlsafe(48)` (about 380 bits estimated) and the client secrets identity providers issue
  (32+ random letters and digits) pass.

Nothing here prints a secret: the messages name the setting, never its value.
"""

from __future__ import annotations

import math
import re
import string
from pathlib import Path

#: Keys must carry at least this many bits (ASVS 5.0 V11.2.3 / V13.3: 128-bit security for secrets).
MIN_SECRET_BITS = 128
#: A key whose characters are this share or more dictionary words is text, not a random key.
MAX_WORD_SHARE = 0.4
#: How to make a good one; every refusal says it.
GENERATE_HINT = "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
#: The repository's files that show settings; a value found in one is public. Relative to the project root.
PUBLIC_TEXT_GLOBS = ("deploy/*.example", "deploy/*.md", "README.md", "docs/**/*.md", "bench/*.md", "config.py")
#: Public values also refused when those files are not installed (tests/test_production.py checks that every
#: `NAME=value` example of a secret in the repository is refused).
KNOWN_PUBLIC_VALUES = frozenset(
    {
        "change-me-to-the-output-of-python3-c-import-secrets-print-secrets.token_urlsafe-48",
        "testing-secret-key-not-for-production",
        "kursus-demo-2008",  # the demo password (app.demo)
    }
)
#: Shorter values are not looked up in the files (any short string occurs somewhere); they fail the entropy
#: check (keys) or are too short to be anything but a weak password anyway.
_MIN_LOOKUP_LENGTH = 6
#: zxcvbn's running time grows with the length: analyse in slices of this many characters.
_ZXCVBN_SLICE = 64


def _class_bits(text: str) -> float:
    """Bits per character if each were drawn at random from the character classes `text` uses."""
    size = 0
    if any(c in string.ascii_lowercase for c in text):
        size += 26
    if any(c in string.ascii_uppercase for c in text):
        size += 26
    if any(c in string.digits for c in text):
        size += 10
    if any(not (c.isascii() and c.isalnum()) for c in text):
        size += 33
    return math.log2(max(size, 2))


def _zxcvbn_bits(text: str, per_char: float) -> float:
    from zxcvbn import zxcvbn

    total = 0.0
    for start in range(0, len(text), _ZXCVBN_SLICE):
        for match in zxcvbn(text[start : start + _ZXCVBN_SLICE])["sequence"]:
            if match["pattern"] == "bruteforce":
                total += len(match["token"]) * per_char
            else:
                total += math.log2(max(float(match["guesses"]), 2.0))
    return total


def word_share(text: str) -> float:
    """The share of `text` made of dictionary words (zxcvbn's lists) of three or more letters.

    Random keys stay far below `MAX_WORD_SHARE` (token_urlsafe(16): at most about 0.25 in 5,000 draws)."""
    from zxcvbn.matching import RANKED_DICTIONARIES

    if not text:
        return 0.0
    words = [
        token
        for token in re.findall(r"[A-Za-z]{3,}", text)
        if any(token.lower() in ranks for ranks in RANKED_DICTIONARIES.values())
    ]
    return sum(len(word) for word in words) / len(text)


def estimated_bits(text: str) -> float:
    """A conservative estimate of the entropy of `text`, in bits (see the module docstring)."""
    if not text:
        return 0.0
    per_char = _class_bits(text)
    return min(len(text) * per_char, _zxcvbn_bits(text, per_char))


def public_texts(root: Path) -> list[str]:
    """The text of the repository's files that show example settings (those that exist under `root`)."""
    texts = []
    for pattern in PUBLIC_TEXT_GLOBS:
        for path in sorted(root.glob(pattern)):
            try:
                texts.append(path.read_text(encoding="utf-8", errors="replace"))
            except OSError:
                continue
    return texts


def is_public(value: str, texts: list[str]) -> bool:
    """True if `value` is a known example value or occurs in one of `texts`."""
    if value in KNOWN_PUBLIC_VALUES:
        return True
    return len(value) >= _MIN_LOOKUP_LENGTH and any(value in text for text in texts)


def key_problem(name: str, value: str | None, texts: list[str], hint: str | None = None) -> str | None:
    """Why the key `name` is unfit for production, or None. The message never contains the value; it ends
    with `hint` (default: how to generate a key)."""
    hint = hint or f"Generate one with: {GENERATE_HINT}"
    if not value:
        return f"{name} must be set in production. {hint}"
    if is_public(value, texts):
        return f"{name} is a value printed in the repository's examples or documentation, so it is public. {hint}"
    if word_share(value) >= MAX_WORD_SHARE:
        return f"{name} is made of dictionary words, so it is guessable. {hint}"
    bits = estimated_bits(value)
    if bits < MIN_SECRET_BITS:
        return (
            f"{name} is guessable (about {bits:.0f} bits of entropy estimated; at least {MIN_SECRET_BITS} "
            f"needed: no words, repeats or patterns). {hint}"
        )
    return None


def password_problem(name: str, password: str | None, texts: list[str]) -> str | None:
    """Why the password inside the URL setting `name` is unfit for production (an example's), or None."""
    if password and is_public(password, texts):
        return (
            f"The password in {name} is a value printed in the repository's examples or documentation. "
            "Set the account's real password."
        )
    return None
