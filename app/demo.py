"""`flask demo load`: the 2008-2009 Copenhagen programme of the product brief, plus a current programme.

Idempotent: every record is looked up by its natural key first, so a second load changes nothing.
The demo data is for trying the product; production starts empty. Under the production configuration every
`flask demo` command that writes or prints demo logins refuses, and the production web and scheduler processes
refuse to start while the database holds demo accounts (`refuse_demo_accounts`, deploy/README.md).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import or_, select
from sqlalchemy.exc import SQLAlchemyError

from app.accounts.models import StaffRole, Unit, User, hash_password, unit_leaders
from app.calendar.models import ClosedDay
from app.core import clock
from app.core.access import AccessLevel
from app.courses.models import CourseRun, Method, RunKind, RunStatus
from app.extensions import db
from app.programmes.models import BudgetAllocation, Programme
from app.providers.models import Provider

DEMO_PASSWORD = "kursus-demo-2008"  # noqa: S105 (documented demo password, demo data only)
#: Every demo and scale account's address ends in one of these (".test" is reserved: RFC 2606, never a real
#: mailbox), so a database that holds demo accounts is recognised by its users' addresses.
DEMO_EMAIL_DOMAIN = "demo.test"
SCALE_EMAIL_DOMAIN = "scale.test"
DEMO_EMAIL_DOMAINS = (DEMO_EMAIL_DOMAIN, SCALE_EMAIL_DOMAIN)

#: What a production operator is told when a demo command is refused.
REFUSED_IN_PRODUCTION = (
    "Demodata er til afprøvning og må ikke komme i en produktionsinstallation "
    "(KURSUSPORTALEN_CONFIG=production): dens adgangskode står i README. "
    "Opret den første koordinator med `flask users create --access coordinator` eller log ind med SSO."
)


def _refuse_in_production() -> None:
    """The `flask demo` group's callback: it runs before every subcommand (not for --help)."""
    if current_app.config.get("ENV_NAME") == "production":
        raise click.ClickException(REFUSED_IN_PRODUCTION)


demo_cli = AppGroup(
    "demo", help="Demo data (refused under the production configuration).", callback=_refuse_in_production
)

#: (email, name, access level, provider, staff role) - one login per access level.
DEMO_LOGINS = (
    ("koordinator@demo.test", "Karen Koordinator", AccessLevel.COORDINATOR, None, None),
    ("medarbejder@demo.test", "Mads Medarbejder", AccessLevel.STAFF, None, "Sagsbehandler"),
    ("fic@demo.test", "Frederik Fisker (FIC)", AccessLevel.PROVIDER, "Familien i Centrum", None),
    ("vilde@demo.test", "Vibeke Vilde", AccessLevel.PROVIDER, "Vilde Læreprocesser", None),
    ("leder@demo.test", "Lene Leder", AccessLevel.STAFF, None, "Anden relevant medarbejder"),
)
#: The demo's unit leader (issue 24): a staff login who leads Socialcenter Amager, and so its Børne- og
#: Familieteam (which has no leader of its own): the competence overview is reachable in the demo.
DEMO_LEADER = "leder@demo.test"
LEADER_CENTRE = "Amager"

STAFF_ROLES = (
    ("Sagsbehandler", "Caseworker"),
    ("Ungemedarbejder", "Youth worker"),
    ("Hjemmevejleder", "Home-based family counsellor"),
    ("Fuldtidsansat kontaktperson", "Full-time contact person"),
    ("Socialrådgiver på skole", "School social worker"),
    ("Anden relevant medarbejder", "Other relevant staff"),
)

#: How the ~110 staff are spread over the roles (caseworkers first, as in the seeds).
ROLE_WEIGHTS = (55, 15, 14, 10, 10, 6)

SOCIAL_CENTRES = (
    "Amager",
    "Bispebjerg",
    "Indre By/Østerbro",
    "Nørrebro",
    "Valby/Vesterbro/Kgs. Enghave",
    "Vanløse/Brønshøj",
)

METHODS = (
    ("Familierådslagning", "Family group conference"),
    ("Familien i fokus", "Family in focus"),
    ("Positive Inquiry", "Appreciative inquiry"),
    ("Signs of Safety", "Signs of Safety"),
    ("Netværksmøder", "Network meetings"),
)

PROVIDERS = (
    ("Familien i Centrum", "Anne Holm", "kontakt@fic.example", "Kurser i familiebehandling."),
    ("Vilde Læreprocesser", "Peter Vilde", "kontakt@vilde.example", "Netværksmøder i praksis."),
)

FIRST_NAMES = (
    "Anne",
    "Mette",
    "Hanne",
    "Susanne",
    "Lene",
    "Camilla",
    "Louise",
    "Maria",
    "Sofie",
    "Ida",
    "Jens",
    "Peter",
    "Lars",
    "Henrik",
    "Søren",
    "Thomas",
    "Mikkel",
    "Rasmus",
    "Ahmad",
    "Fatima",
    "Yasmin",
    "Emre",
    "Birgitte",
    "Rikke",
    "Trine",
    "Pernille",
    "Morten",
    "Jakob",
    "Nanna",
    "Åse",
)
LAST_NAMES = (
    "Jensen",
    "Nielsen",
    "Hansen",
    "Pedersen",
    "Andersen",
    "Christensen",
    "Larsen",
    "Sørensen",
    "Rasmussen",
    "Jørgensen",
    "Petersen",
    "Madsen",
    "Kristensen",
    "Olsen",
    "Thomsen",
    "Møller",
    "Østergaard",
    "Lund",
    "Holm",
    "Kaya",
    "Ali",
    "Hussein",
    "Bæk",
    "Dahl",
)

HISTORIC_NAME = "Styrket forældreansvar 2008-2009"
CURRENT_NAME = "Tidlig inddragelse af forældre {0}-{1}"


@dataclass(frozen=True)
class RunSpec:
    title: str
    provider: str
    kind: RunKind
    methods: tuple[str, ...]
    capacity: int
    price_kroner: int
    day1: date
    day2: date
    venue: str
    status: RunStatus


def _get_or_create(model, defaults: dict | None = None, **key):
    obj = db.session.scalar(select(model).filter_by(**key))
    if obj is None:
        obj = model(**key, **(defaults or {}))
        db.session.add(obj)
        db.session.flush()
    return obj


def load_reference_data() -> dict:
    roles = {name: _get_or_create(StaffRole, {"name_en": en}, name=name) for name, en in STAFF_ROLES}
    units = {}
    for centre in SOCIAL_CENTRES:
        parent = _get_or_create(Unit, name=f"Socialcenter {centre}")
        units[centre] = _get_or_create(Unit, {"parent": parent}, name=f"Børne- og Familieteam, {centre}")
    methods = {name: _get_or_create(Method, {"name_en": en}, name=name) for name, en in METHODS}
    providers = {
        name: _get_or_create(Provider, {"contact_name": contact, "contact_email": email, "notes": notes}, name=name)
        for name, contact, email, notes in PROVIDERS
    }
    return {"roles": roles, "units": units, "methods": methods, "providers": providers}


def load_closed_days(years: range) -> None:
    for year in years:
        _get_or_create(ClosedDay, {"reason": "Grundlovsdag (lukket fra kl. 12)"}, day=date(year, 6, 5))
        _get_or_create(ClosedDay, {"reason": "Juleaftensdag"}, day=date(year, 12, 24))


def load_users(ref: dict) -> None:
    rng = random.Random(2008)  # deterministic: the same demo data every time
    role_names = [name for name, _ in STAFF_ROLES]
    # One hash for every demo account (they share the published password): scrypt costs ~80 ms a call, and 114
    # calls were most of `make run`'s start and of each browser-test server's.
    password_hash = hash_password(DEMO_PASSWORD)
    for email, name, level, provider, role in DEMO_LOGINS:
        if db.session.scalar(select(User).filter_by(email=email)):
            continue
        user = User(
            email=email,
            name=name,
            access_level=level,
            provider=ref["providers"].get(provider) if provider else None,
            staff_role=ref["roles"].get(role) if role else None,
            unit=_login_unit(ref, email) if level == AccessLevel.STAFF else None,
        )
        user.password_hash = password_hash
        db.session.add(user)
    centres = list(ref["units"].values())
    for n in range(1, 111):
        email = f"medarbejder{n:03d}@{DEMO_EMAIL_DOMAIN}"
        if db.session.scalar(select(User.id).filter_by(email=email)):
            continue
        role = rng.choices(role_names, weights=ROLE_WEIGHTS)[0]
        user = User(
            email=email,
            name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
            access_level=AccessLevel.STAFF,
            staff_role=ref["roles"][role],
            unit=rng.choice(centres),
        )
        user.password_hash = password_hash
        db.session.add(user)
    db.session.flush()
    _load_leader(ref)


def _login_unit(ref: dict, email: str) -> Unit:
    """The staff logins' unit: the leader in the social centre she leads, the others in its family team."""
    team = ref["units"][LEADER_CENTRE]
    return team.parent if email == DEMO_LEADER else team


def _load_leader(ref: dict) -> None:
    """Make the demo leader a leader of her social centre (once)."""
    leader = db.session.scalar(select(User).filter_by(email=DEMO_LEADER))
    centre = ref["units"][LEADER_CENTRE].parent
    if leader is None or centre is None:
        return
    led = db.session.scalar(
        select(unit_leaders.c.user_id).where(unit_leaders.c.unit_id == centre.id, unit_leaders.c.user_id == leader.id)
    )
    if led is None:
        db.session.execute(unit_leaders.insert().values(unit_id=centre.id, user_id=leader.id))


def _programme(name: str, **fields) -> tuple[Programme, bool]:
    existing = db.session.scalar(select(Programme).filter_by(name=name))
    if existing:
        return existing, False
    programme = Programme(name=name, **fields)
    db.session.add(programme)
    db.session.flush()
    return programme, True


def _allocate(programme: Programme, provider: Provider, year: int, kroner: int) -> None:
    _get_or_create(BudgetAllocation, {"amount_ore": kroner * 100}, programme=programme, provider=provider, year=year)


def _create_run(programme: Programme, spec: RunSpec, ref: dict, actor: User) -> CourseRun:
    from app.courses.services import create_demo_run

    return create_demo_run(actor, programme, spec, ref)


def load_historic_programme(ref: dict, actor: User) -> None:
    programme, created = _programme(
        HISTORIC_NAME,
        description=(
            "Integrationsaftalen 2007, initiativet om styrket forældreansvar: efteruddannelse af medarbejdere i "
            "Socialcentrenes Børne- og Familieteams i modeller for tidlig inddragelse af forældre til udsatte børn."
        ),
        starts_on=date(2008, 8, 1),
        ends_on=date(2009, 12, 31),
        target_deadline=date(2009, 12, 31),
        target_runs=5,
        target_completed_staff=100,
        effect_target="Tilbagemeldingerne på opfølgningsdagene viser øget brug af metoderne og dermed tidligere "
        "inddragelse af forældrene.",
    )
    fic, vilde = ref["providers"]["Familien i Centrum"], ref["providers"]["Vilde Læreprocesser"]
    for year in (2008, 2009):
        _allocate(programme, fic, year, 375_000)
        _allocate(programme, vilde, year, 125_000)
    if not created:
        return
    standard_methods = ("Familierådslagning", "Familien i fokus", "Positive Inquiry", "Signs of Safety")
    done = RunStatus.COMPLETED

    def standard(title: str, day1: date, day2: date) -> RunSpec:
        """A completed run of Familien i Centrum's standard course."""
        provider, venue = "Familien i Centrum", "FIC, Kursuslokalet, Valby"
        return RunSpec(title, provider, RunKind.STANDARD, standard_methods, 35, 187_500, day1, day2, venue, done)

    def network_meetings(title: str, price: int, day1: date, day2: date, venue: str) -> RunSpec:
        """A completed run of Vilde Læreprocesser's special course on network meetings."""
        provider = "Vilde Læreprocesser"
        return RunSpec(title, provider, RunKind.SPECIAL, ("Netværksmøder",), 12, price, day1, day2, venue, done)

    specs = (
        standard("Styrket forældreansvar, hold 1", date(2008, 9, 16), date(2008, 9, 17)),
        standard("Styrket forældreansvar, hold 2", date(2008, 9, 30), date(2008, 10, 1)),
        network_meetings(
            "Netværksmøder i praksis, hold 1",
            41_500,
            date(2008, 11, 5),
            date(2008, 11, 6),
            "Socialcenter Nørrebro, mødelokale 2",
        ),
        network_meetings(
            "Netværksmøder i praksis, hold 2",
            41_500,
            date(2009, 2, 24),
            date(2009, 2, 25),
            "Socialcenter Amager, mødelokale 1",
        ),
        network_meetings(
            "Netværksmøder i praksis, hold 3",
            42_000,
            date(2009, 4, 21),
            date(2009, 4, 22),
            "Socialcenter Valby, mødelokale 3",
        ),
    )
    runs = [_create_run(programme, spec, ref, actor) for spec in specs]
    load_historic_enrolments(runs, actor)


def _frequency_pair(rng: random.Random) -> tuple[str, str]:
    """Use of a method before the course and since: mostly rarely/never before, one or two steps up since."""
    from app.programmes.feedback import FREQUENCY_SCALE

    before = rng.choices(range(4), weights=(40, 40, 15, 5))[0]
    since = min(3, before + rng.choices((0, 1, 2), weights=(20, 50, 30))[0])
    return FREQUENCY_SCALE[before], FREQUENCY_SCALE[since]


HISTORIC_FEEDBACK_TEXTS = (
    "Meget brugbart. Jeg holder nu familierådslagning i flere af mine sager.",
    "Opfølgningsdagen var god: det hjalp at høre, hvordan de andre teams har grebet det an.",
    "Signs of Safety giver et fælles sprog med familierne. Det kræver tid at få ind i hverdagen.",
    "Netværksmødet i min egen sag gik bedre end forventet; forældrene kom selv med forslag.",
    "Godt kursus, men svært at finde tid til metoderne med det nuværende sagstal.",
    "Jeg inddrager forældrene tidligere nu, især ved underretninger.",
)


def load_historic_feedback() -> None:
    """The 2008-09 participants' follow-up-day feedback: most who completed answer, method use rises from
    before to since, mostly yes/partly on earlier involvement, a few short free texts. Written once: nothing
    when the programme already has feedback (also adds it to a demo database loaded before feedback existed)."""
    from sqlalchemy.orm import selectinload

    from app.enrolment.models import Enrolment, EnrolmentStatus
    from app.programmes.feedback_models import EarlierInvolvement, Feedback, FeedbackMethodAnswer, Frequency

    programme = db.session.scalar(select(Programme).filter_by(name=HISTORIC_NAME))
    if programme is None:
        return
    has_feedback = db.session.scalar(
        select(Feedback.id)
        .join(Enrolment, Enrolment.id == Feedback.enrolment_id)
        .join(CourseRun, CourseRun.id == Enrolment.course_run_id)
        .where(CourseRun.programme_id == programme.id)
        .limit(1)
    )
    if has_feedback is not None:
        return
    enrolments = db.session.scalars(
        select(Enrolment)
        .join(CourseRun, CourseRun.id == Enrolment.course_run_id)
        .where(CourseRun.programme_id == programme.id, Enrolment.status == EnrolmentStatus.CONFIRMED)
        .options(
            selectinload(Enrolment.attendances),
            selectinload(Enrolment.run).selectinload(CourseRun.days),
            selectinload(Enrolment.run).selectinload(CourseRun.methods),
        )
        .order_by(Enrolment.id)
    ).all()
    rng = random.Random(2010)
    texts = iter(HISTORIC_FEEDBACK_TEXTS * 3)
    for enrolment in enrolments:
        run = enrolment.run
        marks = {a.course_day_id: a.present for a in enrolment.attendances}
        completed = bool(run.days) and all(marks.get(d.id) for d in run.days)
        if not completed or rng.random() < 0.12 or run.follow_up_day is None:  # nine in ten who completed answer
            continue
        follow_up = run.follow_up_day.day
        submitted = datetime.combine(follow_up + timedelta(days=rng.randint(1, 20)), time(9, 30), tzinfo=UTC)
        earlier = rng.choices(("yes", "partly", "no"), weights=(55, 35, 10))[0]
        feedback = Feedback(
            enrolment=enrolment,
            earlier_involvement=EarlierInvolvement(earlier),
            free_text=next(texts, None) if rng.random() < 0.15 else None,
            submitted_at=submitted,
            updated_at=submitted,
        )
        for method in run.methods:
            before, since = _frequency_pair(rng)
            feedback.answers.append(
                FeedbackMethodAnswer(method=method, before=Frequency(before), since=Frequency(since))
            )
        db.session.add(feedback)
    db.session.flush()


PRACTICE_CASES = (
    "Netværksmøde om en 14-årig med højt skolefravær; forældrene og skolen deltager.",
    "Opstart af netværksmøde i en familie, hvor mor ønsker støtte fra sin søster.",
    "Netværksmøde før en anbringelse udenfor hjemmet drøftes med familien.",
    "Familie med tre børn, hvor netværket skal inddrages i aflastning i weekenderne.",
)


def _demo_staff() -> list[User]:
    return list(
        db.session.scalars(
            select(User)
            .where(User.access_level == AccessLevel.STAFF, User.email.like(f"medarbejder%@{DEMO_EMAIL_DOMAIN}"))
            .order_by(User.email)
        )
    )


def load_historic_enrolments(runs: list[CourseRun], actor: User) -> None:
    """The 2008-09 participants: every seat taken, attendance on each day, a few who missed a day."""
    from app.enrolment.models import Attendance, Enrolment, EnrolmentStatus

    rng = random.Random(2009)
    staff = [u for u in _demo_staff() if u.email != DEMO_LOGINS[1][0]]
    queue = iter(staff)
    for run in runs:
        for n in range(run.capacity):
            user = next(queue, None)
            if user is None:
                return
            enrolment = Enrolment(
                run=run,
                user=user,
                status=EnrolmentStatus.CONFIRMED,
                practice_case=PRACTICE_CASES[n % len(PRACTICE_CASES)] if run.is_special else None,
                status_changed_at=datetime.combine(run.enrolment_deadline, time(12), tzinfo=UTC),
            )
            db.session.add(enrolment)
            run.seats_taken += 1
            missed = rng.random() < 0.06  # about one in twenty missed one day
            missed_day = rng.choice(run.days) if missed else None
            for day in run.days:
                enrolment.attendances.append(
                    Attendance(
                        course_day=day,
                        present=day is not missed_day,
                        recorded_by=actor,
                        recorded_at=datetime.combine(day.day, time(16), tzinfo=UTC),
                    )
                )
    db.session.flush()


def load_current_enrolments(runs: dict[str, CourseRun], actor: User, today: date) -> None:
    """Enrolments through the services (with their history): one run full with a waiting list, one
    half full with the demo caseworker on it, the special run awaiting approvals."""
    from app.enrolment import services

    now = clock.utcnow()
    staff = _demo_staff()
    me = db.session.scalars(select(User).filter_by(email=DEMO_LOGINS[1][0])).one()
    full, half, special = (
        runs["Tidlig inddragelse, hold A"],
        runs["Tidlig inddragelse, hold B"],
        runs["Netværksmøder i praksis 2.0"],
    )
    for user in staff[: full.capacity + 3]:
        services.enrol(actor, full.id, user, now, today)
    services.enrol(actor, half.id, me, now, today, note="Vegetar")
    for user in staff[40:50]:
        services.enrol(actor, half.id, user, now, today)
    for n, user in enumerate(staff[60:66]):
        services.enrol(actor, special.id, user, now, today, practice_case=PRACTICE_CASES[n % len(PRACTICE_CASES)])
    special.requires_approval = True
    for n, user in enumerate(staff[66:68]):
        services.enrol(user, special.id, user, now, today, practice_case=PRACTICE_CASES[n])
    # Leader approval (issue 24): from now on the leader approves first; the demo caseworker, in the team Lene
    # Leder leads, asks for a seat, so "Godkendelser" has a pending request.
    special.requires_leader_approval = True
    if me is not None:
        services.enrol(me, special.id, me, now, today, practice_case=PRACTICE_CASES[0])
    db.session.flush()


def load_current_programme(ref: dict, actor: User, today: date) -> None:
    from app.calendar.workdays import next_working_day

    year = today.year
    programme, created = _programme(
        CURRENT_NAME.format(year, year + 1),
        description="Videreuddannelse i netværksmøder og tidlig inddragelse af forældre, hold i indeværende og "
        "næste år.",
        starts_on=date(year, 1, 1),
        ends_on=date(year + 1, 12, 31),
        target_deadline=date(year + 1, 12, 31),
        target_runs=4,
        target_completed_staff=60,
        effect_target="Deltagerne bruger netværksmøder oftere efter kurset.",
    )
    fic, vilde = ref["providers"]["Familien i Centrum"], ref["providers"]["Vilde Læreprocesser"]
    for y in (year, year + 1):
        _allocate(programme, fic, y, 300_000)
        _allocate(programme, vilde, y, 150_000)
    if not created:
        return
    closed = {d.day: d.reason for d in db.session.scalars(select(ClosedDay))}

    def teaching_pair(weeks_ahead: int) -> tuple[date, date]:
        start = today + timedelta(weeks=weeks_ahead)
        start += timedelta(days=(1 - start.weekday()) % 7)  # a Tuesday
        day1 = next_working_day(start, closed)
        return day1, next_working_day(day1 + timedelta(days=1), closed)

    standard_methods = ("Familierådslagning", "Signs of Safety")
    plans = (
        (
            "Tidlig inddragelse, hold A",
            "Familien i Centrum",
            RunKind.STANDARD,
            standard_methods,
            24,
            75_000,
            6,
            "FIC, Kursuslokalet, Valby",
            RunStatus.PUBLISHED,
        ),
        (
            "Tidlig inddragelse, hold B",
            "Familien i Centrum",
            RunKind.STANDARD,
            standard_methods,
            24,
            75_000,
            10,
            "FIC, Kursuslokalet, Valby",
            RunStatus.PUBLISHED,
        ),
        (
            "Netværksmøder i praksis 2.0",
            "Vilde Læreprocesser",
            RunKind.SPECIAL,
            ("Netværksmøder",),
            10,
            50_000,
            8,
            "Socialcenter Nørrebro, mødelokale 2",
            RunStatus.PUBLISHED,
        ),
        (
            "Tidlig inddragelse, hold C",
            "Familien i Centrum",
            RunKind.STANDARD,
            standard_methods,
            24,
            75_000,
            20,
            "FIC, Kursuslokalet, Valby",
            RunStatus.DRAFT,
        ),
    )
    runs = {}
    for title, provider, kind, methods, capacity, price, weeks, venue, status in plans:
        day1, day2 = teaching_pair(weeks)
        runs[title] = _create_run(
            programme, RunSpec(title, provider, kind, methods, capacity, price, day1, day2, venue, status), ref, actor
        )
    load_current_enrolments(runs, actor, today)


def load_demo(today: date) -> None:
    """Load everything (caller commits)."""
    ref = load_reference_data()
    load_closed_days(range(2008, today.year + 3))
    load_users(ref)
    actor = db.session.scalars(select(User).filter_by(email=DEMO_LOGINS[0][0])).one()  # load_users made it
    load_historic_programme(ref, actor)
    load_historic_feedback()
    load_current_programme(ref, actor, today)


@demo_cli.command("load")
def load() -> None:
    """Load the demo data (idempotent: a second load neither duplicates nor fails)."""
    load_demo(clock.today())
    db.session.commit()
    click.echo("Demo data loaded.")


@demo_cli.command("logins")
def logins() -> None:
    """Print the demo logins: one per access level, and a staff member who leads a unit."""
    labels = {
        AccessLevel.COORDINATOR: "kursuskoordinator",
        AccessLevel.STAFF: "medarbejder (sagsbehandler)",
        AccessLevel.PROVIDER: "udbyder",
    }
    click.echo(f"\nKursusportalen demo logins (password for all: {DEMO_PASSWORD}):")
    for email, _name, level, provider, _role in DEMO_LOGINS:
        suffix = f" - {provider}" if provider else ""
        label = f"leder af Socialcenter {LEADER_CENTRE} (kompetenceoverblik)" if email == DEMO_LEADER else labels[level]
        click.echo(f"  {email:<24} {label}{suffix}")
    click.echo("Open http://127.0.0.1:5000\n")


class DemoAccountsInProduction(RuntimeError):
    """The production database holds demo accounts: refuse to serve it."""


def demo_accounts() -> list[str]:
    """The addresses of the accounts a production database must not hold: any address in the demo or scale
    domains, and any coordinator or provider account whose password is the published demo password (one hash
    check each; there are few such accounts, and staff accounts can't see others' data)."""
    from app.core.access import AccessLevel as Level

    in_demo_domain = or_(*(User.email.like(f"%@{domain}") for domain in DEMO_EMAIL_DOMAINS))
    found = list(db.session.scalars(select(User.email).where(in_demo_domain).order_by(User.email).limit(5)))
    privileged = db.session.scalars(
        select(User).where(
            User.access_level.in_((Level.COORDINATOR, Level.PROVIDER)),
            User.password_hash.is_not(None),
            ~in_demo_domain,
        )
    )
    found += [user.email for user in privileged if user.check_password(DEMO_PASSWORD)]
    return found


def refuse_demo_accounts(app) -> None:
    """Under the production configuration, raise DemoAccountsInProduction if the database holds demo accounts.
    Called by the production web server (gunicorn.conf.py, once in the master) and by the scheduler
    (scheduler/__main__.py) before they serve. A database that can't be read yet (not migrated, not reachable)
    is left to the health check: the next start checks again."""
    if app.config.get("ENV_NAME") != "production":
        return
    with app.app_context():
        try:
            found = demo_accounts()
        except SQLAlchemyError as exc:
            db.session.rollback()
            app.logger.warning("could not check the database for demo accounts: %s", type(exc).__name__)
            return
        finally:
            db.session.remove()
    if found:
        raise DemoAccountsInProduction(
            "Databasen indeholder demokonti (f.eks. "
            + ", ".join(found[:3])
            + "), og produktionskonfigurationen nægter at starte med dem: demoens adgangskode er offentlig. "
            "Installér på en ny, tom database (`flask db upgrade`) og opret den første koordinator med "
            "`flask users create --access coordinator` (deploy/README.md). "
            "The database holds demo accounts; production refuses to start with them."
        )


__all__ = ["demo_cli", "load_demo", "DEMO_PASSWORD", "DEMO_LOGINS", "refuse_demo_accounts", "time"]
