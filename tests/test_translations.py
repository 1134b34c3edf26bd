"""English is complete: every string the code and the templates mark for translation has an English text.

The extraction here is the one `make messages` runs (babel.cfg, keyword `_l`, and folders starting with "_"
included: Babel skips them by default, which once left the form macros' strings untranslated).
"""

from __future__ import annotations

import os

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from config import BASE_DIR

CATALOGUE = BASE_DIR / "translations" / "en" / "LC_MESSAGES" / "messages.po"


def _extracted() -> dict[str, str]:
    """msgid -> first place it is used, as `make messages` extracts them."""
    with open(BASE_DIR / "babel.cfg") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    keywords = dict(DEFAULT_KEYWORDS, _l=None)

    def not_hidden(path: str) -> bool:
        return not os.path.basename(path).startswith(".")

    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(BASE_DIR), method_map, options_map, keywords=keywords, directory_filter=not_hidden
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        found.setdefault(msgid, f"{filename}:{lineno}")
    return found


def _translated(entry) -> bool:
    if entry is None or entry.fuzzy:
        return False
    strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)  # plural forms: a tuple
    return all(strings)


def test_every_marked_string_has_an_english_translation():
    with open(CATALOGUE, "rb") as f:
        catalogue = read_po(f)
    extracted = _extracted()
    assert len(extracted) > 500, "the extraction found the application's strings"
    missing = []
    for msgid, where in sorted(extracted.items(), key=lambda item: item[1]):
        if not _translated(catalogue.get(msgid)):
            missing.append(f"{where}: {msgid!r}")
    assert not missing, "run `make messages` and translate:\n" + "\n".join(missing)


def test_the_macros_strings_are_extracted():
    """The guard against Babel's default of skipping `templates/_macros` and `templates/_partials`."""
    extracted = _extracted()
    assert extracted.get("Der er fejl i formularen", "").startswith("templates/_macros/forms.html")
    assert extracted.get("Sidenavigation", "").startswith("templates/_partials/pagination.html")


def test_lazy_texts_translate_through_the_faster_path():
    """Every lazy text (`_l`) is app.core.i18n's: it translates through `current_translations()` (once per
    locale and request) instead of a Flask-Babel look-up per text (issue 22). The audit log's labels and the
    API's problem titles are shown by the dozen; a module importing Flask-Babel's own `lazy_gettext` would
    quietly take the slow path again."""
    from flask_babel.speaklater import LazyString

    from app.api.problems import _TITLES as TITLES
    from app.audit.labels import ACTION_LABELS
    from app.core import i18n

    for texts in (ACTION_LABELS, TITLES):
        lazy = [text for text in texts.values() if isinstance(text, LazyString)]
        assert lazy
        assert {text._func for text in lazy} == {i18n.gettext}
    for path in (BASE_DIR / "app").rglob("*.py"):
        if path != BASE_DIR / "app" / "core" / "i18n.py":
            assert "import lazy_gettext" not in path.read_text(), f"{path} imports Flask-Babel's lazy_gettext"
