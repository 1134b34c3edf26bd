"""Danish labels (msgids) for every audit action and object type; an unknown action shows its code."""

from __future__ import annotations

from app.core.i18n import _l

#: action code -> label. Add the label when you add a `record()` call; the audit page shows the code otherwise.
ACTION_LABELS = {
    # Course runs and their days
    "run.create": _l("Kursusforløb oprettet"),
    "run.update": _l("Kursusforløb ændret"),
    "run.publish": _l("Kursusforløb offentliggjort"),
    "run.cancel": _l("Kursusforløb aflyst"),
    "run.complete": _l("Kursusforløb markeret som gennemført"),
    "run.follow_up_confirmed": _l("Opfølgningsdag fastlagt"),
    "method.create": _l("Metode oprettet"),
    "method.update": _l("Metode ændret"),
    "method.delete": _l("Metode slettet"),
    # Enrolments and attendance
    "enrolment.requested": _l("Tilmelding sendt til godkendelse"),
    "enrolment.confirmed": _l("Tilmeldt"),
    "enrolment.waitlisted": _l("Sat på venteliste"),
    "enrolment.approved": _l("Tilmelding godkendt"),
    "enrolment.rejected": _l("Tilmelding afvist"),
    "enrolment.promoted": _l("Rykket op fra ventelisten"),
    "enrolment.cancelled": _l("Afmeldt"),
    "enrolment.moved_out": _l("Flyttet til et andet kursusforløb"),
    "enrolment.moved_in": _l("Flyttet hertil fra et andet kursusforløb"),
    "enrolment.view": _l("Tilmeldingens historik vist"),
    "enrolment.move_view": _l("Siden til at flytte en deltager vist"),
    "attendance.record": _l("Fremmøde registreret"),
    "participants.view": _l("Deltagerliste vist"),
    "participants.export": _l("Deltagerliste hentet"),
    "participants.downloads_view": _l("Oversigt over hentede deltagerlister vist"),
    "certificates.export": _l("Kursusbeviser hentet"),
    "certificate.verified": _l("Kursusbevis kontrolleret"),
    "participants.api_read": _l("Deltagerliste hentet via API"),
    "completions.api_read": _l("Gennemførte kurser hentet via API"),
    # Feedback
    "feedback.submit": _l("Tilbagemelding givet"),
    "feedback.update": _l("Tilbagemelding rettet"),
    "feedback.view": _l("Tilbagemeldinger med navne vist"),
    # Users and reference data
    "user.create": _l("Bruger oprettet"),
    "user.update": _l("Bruger ændret"),
    "user.deactivate": _l("Bruger deaktiveret"),
    "user.activate": _l("Bruger genaktiveret"),
    "user.view": _l("Personoplysninger vist"),
    "user.search": _l("Søgning i brugere"),
    "enrolment.person_search": _l("Søgning efter medarbejder til tilmelding"),
    "user.list": _l("Brugerlisten vist"),
    "user.anonymise_view": _l("Siden til at anonymisere en bruger vist"),
    "user.data_export": _l("Personens data udleveret (indsigt)"),
    "staff.import": _l("Medarbejdere importeret"),
    "staff_role.create": _l("Stillingsbetegnelse oprettet"),
    "staff_role.update": _l("Stillingsbetegnelse ændret"),
    "staff_role.delete": _l("Stillingsbetegnelse slettet"),
    "unit.create": _l("Enhed oprettet"),
    "unit.update": _l("Enhed ændret"),
    "unit.delete": _l("Enhed slettet"),
    "unit.view": _l("Enhedens ledere vist"),
    "unit.leader_add": _l("Leder af enhed tilføjet"),
    "unit.leader_remove": _l("Leder af enhed fjernet"),
    "unit.person_search": _l("Søgning efter medarbejder til leder af enhed"),
    "competence.view": _l("Kompetenceoverblik vist"),
    "competence.export": _l("Kompetenceoverblik hentet som regneark"),
    # Programmes, budgets, providers, closed days
    "programme.create": _l("Indsats oprettet"),
    "programme.update": _l("Indsats ændret"),
    "budget.create": _l("Budgetramme oprettet"),
    "budget.update": _l("Budgetramme ændret"),
    "budget.delete": _l("Budgetramme slettet"),
    "provider.create": _l("Udbyder oprettet"),
    "provider.update": _l("Udbyder ændret"),
    "provider.view": _l("Udbyderens brugere vist"),
    "closed_day.create": _l("Lukkedag oprettet"),
    "closed_day.update": _l("Lukkedag ændret"),
    "closed_day.delete": _l("Lukkedag slettet"),
    "mail.retry": _l("Mail sendt igen"),
    "outbox.view": _l("Udgående mails vist"),
    # Integration clients (SCIM provisioning, the read API)
    "integration_client.create": _l("Integrationsklient oprettet"),
    "integration_client.rotate": _l("Integrationsklient fik ny nøgle"),
    "integration_client.revoke": _l("Integrationsklient tilbagekaldt"),
    "integration.call": _l("Kald fra integrationsklient"),
    "user.deprovision": _l("Bruger slettet i kommunens katalog (deaktiveret)"),
    "scim_mapping.update": _l("Jobtitel eller afdeling fra kataloget tilknyttet"),
    # The audit log itself
    "audit.search": _l("Revisionsloggen søgt for en person"),
    "audit.view": _l("Revisionsloggen vist"),
    "audit.purged": _l("Gamle logposter slettet"),
}

#: action prefix -> label of the group, for the filter ("all changes to enrolments").
ACTION_GROUPS = {
    "run.": _l("Kursusforløb (alle)"),
    "enrolment.": _l("Tilmeldinger (alle)"),
    "user.": _l("Brugere (alle)"),
    "feedback.": _l("Tilbagemeldinger (alle)"),
    "participants.": _l("Deltagerlister (alle)"),
}

#: object type -> label.
OBJECT_LABELS = {
    "run": _l("Kursusforløb"),
    "course_day": _l("Kursusdag"),
    "enrolment": _l("Tilmelding"),
    "user": _l("Bruger"),
    "programme": _l("Indsats"),
    "provider": _l("Udbyder"),
    "feedback": _l("Tilbagemelding"),
    "closed_day": _l("Lukkedag"),
    "method": _l("Metode"),
    "staff_role": _l("Stillingsbetegnelse"),
    "unit": _l("Enhed"),
    "staff_import": _l("Import af medarbejdere"),
    "outbox_message": _l("Mail"),
    "certificate": _l("Kursusbevis"),
}


def action_label(action: str) -> str:
    label = ACTION_LABELS.get(action)
    return str(label) if label is not None else action


def object_label(object_type: str | None) -> str:
    if object_type is None:
        return ""
    label = OBJECT_LABELS.get(object_type)
    return str(label) if label is not None else object_type
