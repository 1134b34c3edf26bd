"""`flask privacy ...`: the retention job by hand, and anonymising a leaver from the command line."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from flask_babel import gettext as _

from app.accounts.queries import get_user_by_email
from app.core import clock
from app.core.cli import CommandFailed, confirm
from app.core.exceptions import DomainError
from app.core.templating import dk_date
from app.extensions import db
from app.privacy import services

privacy_cli = AppGroup("privacy", help="Retention and anonymisation of personal data (docs/privacy.md).")


@privacy_cli.command("anonymise-expired")
@click.option("--dry-run", is_flag=True, help="Only list what would be anonymised; change nothing.")
def anonymise_expired_command(dry_run: bool) -> None:
    """Anonymise the participants of runs past PERSONAL_DATA_RETENTION_YEARS (what the daily job does)."""
    report = services.anonymise_expired_runs(clock.now(), dry_run=dry_run)
    runs, enrolments, accounts = len(report.run_ids), report.enrolments, len(report.accounts)
    click.echo(_("Kursusforløb, hvis sidste kursusdag er før %(date)s:", date=dk_date(report.cutoff)))
    if dry_run:
        click.echo(
            _("– ville blive anonymiseret: %(runs)s (tilmeldinger: %(enrolments)s)", runs=runs, enrolments=enrolments)
        )
    else:
        click.echo(_("– anonymiseret: %(runs)s (tilmeldinger: %(enrolments)s)", runs=runs, enrolments=enrolments))
    if report.run_ids:
        click.echo(_("– id: %(ids)s", ids=", ".join(str(run_id) for run_id in report.run_ids)))
    if dry_run:
        click.echo(_("Inaktive konti, der ville blive anonymiseret: %(num)s", num=accounts))
    else:
        click.echo(_("Inaktive konti, der er anonymiseret: %(num)s", num=accounts))
        click.echo(
            _(
                "Slettede mails: %(runs)s om kursusforløbene, %(people)s sendt til anonymiserede personer",
                runs=report.mails_deleted,
                people=report.sent_mails_deleted,
            )
        )


@privacy_cli.command("anonymise-user")
@click.argument("email")
@click.option("--by", "by_email", required=True, help="Email of the coordinator responsible (in the audit log).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def anonymise_user_command(email: str, by_email: str, yes: bool) -> None:
    """Anonymise the leaver with EMAIL at once: future enrolments cancelled, the account stripped."""
    user = get_user_by_email(email)
    if user is None:
        raise CommandFailed(_("Der findes ingen bruger med den e-mailadresse."))
    actor = get_user_by_email(by_email)
    if actor is None or not actor.is_coordinator or not actor.active:
        raise CommandFailed(_("--by skal være e-mailadressen på en aktiv kursuskoordinator."))
    if not yes and not confirm(_("Anonymisér bruger %(id)s? Det kan ikke fortrydes.", id=user.id)):
        raise CommandFailed(_("Afbrudt. Intet er ændret."))
    now = clock.now()
    try:
        services.anonymise_user(actor, user.id, now, now.date(), confirm_name=user.name)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        raise CommandFailed(exc.message) from None
    click.echo(_("Bruger %(id)s er anonymiseret.", id=user.id))
