"""`flask demo scale`: a national-size data set (seed 004: every municipality, several programmes), fast.

Bulk INSERTs in batches (SQLAlchemy's insertmanyvalues: one round trip per batch on PostgreSQL and
SQLite), one password hash shared by every generated account, deterministic for a given --seed. The rows
are consistent with what the services would have written: enrolments only for staff of an eligible role,
seat counters equal to the confirmed enrolments, attendance only on completed runs.
"""

from __future__ import annotations

import random
import time as _time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Any

import click
from dateutil.relativedelta import relativedelta
from sqlalchemy import func, insert, select

from app.accounts.models import StaffRole, Unit, User, hash_password
from app.core import clock, data_versions
from app.core.access import AccessLevel
from app.courses.models import (
    RUN_LIST_CHOICES,
    CourseDay,
    CourseRun,
    DayKind,
    Method,
    RunKind,
    RunStatus,
    run_eligible_roles,
    run_methods,
)
from app.demo import DEMO_PASSWORD, ROLE_WEIGHTS
from app.demo import SCALE_EMAIL_DOMAIN as EMAIL_DOMAIN
from app.enrolment.models import Attendance, Enrolment, EnrolmentStatus
from app.extensions import db
from app.programmes.models import Programme
from app.providers.models import Provider

BATCH = 5000
DAY_KINDS = (DayKind.TEACHING, DayKind.TEACHING, DayKind.FOLLOW_UP)


@dataclass(frozen=True)
class ScaleReport:
    municipalities: int
    staff: int
    runs: int
    enrolments: int
    attendances: int
    seconds: float


def _batches(rows: Iterable[dict], size: int = BATCH) -> Iterator[list[dict]]:
    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _insert_returning_ids(model, rows: list[dict]) -> list[int]:
    ids: list[int] = []
    for batch in _batches(rows):
        ids.extend(db.session.scalars(insert(model).returning(model.id, sort_by_parameter_order=True), batch))
    return ids


def _insert(table_or_model, rows: Iterable[dict]) -> int:
    n = 0
    for batch in _batches(rows):
        db.session.execute(insert(table_or_model), batch)
        n += len(batch)
    return n


def _weekday_on_or_after(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def generate(
    *,
    municipalities: int,
    staff: int,
    runs: int,
    enrolments: int,
    today: date,
    seed: int = 4,
    with_attendance: bool = True,
    progress=lambda message: None,
) -> ScaleReport:
    """Insert the data set (the caller commits). Refuses to run twice on the same database."""
    started = _time.monotonic()
    if db.session.scalar(select(func.count()).select_from(User).where(User.email.like(f"%@{EMAIL_DOMAIN}"))):
        raise click.ClickException(f"This database already holds a scale data set (users @{EMAIL_DOMAIN}).")
    rng = random.Random(seed)
    roles = list(db.session.scalars(select(StaffRole).order_by(StaffRole.id)))
    methods = list(db.session.scalars(select(Method).order_by(Method.id)))
    if not roles or not methods:
        raise click.ClickException("Load the reference data first: flask demo load")

    # Municipalities: a unit each with a child-and-family team; a programme each; regional providers.
    parents = _insert_returning_ids(Unit, [{"name": f"Kommune {m:03d}"} for m in range(1, municipalities + 1)])
    unit_ids = _insert_returning_ids(
        Unit,
        [{"name": f"Børn og Familie, Kommune {m:03d}", "parent_id": parent} for m, parent in enumerate(parents, 1)],
    )
    programme_ids = _insert_returning_ids(
        Programme,
        [
            {
                "name": f"Tidlig inddragelse, Kommune {m:03d}",
                "starts_on": date(today.year - 1, 1, 1),
                "ends_on": date(today.year + 2, 12, 31),
                "target_deadline": date(today.year + 2, 6, 30),
                "target_runs": max(1, runs // municipalities),
                "target_completed_staff": max(1, enrolments // municipalities),
            }
            for m in range(1, municipalities + 1)
        ],
    )
    provider_ids = list(db.session.scalars(select(Provider.id).order_by(Provider.id)))
    provider_ids += _insert_returning_ids(
        Provider,
        [
            {
                "name": f"Regional udbyder {n:02d}",
                "contact_name": "Kontakt",
                "active": True,
                "contact_email": f"udbyder{n:02d}@{EMAIL_DOMAIN}",
            }
            for n in range(1, 21)
        ],
    )
    progress(f"{municipalities} municipalities, {len(programme_ids)} programmes, {len(provider_ids)} providers")

    # Staff: one shared hash (generating 50,000 scrypt hashes would take an hour).
    password_hash = hash_password(DEMO_PASSWORD)
    role_ids = [r.id for r in roles]
    weights = ROLE_WEIGHTS if len(role_ids) == len(ROLE_WEIGHTS) else None  # caseworkers first, as in the demo
    staff_rows = []
    staff_roles: list[int] = []
    for n in range(1, staff + 1):
        role_id = rng.choices(role_ids, weights=weights)[0]
        staff_roles.append(role_id)
        staff_rows.append(
            {
                "email": f"medarbejder{n:06d}@{EMAIL_DOMAIN}",
                "name": f"Medarbejder {n:06d}",
                "password_hash": password_hash,
                "access_level": AccessLevel.STAFF,
                "active": True,
                "staff_role_id": role_id,
                "unit_id": rng.choice(unit_ids),
            }
        )
    staff_ids = _insert_returning_ids(User, staff_rows)
    by_role: dict[int, list[int]] = {}
    for user_id, role_id in zip(staff_ids, staff_roles, strict=True):
        by_role.setdefault(role_id, []).append(user_id)
    progress(f"{staff} staff")

    # Runs over the programme period: two teaching days on consecutive weekdays, follow-up 3 months on.
    per_run = max(1, round(enrolments / runs)) if runs else 0
    period_start, period_days = date(today.year - 1, 1, 15), 3 * 365
    run_rows: list[dict[str, Any]] = []
    run_days, run_roles = [], []
    for n in range(1, runs + 1):
        day1 = _weekday_on_or_after(period_start + timedelta(days=rng.randrange(period_days)))
        day2 = _weekday_on_or_after(day1 + timedelta(days=1))
        follow = _weekday_on_or_after(day2 + relativedelta(months=3))
        status = RunStatus.COMPLETED if follow < today else RunStatus.PUBLISHED
        if rng.random() < 0.03:
            status = RunStatus.CANCELLED
        eligible = rng.sample(role_ids, k=rng.randint(1, min(3, len(role_ids))))
        if role_ids[0] not in eligible and rng.random() < 0.8:
            eligible[0] = role_ids[0]  # most runs are open to caseworkers
        run_rows.append(
            {
                "programme_id": rng.choice(programme_ids),
                "provider_id": rng.choice(provider_ids),
                "title": f"Tidlig inddragelse, hold {n:05d}",
                "kind": RunKind.STANDARD,
                "status": status,
                "capacity": per_run + rng.randint(0, 10),
                "enrolment_deadline": day1 - timedelta(days=14),
                "first_day": day1,  # written without the ORM: the before_flush hook doesn't see these days
                "venue": f"Kursuscenter {rng.randint(1, 60)}",
                "price_ore": rng.choice([0, 250_000_00, 400_000_00]),
            }
        )
        run_days.append((day1, day2, follow))
        run_roles.append(sorted(set(eligible)))
    # Who enrols where, chosen before the runs are written so each run's seat counter is right at once:
    # per run, staff of its eligible roles, confirmed, up to its capacity.
    chosen: list[list[int]] = []
    pools: dict[tuple[int, ...], list[int]] = {}
    remaining = enrolments
    for index, (row, roles_open) in enumerate(zip(run_rows, run_roles, strict=True)):
        key = tuple(roles_open)
        if key not in pools:
            pools[key] = [u for role in roles_open for u in by_role.get(role, [])]
        pool = pools[key]
        share = per_run if index < len(run_rows) - 1 else remaining
        want = max(0, min(row["capacity"], len(pool), remaining, share))
        chosen.append(rng.sample(pool, k=want))
        row["seats_taken"] = want
        remaining -= want
    run_ids = _insert_returning_ids(CourseRun, run_rows)
    day_rows = [
        {
            "course_run_id": run_id,
            "kind": kind,
            "position": position,
            "day": day,
            "starts_at": time(9),
            "ends_at": time(15, 30),
        }
        for run_id, days in zip(run_ids, run_days, strict=True)
        for position, (day, kind) in enumerate(zip(days, DAY_KINDS, strict=True), 1)
    ]
    day_ids = _insert_returning_ids(CourseDay, day_rows)
    _insert(
        run_eligible_roles,
        (
            {"course_run_id": run_id, "staff_role_id": role}
            for run_id, roles_open in zip(run_ids, run_roles, strict=True)
            for role in roles_open
        ),
    )
    _insert(
        run_methods,
        (
            {"course_run_id": run_id, "method_id": method.id}
            for run_id in run_ids
            for method in rng.sample(methods, k=min(2, len(methods)))
        ),
    )
    progress(f"{runs} runs, {len(day_ids)} course days")

    enrolment_rows = [
        {"course_run_id": run_id, "user_id": user_id, "status": EnrolmentStatus.CONFIRMED}
        for run_id, users in zip(run_ids, chosen, strict=True)
        for user_id in users
    ]
    enrolment_ids = _insert_returning_ids(Enrolment, enrolment_rows)
    completed_runs = {
        run_id: index
        for index, (run_id, row) in enumerate(zip(run_ids, run_rows, strict=True))
        if row["status"] == RunStatus.COMPLETED
    }
    attendances = 0
    if with_attendance:

        def attendance_rows():
            for enrolment_id, row in zip(enrolment_ids, enrolment_rows, strict=True):
                index = completed_runs.get(row["course_run_id"])
                if index is None:
                    continue
                for day_id in day_ids[3 * index : 3 * index + 3]:
                    yield {"enrolment_id": enrolment_id, "course_day_id": day_id, "present": rng.random() < 0.93}

        attendances = _insert(Attendance, attendance_rows())
    # Runs and days written with Core, past the ORM hook that replaces the run list's choices' version.
    data_versions.bump(db.session, RUN_LIST_CHOICES)
    progress(f"{len(enrolment_ids)} enrolments, {attendances} attendance marks")
    return ScaleReport(municipalities, staff, runs, len(enrolment_ids), attendances, _time.monotonic() - started)


def register(demo_cli) -> None:
    @demo_cli.command("scale")
    @click.option("--municipalities", default=98, show_default=True, type=click.IntRange(1, 500))
    @click.option("--staff", default=50_000, show_default=True, type=click.IntRange(1, 1_000_000))
    @click.option("--runs", default=5_000, show_default=True, type=click.IntRange(1, 100_000))
    @click.option("--enrolments", default=150_000, show_default=True, type=click.IntRange(0, 5_000_000))
    @click.option("--seed", default=4, show_default=True, type=int)
    @click.option("--attendance/--no-attendance", default=True, show_default=True)
    def scale(municipalities, staff, runs, enrolments, seed, attendance):
        """Add a national-size data set (needs the reference data of `flask demo load`)."""
        report = generate(
            municipalities=municipalities,
            staff=staff,
            runs=runs,
            enrolments=enrolments,
            today=clock.today(),
            seed=seed,
            with_attendance=attendance,
            progress=lambda message: click.echo(f"  {message}"),
        )
        db.session.commit()
        click.echo(
            f"Scale data set loaded in {report.seconds:.0f} s: {report.staff} staff, {report.runs} runs, "
            f"{report.enrolments} enrolments, {report.attendances} attendance marks."
        )
