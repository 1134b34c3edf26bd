"""The HTML part of every mail: one simple, accessible layout in the portal's look (issue 21).

Parsed with the stdlib's html.parser: the language is declared, the layout tables are marked as presentation,
there is no <style>, <script> or external resource, every text sits in a sans-serif font, and a link is a
button with words on it (never a bare URL). The first invitation of a run lists all its days and says each
comes as its own calendar invitation. The look itself is checked in Chromium: tests/browser/test_mail_rendering.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

import pytest

from app.notifications import compose
from app.notifications.compose import InvitationKind, Recipient
from tests.notifications.test_compose import RUN_URL, SARA, mail, parts, run  # noqa: F401 (the fixture)

VOID = {"br", "meta", "img", "hr", "link", "input"}
ROW_HEADERS = {
    "da": ["Kursusdag", "Dato", "Tid", "Sted", "Udbyder"],
    "en": ["Course day", "Date", "Time", "Venue", "Provider"],
}


@dataclass
class Node:
    tag: str
    attrs: dict
    parent: Node | None
    text: list[str] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)

    def style(self) -> str:
        return self.attrs.get("style") or ""

    def font(self) -> str:
        """The font-family in effect (inline styles inherit like any CSS)."""
        node: Node | None = self
        while node is not None:
            for declaration in node.style().split(";"):
                name, _sep, value = declaration.partition(":")
                if name.strip() == "font-family":
                    return value
            node = node.parent
        return ""

    def all_text(self) -> str:
        return " ".join([*self.text, *(child.all_text() for child in self.children)]).strip()


class Tree(HTMLParser):
    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {}, None)
        self.current = self.root
        self.nodes: list[Node] = []
        self.doctype = ""
        self.feed(page)
        self.close()

    def handle_decl(self, decl):
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        self.nodes.append(node)
        if tag not in VOID:
            self.current = node

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        assert node is not None, f"</{tag}> closes nothing"
        self.current = node.parent or self.root

    def handle_data(self, data):
        if data.strip():
            self.current.text.append(data.strip())

    def find(self, tag: str) -> list[Node]:
        return [node for node in self.nodes if node.tag == tag]


def check_layout(page: str, language: str) -> Tree:
    tree = Tree(page)
    assert tree.doctype.lower() == "doctype html"
    (html,) = tree.find("html")
    assert html.attrs["lang"] == language
    assert tree.find("title") and tree.find("title")[0].all_text()
    assert not tree.find("style") and not tree.find("script") and not tree.find("link") and not tree.find("img")
    for table in tree.find("table"):
        assert table.attrs.get("role") == "presentation", "layout tables are not data tables to a screen reader"
    body_nodes = [node for node in tree.nodes if node.text and node.tag not in {"title", "head"}]
    assert body_nodes
    for node in body_nodes:
        assert "sans-serif" in node.font(), f"<{node.tag}> {node.text} is not in a sans-serif font"
    for link in tree.find("a"):
        assert link.attrs["href"].startswith("https://")
        words = link.all_text()
        assert words and not words.startswith("http"), "a link says where it goes in words"
        assert "background-color" in link.parent.style() or "color:#" in link.style()
    return tree


def buttons(tree: Tree) -> list[tuple[str, str]]:
    return [(a.attrs["href"], a.all_text()) for a in tree.find("a")]


@pytest.mark.parametrize("kind", list(InvitationKind))
@pytest.mark.parametrize("language", ["da", "en"])
def test_every_invitation_kind_has_the_layout(run, kind, language):  # noqa: F811
    recipient = Recipient(SARA.email, SARA.name, language)
    _raw, msg = mail(run.days[1], kind, recipient=recipient)
    text, html, _calendar, _attachment = parts(msg)
    tree = check_layout(html.get_content(), language)
    label = {"da": "Åbn kursusforløbet i Kursusportalen", "en": "Open the course run in Kursusportalen"}[language]
    assert buttons(tree) == [(RUN_URL, label)]
    rows = [th.all_text() for th in tree.find("th")]  # the day's details: a row header per fact
    assert rows == ROW_HEADERS[language]
    assert all(th.attrs.get("scope") == "row" for th in tree.find("th"))
    assert RUN_URL in text.get_content()  # the plain-text part keeps the address itself


def test_a_notice_has_the_layout_with_its_link_as_a_button(app, run):  # noqa: F811
    lines = [compose.day_line(day) for day in run.days]
    text, page = compose.render_bodies(
        "notifications/notice",
        "da",
        recipient=SARA,
        subject="Venteliste",
        paragraphs=["Kursusforløbet er fuldt.", "Du får besked."],
        days=lines,
        link="https://kursus.example.dk/my-courses",
        link_text="Se dine kurser i Kursusportalen",
    )
    tree = check_layout(page, "da")
    assert buttons(tree) == [("https://kursus.example.dk/my-courses", "Se dine kurser i Kursusportalen")]
    assert [li.all_text() for li in tree.find("li")] == lines
    assert "Se dine kurser i Kursusportalen: https://kursus.example.dk/my-courses" in text  # text unchanged


def test_the_first_invitation_lists_every_day_of_the_run(run):  # noqa: F811
    _raw, msg = mail(run.days[0])
    text, html, _calendar, _attachment = parts(msg)
    intro = "Kursusforløbet har 3 kursusdage. Hver dag kommer som sin egen kalenderinvitation i en mail for sig:"
    expected = [
        "1. undervisningsdag: mandag den 30. marts 2026, kl. 09.00–15.30, Kursuscenter Valby, Toftegårds Allé 7",
        "2. undervisningsdag: tirsdag den 14. april 2026, kl. 09.00–15.30, Kursuscenter Valby, Toftegårds Allé 7",
        "Opfølgningsdag: mandag den 26. oktober 2026, kl. 09.00–15.30, Kursuscenter Valby, Toftegårds Allé 7",
    ]
    tree = Tree(html.get_content())
    assert [li.all_text() for li in tree.find("li")] == expected
    assert intro in html.get_content()
    body = text.get_content()
    assert intro in body and all(f"- {line}" in body for line in expected)


def test_the_first_invitation_in_english_lists_the_days_too(run):  # noqa: F811
    _raw, msg = mail(run.days[0], recipient=Recipient(SARA.email, SARA.name, "en"))
    text, _html, _calendar, _attachment = parts(msg)
    body = text.get_content()
    assert "The course run has 3 course days. Each day comes as its own calendar invitation" in body
    assert "- Teaching day 2: Tuesday 14 April 2026, 09:00–15:30" in body


@pytest.mark.parametrize("kind", [k for k in InvitationKind if k != InvitationKind.INVITATION])
def test_only_the_first_invitation_lists_the_days(run, kind):  # noqa: F811
    for day, day_kind in [(run.days[1], InvitationKind.INVITATION), (run.days[0], kind)]:
        _raw, msg = mail(day, day_kind)
        text, html, _calendar, _attachment = parts(msg)
        assert "Kursusforløbet har" not in text.get_content() and not Tree(html.get_content()).find("li")
