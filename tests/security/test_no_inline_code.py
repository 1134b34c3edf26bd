"""What the Content-Security-Policy (script-src 'self'; style-src 'self') would refuse must not be in the
templates: no inline <script> (only <script src=...>), no style="..." attributes, no on*="..." handlers, no
javascript: URLs, no <style> blocks. And our own script does not need 'unsafe-eval'."""

from __future__ import annotations

import re

import pytest

from config import BASE_DIR

TEMPLATES = sorted((BASE_DIR / "templates").rglob("*.html"))
#: The HTML parts of mails, not pages: no CSP governs them, and mail clients drop <style> blocks and style
#: sheets, so their styles are inline (style= allowed; scripts, handlers and javascript: URLs still are not).
MAIL_BODIES = {
    BASE_DIR / "templates" / "notifications" / name
    for name in ("_layout.html", "_mail.html", "invitation.html", "notice.html")
}
#: A template's text with the Jinja parts blanked out, so `{{ x }}` inside a tag cannot hide or fake anything.
JINJA_RE = re.compile(r"{#.*?#}|{%.*?%}|{{.*?}}", re.S)
TAG_RE = re.compile(r"<([a-zA-Z][a-zA-Z0-9-]*)(\s[^<>]*)?>", re.S)
ATTRIBUTE_RE = re.compile(r"""\s([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+))?""")


def _tags(path):
    text = JINJA_RE.sub(" ", path.read_text(encoding="utf-8"))
    for match in TAG_RE.finditer(text):
        name, attributes = match.group(1).lower(), match.group(2) or ""
        line = text.count("\n", 0, match.start()) + 1
        found = {a.group(1).lower(): (a.group(2) or "").strip("\"'") for a in ATTRIBUTE_RE.finditer(attributes)}
        yield name, found, line


def test_the_scan_finds_the_templates_and_their_scripts():
    assert len(TEMPLATES) > 40
    scripts = [attrs for name, attrs, _line in _tags(BASE_DIR / "templates" / "base.html") if name == "script"]
    assert len(scripts) == 2 and all("src" in attrs for attrs in scripts)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(BASE_DIR / "templates")))
def test_no_inline_script_style_or_handlers(path):
    problems = []
    for name, attributes, line in _tags(path):
        if name == "script" and "src" not in attributes:
            problems.append(f"line {line}: inline <script>")
        if name == "style":
            problems.append(f"line {line}: <style> block")
        for attribute, value in attributes.items():
            if attribute == "style" and path not in MAIL_BODIES:
                problems.append(f"line {line}: style= on <{name}>")
            if attribute.startswith("on"):
                problems.append(f"line {line}: {attribute}= on <{name}>")
            if value.strip().lower().startswith("javascript:"):
                problems.append(f"line {line}: javascript: URL in {attribute}= on <{name}>")
    assert not problems, f"{path.name}: " + "; ".join(problems)


def test_the_mail_bodies_exist():
    assert all(path.exists() for path in MAIL_BODIES)


def test_our_script_needs_no_eval():
    source = (BASE_DIR / "app" / "static" / "js" / "app.js").read_text(encoding="utf-8")
    forbidden_calls = ("eval(", "new Function", 'setTimeout("', 'setInterval("', "innerHTML", 'setAttribute("style"')
    for forbidden in forbidden_calls:
        assert forbidden not in source, forbidden


def test_the_scan_catches_what_it_looks_for(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<div style="color: red" onclick="x()"><script>alert(1)</script><a href="javascript:x()">x</a>'
        "<style>p{}</style>",
        encoding="utf-8",
    )
    with pytest.raises(AssertionError) as failure:
        test_no_inline_script_style_or_handlers(bad)
    message = str(failure.value)
    for expected in ("inline <script>", "style= on <div>", "onclick= on <div>", "javascript: URL", "<style> block"):
        assert expected in message


#: The only places app code marks a string safe itself, each reviewed: file -> the exact lines.
MARKUP_ALLOWED = {
    # FastSelect renders <option> from a literal in which the value and the label both go through escape().
    "app/core/widgets.py": ("""return Markup(f'<option {selected}value="{escape(value)}">{label}</option>')""",),
    # The templates' gettext marks a translation from our own catalogue safe, exactly as jinja2.ext does;
    # the variables formatted into it are escaped by Markup's % operator.
    "app/core/i18n.py": ("text = Markup(text)",),
    # The dashboard's SVG charts: every text goes through escape() (`_text`, title, desc); attributes are numbers,
    # colours and ids/classes of the module itself.
    "app/programmes/charts.py": ("return Markup(svg)",),
    # `and_list` joins items that each went through escape() (markup, e.g. a link, passes as it is) with the
    # locale's own ", " and " og "/" and ": no text of the user's is left unescaped.
    "app/core/templating.py": ("return Markup(format_list([str(escape(item)) for item in items], locale=locale))",),
    # The run list's remembered filter form: the output of render_template on an autoescaped template
    # (courses/_run_filter_form.html), kept as the markup it already is.
    "app/courses/views.py": ("return Markup(html)  # noqa: S704 (the template's own autoescaped output)",),
}


def test_autoescaping_is_on_and_never_switched_off(app):
    for name in ("base.html", "notifications/invitation.html", "errors/400.html"):
        assert app.select_jinja_autoescape(name), name
    rendered = app.jinja_env.from_string("{{ x }}").render(x="<script>")  # string templates too
    assert rendered == "&lt;script&gt;"
    for path in TEMPLATES:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\|\s*safe\b|autoescape\s+false", text), path.name
    for path in (BASE_DIR / "app").rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        relative = path.relative_to(BASE_DIR).as_posix()
        assert source.count("Markup(") == len(MARKUP_ALLOWED.get(relative, ())), relative
        assert "autoescape=False" not in source, relative
    for relative, lines in MARKUP_ALLOWED.items():  # and each allowed one is the line reviewed, not another
        source = (BASE_DIR / relative).read_text(encoding="utf-8")
        for line in lines:
            assert line in source, (relative, line)
