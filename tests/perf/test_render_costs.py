"""Rendering budgets (issue 22): what a list page does per row in its template, counted, not timed.

Two thirds of a list page's time was its template: every run rendered twice (table and phone cards), a URL
built through Flask's routing per link, the language looked up per formatted date. These tests count the
work that used to grow with the rows — URL builds and formatted dates — while the page grows, reached as a
user reaches it (a GET through the test client); tests/perf/test_query_counts.py does the same for SQL.
"""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
from werkzeug.routing.map import MapAdapter

from app.core import templating
from app.courses.models import CourseRun
from app.extensions import db
from tests import factories
from tests.perf.test_query_counts import FUTURE, add_participants, add_runs, scene  # noqa: F401 (fixture)


@contextmanager
def counted(monkeypatch, owner, name: str):
    """Count the calls of `owner.name` inside the block: yields a list that gets one entry per call."""
    calls: list[None] = []
    real = getattr(owner, name)

    def counting(*args, **kwargs):
        calls.append(None)
        return real(*args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(owner, name, counting)
        yield calls


def get(client, url: str) -> str:
    db.session.commit()
    db.session.expunge_all()
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def test_run_page_builds_its_row_urls_without_routing_each(client, login_as, coordinator, scene, monkeypatch):  # noqa: F811
    """The coordinator's run page: each participant's row links to their cancel, move and history URLs; the
    routing builds one URL per endpoint, not one per row (app.core.templating.url_template), and the links
    are still the right ones."""
    login_as(coordinator)
    grow = add_participants(scene)
    builds = {}
    for size, more in ((1, 1), (30, 29)):
        grow(more)
        with counted(monkeypatch, MapAdapter, "build") as calls:
            body = get(client, f"/runs/{scene['run']}")
        builds[size] = len(calls)
        ids = re.findall(r'formaction="/enrolments/(\d+)/cancel"', body)
        assert len(ids) == size
        for enrolment_id in ids:
            assert f'href="/enrolments/{enrolment_id}/move"' in body
            assert f'href="/enrolments/{enrolment_id}/history"' in body
    assert builds[1] == builds[30], f"URL builds grow with the participants: {builds}"


def test_staff_run_list_renders_each_run_once_for_both_layouts(client, login_as, scene, monkeypatch):  # noqa: F811
    """The staff run list shows each run in a table and as a phone card: the run's days (dates and hours)
    are formatted once for both, and its links built without routing each; both layouts still show them."""
    run = db.session.get(CourseRun, scene["run"])
    run_id = run.id
    login_as(factories.make_user(access_level="staff", staff_role=run.eligible_roles[0]))
    grow = add_runs(scene)
    names, builds = {}, {}
    for size, more in ((1, 0), (11, 10)):
        grow(more)
        with (
            counted(monkeypatch, templating, "locale_name") as looked_up,
            counted(monkeypatch, MapAdapter, "build") as built,
        ):
            body = get(client, "/runs")
        names[size], builds[size] = len(looked_up), len(built)
        assert body.count("kl. 09.00–15.30") == 2 * 3 * size  # three days a run, in the table and on the card
        assert len(re.findall(rf'href="/runs/{run_id}"', body)) == 3  # title, card heading, card button
    assert builds[1] == builds[11], f"URL builds grow with the runs: {builds}"
    # Per run: three days (a date and the hours each) and the deadline, once; twice that was both layouts.
    per_run = (names[11] - names[1]) / 10
    assert per_run <= len(FUTURE) * 2 + 1, f"{per_run} language look-ups per run"


@pytest.mark.parametrize("script_root", ["", "/kursus"])
def test_url_template_is_url_for(app, script_root):
    """Behind a proxy path (SCRIPT_NAME) and for any id the rows' URLs are exactly Flask's."""
    from flask import url_for

    from app.core.templating import url_template

    with app.test_request_context(base_url=f"http://localhost{script_root}/"):
        cancel = url_template("enrolment.enrolment_cancel", "enrolment_id")
        detail = url_template("courses.run_detail", "run_id", page=2)
        for value in (0, 7, 1234567890123):
            assert cancel(value) == url_for("enrolment.enrolment_cancel", enrolment_id=value)
            assert detail(value) == url_for("courses.run_detail", run_id=value, page=2)
        assert cancel(7) == f"{script_root}/enrolments/7/cancel"
        assert cancel("8") == url_for("enrolment.enrolment_cancel", enrolment_id="8")  # not an int: Flask's own


def test_pagination_renders_only_the_page_links_it_shows(app):
    """A coordinator's run list has ~200 pages and shows seven page links: the pagination partial's work
    follows the links it shows, not the number of pages (it used to test every page number, reading the
    page count each time), and it still shows the first, the last, two either side and the ellipses."""
    from app.core.db import Page

    reads: list[None] = []

    class CountedPage(Page):
        @property
        def pages(self) -> int:
            reads.append(None)
            return super().pages

    macro = app.jinja_env.get_template("_partials/pagination.html").module.pagination
    work, links = {}, {}
    with app.test_request_context("/runs"):
        for pages in (20, 200):
            reads.clear()
            urls: list[int] = []

            def page_url(n, urls=urls):
                urls.append(n)
                return f"/runs?page={n}"

            html = str(macro(CountedPage(items=[], page=10, per_page=25, total=pages * 25), page_url))
            work[pages], links[pages] = len(reads), urls
            assert re.findall(r'aria-label="Side (\d+)"', html) == ["1", "8", "9", "10", "11", "12", str(pages)]
            assert html.count("pagination-overflow") == 2
            assert 'href="/runs?page=10" class="button current-page" aria-current="page"' in html
    assert work[20] == work[200], f"the partial's work grows with the pages: {work}"
    assert len(links[200]) == 7 + 2  # the shown pages, the previous and the next
