"""Certificates of completion: the PDF read back in both languages, who may download which, the public
verification page (good, bad, withdrawn codes; its rate limit; nothing personal in the logs), and withdrawal
by anonymisation."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from app.audit.models import AuditEntry, AuditEntrySubject
from app.certificates.models import Certificate
from app.courses.models import RunStatus
from app.enrolment.models import Attendance
from app.extensions import db
from app.privacy import services as privacy
from app.reporting.models import ExportDownload, ExportFormat
from tests import factories
from tests.certificates.conftest import check, code_on, flat, pdf_pages

OWN = "/me/courses/{}/certificate.pdf"


def own_url(enrolment) -> str:
    return OWN.format(enrolment.id)


def bulk_url(run) -> str:
    return f"/runs/{run.id}/certificates.pdf"


# --------------------------------------------------------------------------------------------------
# The PDF
# --------------------------------------------------------------------------------------------------


def test_the_certificate_in_danish_names_the_person_the_run_its_days_hours_and_the_municipality(
    app, client, login_as, run, scene
):
    login_as(scene["aase"].user)
    response = client.get(own_url(scene["aase"]))
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store, private"
    assert "kursusbevis" in response.headers["Content-Disposition"]
    (page,) = pdf_pages(response.get_data())
    text = flat(page)
    for expected in (
        "Københavns Kommune",
        "Kursusbevis",
        "Hermed bekræftes det, at",
        "Åse Ærø",
        "har gennemført kursusforløbet",
        "Familierådslagning – hold 3",
        "Metoder Familierådslagning",
        "Udbyder Familien i Centrum",
        "Kursusdag Dato Tidspunkt Timer",
        "1. undervisningsdag 6. oktober 2025 09.00–15.30 6,5 timer",
        "2. undervisningsdag 7. oktober 2025 09.00–15.30 6,5 timer",
        "Opfølgningsdag 12. januar 2026 09.00–12.00 3 timer",
        "I alt 16 timer",
        "Gennemført 12. januar 2026.",
        "Udstedt af Københavns Kommune 2. marts 2026.",
        "http://127.0.0.1:5000/verify",
    ):
        assert expected in text, (expected, page)
    certificate = db.session.scalar(select(Certificate).where(Certificate.enrolment_id == scene["aase"].id))
    assert code_on(page).replace("-", "") == certificate.code


def test_the_certificate_is_in_the_persons_profile_language_and_prints_any_name(app, client, login_as, run, scene):
    login_as(scene["lukasz"].user)
    # The browser's language does not decide: the profile's does.
    (page,) = pdf_pages(client.get(own_url(scene["lukasz"]), headers={"Accept-Language": "da"}).get_data())
    text = flat(page)
    for expected in (
        "Certificate of completion",
        "This is to certify that",
        "Łukasz Nguyễn",
        "has completed the course",
        "Methods Family group conference",
        "Provider Familien i Centrum",
        "Course day Date Time Hours",
        "Teaching day 1 6 October 2025 09:00–15:30 6.5 hours",
        "Follow-up day 12 January 2026 09:00–12:00 3 hours",
        "Total 16 hours",
        "Completed on 12 January 2026.",
        "Verification code:",
    ):
        assert expected in text, (expected, page)
    assert "Kursusbevis" not in text


def test_the_municipality_comes_from_the_setting(app, client, login_as, run, scene):
    app.config["MUNICIPALITY_NAME"] = "Testrup Kommune"
    login_as(scene["aase"].user)
    (page,) = pdf_pages(client.get(own_url(scene["aase"])).get_data())
    assert "Testrup Kommune" in page and "Københavns" not in page


def test_the_code_is_made_once_and_kept(app, client, login_as, run, scene, coordinator):
    login_as(scene["aase"].user)
    first = code_on(pdf_pages(client.get(own_url(scene["aase"])).get_data())[0])
    again = code_on(pdf_pages(client.get(own_url(scene["aase"])).get_data())[0])
    login_as(coordinator)
    pages = pdf_pages(client.get(bulk_url(run)).get_data())
    assert first == again == code_on(pages[1])  # Danish order: Å after Ł (read as L)
    assert db.session.query(Certificate).count() == 2
    code = db.session.scalar(select(Certificate.code).where(Certificate.enrolment_id == scene["aase"].id))
    assert len(code) == 12 and not set(code) & set("01OIL")


# --------------------------------------------------------------------------------------------------
# Mine kurser and who may download
# --------------------------------------------------------------------------------------------------


def test_mine_kurser_links_the_certificate_of_a_completed_run_only(app, client, login_as, run, scene):
    login_as(scene["aase"].user)
    assert own_url(scene["aase"]) in client.get("/me/courses").get_data(as_text=True)
    login_as(scene["bjoern"].user)
    page = client.get("/me/courses").get_data(as_text=True)
    assert "certificate.pdf" not in page
    assert client.get(own_url(scene["bjoern"])).status_code == 404


@pytest.mark.parametrize("who", ["other_staff", "not_completed", "waitlisted"])
def test_anybody_elses_or_an_uncompleted_certificate_is_404(app, client, login_as, run, scene, who):
    enrolment = {"other_staff": scene["lukasz"], "not_completed": scene["bjoern"], "waitlisted": scene["carl"]}[who]
    login_as(scene["aase"].user if who == "other_staff" else enrolment.user)
    response = client.get(own_url(enrolment))
    assert response.status_code == 404
    assert "Łukasz".encode() not in response.get_data()
    assert db.session.query(Certificate).count() == 0


def test_a_cancelled_run_has_no_certificates(app, client, login_as, run, scene, coordinator):
    run.status = RunStatus.CANCELLED
    db.session.commit()
    login_as(scene["aase"].user)
    assert client.get(own_url(scene["aase"])).status_code == 404
    login_as(coordinator)
    response = client.get(bulk_url(run))
    assert response.status_code == 302 and response.location.endswith(f"/runs/{run.id}")


def test_the_own_certificate_is_for_staff_only_and_anonymous_logs_in(
    app, client, login_as, run, scene, coordinator, provider_user
):
    response = client.get(own_url(scene["aase"]))
    assert response.status_code == 302 and response.location.startswith("/login")
    for user in (coordinator, provider_user):
        login_as(user)
        assert client.get(own_url(scene["aase"])).status_code == 403


def test_the_coordinator_gets_one_pdf_with_a_page_per_person_who_completed_it(
    app, client, login_as, run, scene, coordinator
):
    login_as(coordinator)
    assert bulk_url(run) in client.get(f"/runs/{run.id}").get_data(as_text=True)
    response = client.get(bulk_url(run))
    assert response.status_code == 200
    assert "kursusbeviser" in response.headers["Content-Disposition"]
    pages = pdf_pages(response.get_data())
    assert len(pages) == 2
    # Danish name order (Å last); each page in its person's language.
    assert "Łukasz Nguyễn" in pages[0] and "Certificate of completion" in pages[0]  # his profile says English
    assert "Åse Ærø" in pages[1] and "Kursusbevis" in pages[1]  # hers has no language: Danish
    assert not any("Bjørn" in p or "Carl" in p for p in pages)
    # Logged like a participant list: the download log and the audit log naming the people shown.
    download = db.session.scalar(select(ExportDownload))
    assert (download.format, download.person_count, download.user_id) == (ExportFormat.CERTIFICATES, 2, coordinator.id)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "certificates.export"))
    assert entry.details == {"people": 2} and entry.object_id == run.id
    shown = set(db.session.scalars(select(AuditEntrySubject.user_id).where(AuditEntrySubject.entry_id == entry.id)))
    assert shown == {scene["aase"].user_id, scene["lukasz"].user_id}
    log = client.get(f"/runs/{run.id}/participants/downloads").get_data(as_text=True)
    assert "Kursusbeviser (PDF)" in log


def test_no_completed_participant_no_pdf_and_no_link(app, client, login_as, run, coordinator):
    login_as(coordinator)
    assert bulk_url(run) not in client.get(f"/runs/{run.id}").get_data(as_text=True)
    response = client.get(bulk_url(run), follow_redirects=True)
    assert "Ingen deltagere har gennemført kursusforløbet endnu" in response.get_data(as_text=True)
    assert db.session.query(ExportDownload).count() == 0


@pytest.mark.parametrize("who", ["provider", "other_provider", "staff"])
def test_providers_and_staff_get_no_bulk_certificates(app, client, login_as, run, scene, provider_user, who):
    users = {
        "provider": provider_user,
        "other_provider": factories.make_user(access_level="provider", provider=factories.make_provider()),
        "staff": scene["aase"].user,
    }
    login_as(users[who])
    assert client.get(bulk_url(run)).status_code == 403
    assert db.session.query(Certificate).count() == 0


# --------------------------------------------------------------------------------------------------
# The public verification page
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def code(client, login_as, scene):
    """Åse's certificate's code as printed; the client logged out again, like a stranger checking it."""
    login_as(scene["aase"].user)
    printed = code_on(pdf_pages(client.get(own_url(scene["aase"])).get_data())[0])
    client.post("/logout", data={})
    client.delete_cookie("session")
    return printed


def test_the_page_is_public_and_explains_itself(app, client):
    page = client.get("/verify")
    assert page.status_code == 200
    assert "Kontrollér et kursusbevis" in page.get_data(as_text=True)


def test_a_good_code_confirms_name_course_and_date_only(app, client, run, scene, code):
    response = check(client, code)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Kursusbeviset er gyldigt" in html
    assert "Åse Ærø" in html and "Familierådslagning – hold 3" in html and "12. januar 2026" in html
    assert "aase@test.dk" not in html and "Sagsbehandler" not in html and "Familien i Centrum" not in html
    # The read is audited: Åse can see that her certificate was checked (by nobody logged in).
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "certificate.verified"))
    assert entry.actor_id is None and entry.subject_id == scene["aase"].user_id


@pytest.mark.parametrize("typed", ["lower", "spaces", "no_dashes"])
def test_a_code_typed_loosely_is_read_back(app, client, run, scene, code, typed):
    variant = {"lower": code.lower(), "spaces": f"  {code.replace('-', ' ')} ", "no_dashes": code.replace("-", "")}
    assert "Kursusbeviset er gyldigt" in check(client, variant[typed]).get_data(as_text=True)


def test_a_good_code_in_a_json_body_too(app, client, run, scene, code):
    from tests.conftest import csrf_token_from

    token = csrf_token_from(client.get("/verify").get_data(as_text=True))
    response = client.post("/verify", json={"code": code}, headers={"X-CSRFToken": token})
    assert "Åse Ærø" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Skriv kontrolkoden fra kursusbeviset."),
        ("ABC", "Kontrolkoden består af 12 bogstaver og tal"),
        ("O0O0-I1I1-LLLL", "Kontrolkoden består af 12 bogstaver og tal"),
        ("2345-6789-ABCD", "Der findes ikke noget kursusbevis med den kontrolkode"),
        ("x" * 5000, "Kontrolkoden består af 12 bogstaver og tal"),
    ],
)
def test_a_bad_code_gets_a_message_next_to_the_field_and_shows_nobody(app, client, run, scene, code, typed, message):
    response = check(client, typed)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert message in html and 'class="form-error-message" id="code-error"' in html
    assert "Åse" not in html and "gyldigt" not in html


def test_the_page_in_english(app, client, run, scene, code):
    client.post("/language", data={"language": "en"})
    html = check(client, code, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "The certificate is valid" in html and "12 January 2026" in html


def test_anonymising_the_person_withdraws_the_certificate(app, client, run, scene, code, coordinator, clock):
    user = scene["aase"].user
    privacy.anonymise_user(coordinator, user.id, clock.now(), clock.today(), confirm_name=user.name)
    db.session.commit()
    html = check(client, code).get_data(as_text=True)
    assert "Kursusbeviset er ikke længere gyldigt" in html
    assert "Åse" not in html and "Anonymiseret" not in html and "Familierådslagning" not in html
    assert db.session.scalar(select(Certificate.withdrawn_at)) is not None
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "user.anonymised"))
    assert entry.details["certificates_withdrawn"] == 1


def test_the_retention_job_withdraws_the_runs_certificates(app, client, run, scene, code, clock):
    privacy.anonymise_run(run.id, clock.now())
    db.session.commit()
    html = check(client, code).get_data(as_text=True)
    assert "Kursusbeviset er ikke længere gyldigt" in html and "Åse" not in html
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "run.anonymised"))
    assert entry.details["certificates_withdrawn"] == 1


def test_a_corrected_attendance_makes_the_certificate_no_longer_valid(app, client, run, scene, code):
    mark = db.session.scalar(
        select(Attendance).where(
            Attendance.enrolment_id == scene["aase"].id, Attendance.course_day_id == run.days[2].id
        )
    )
    mark.present = False
    db.session.commit()
    html = check(client, code).get_data(as_text=True)
    assert "Kursusbeviset er ikke længere gyldigt" in html and "Åse" not in html


def test_failed_checks_are_rate_limited_and_then_even_a_good_code_waits(app, client, run, scene, code):
    app.config["CERTIFICATE_VERIFY_LIMIT"] = "3 per hour"
    for _ in range(3):
        assert check(client, "2345-6789-ABCD").status_code == 200
    refused = check(client, code)
    assert refused.status_code == 429
    html = refused.get_data(as_text=True)
    assert "Åse" not in html
    assert "Tjek kontrolkoden på kursusbeviset" in html and "adgangskode" not in html


def test_good_checks_do_not_count(app, client, run, scene, code):
    app.config["CERTIFICATE_VERIFY_LIMIT"] = "2 per hour"
    for _ in range(5):
        assert check(client, code).status_code == 200


def test_the_logs_name_nobody_and_hold_no_code(app, client, run, scene, code, caplog, coordinator, login_as):
    caplog.set_level(logging.DEBUG)
    check(client, code)
    check(client, "2345-6789-ABCD")
    login_as(scene["aase"].user)
    client.get(own_url(scene["aase"]))
    login_as(coordinator)
    client.get(bulk_url(run))
    text = caplog.text
    assert "certificate" in text
    for secret in ("Åse", "Ærø", "Łukasz", "aase@test.dk", code, code.replace("-", ""), "2345-6789-ABCD"):
        assert secret not in text


def test_the_persons_data_shows_the_check_but_not_the_checkers_address(app, client, login_as, run, scene, code):
    check(client, code, environ_base={"REMOTE_ADDR": "203.0.113.7"})
    login_as(scene["aase"].user)
    data = client.get("/me/data.json").get_json()
    (checked,) = [e for e in data["audit_about_me"] if e["action"] == "certificate.verified"]
    assert checked["action_label"] == "Kursusbevis kontrolleret"
    assert "ip_address" not in checked
    assert "203.0.113.7" not in client.get("/me/data.json").get_data(as_text=True)
    (certificate,) = data["certificates"]
    assert certificate["code"] == code.replace("-", "")


def test_a_long_name_title_and_method_list_still_fit_one_page(app, client, login_as, run, scene):
    import io

    from pypdf import PdfReader

    methods = [factories.make_method(f"Metode med et ret langt navn nummer {i}") for i in range(6)]
    run.methods.extend(methods)
    run.title = "Et meget langt kursusforløb " * 7
    user = scene["aase"].user
    user.name = "Åse Ærø Østergård-" + "Kristiansdatter" * 12  # 198 characters
    db.session.commit()
    login_as(user)
    (page,) = PdfReader(io.BytesIO(client.get(own_url(scene["aase"])).get_data())).pages
    heights: dict[str, float] = {}
    page.extract_text(visitor_text=lambda text, _cm, tm, _f, _s: heights.setdefault(text.strip(), tm[5]))
    code_line = next(y for text, y in heights.items() if text.startswith("Kontrolkode:"))
    assert 0 < code_line < heights["I alt"]  # on the page, below the table
