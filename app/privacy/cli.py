"""`flask privacy ...`: the retention job by hand, and anonymising a leaver from the command line."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.accounts.queries import get_user_by_email
from app.core import clock
from app.core.exceptions import DomainError
from app.extensions import db
from app.privacy import services

privacy_cli = AppGroup("privacy", help="Retention and anonymisation of personal data (docs/privacy.md).")


@privacy_cli.command("anonymise-expired")
@click.option("--dry-run", is_flag=True, help="Only list what would be anonymised; change nothing.")
def anonymise_expired_command(dry_run: bool) -> None:
    """Anonymise the participants of runs past PERSONAL_DATA_RETENTION_YEARS (what the daily job does)."""
    report = services.anonymise_expired_runs(clock.now(), dry_run=dry_run)
    verb = "would be anonymised" if dry_run else "anonymised"
    click.echo(
        f"Runs whose last day is before {report.cutoff.isoformat()}: {len(report.run_ids)} {verb} "
        f"({report.enrolments} enrolments)."
    )
    if report.run_ids:
        click.echo("Run ids: " + ", ".join(str(run_id) for run_id in report.run_ids))
    click.echo(f"Inactive accounts {verb}: {len(report.accounts)}.")
    if not dry_run:
        click.echo(
            f"Mails deleted: {report.mails_deleted} of the runs, {report.sent_mails_deleted} sent to anonymised people."
        )


@privacy_cli.command("anonymise-user")
@click.argument("email")
@click.option("--by", "by_email", required=True, help="Email of the coordinator responsible (in the audit log).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def anonymise_user_command(email: str, by_email: str, yes: bool) -> None:
    """Anonymise the leaver with EMAIL at once: future enrolments cancelled, the account stripped."""
    user = get_user_by_email(email)
    if user is None:
        raise click.ClickException("No user with that email.")
    actor = get_user_by_email(by_email)
    if actor is None or not actor.is_coordinator or not actor.active:
        raise click.ClickException("--by must be the email of an active coordinator.")
    if not yes:
        click.confirm(f"Anonymise user {user.id} irreversibly?", abort=True)
    now = clock.now()
    try:
        services.anonymise_user(actor, user.id, now, now.date(), confirm_name=user.name)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    click.echo(f"User {user.id} anonymised.")
