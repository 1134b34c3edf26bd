"""What the app's own CLI commands (`flask users ...`, `flask privacy ...`) say, in the app's language.

Click writes its own English around a command's messages: "Error: …" before a `ClickException`, "[y/N]" and
"Aborted!" around `click.confirm`, "Repeat for confirmation:" and "The two entered values do not match." in a
confirmed prompt. Beside the commands' Danish that made one output in two languages. These helpers say the
same in the app's default language (BABEL_DEFAULT_LOCALE; a command has no request and so no other); the
text is translated when the helper is called, inside the command's app context. Click's own parsing
(unknown option, a bad --access value, --help) stays click's: it happens before any command runs.
"""

from __future__ import annotations

from typing import IO, Any

import click
from flask_babel import gettext as _

#: Answers to `confirm` that mean yes, in either language; anything else means no.
YES = frozenset({"ja", "j", "yes", "y"})


class CommandFailed(click.ClickException):
    """A command ends with exit code 1 and "Fejl: <message>" on standard error."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.prefix = _("Fejl")

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"{self.prefix}: {self.format_message()}", err=True, file=file)


def confirm(question: str) -> bool:
    """Ask a yes/no question; only "ja" (or "j", "yes", "y") is yes — the safe answer is the default."""
    # Not inside the f-string: Babel's extractor only sees calls in f-strings on Python 3.12+.
    choices = _("ja/nej")
    answer = click.prompt(f"{question} ({choices})", default="", show_default=False)
    return answer.strip().lower() in YES


def prompt_new_password() -> str:
    """A password typed twice, hidden; asked again until both are the same."""
    while True:
        first = click.prompt(_("Adgangskode"), hide_input=True)
        second = click.prompt(_("Gentag adgangskoden"), hide_input=True)
        if first == second:
            return first
        click.echo(_("De to adgangskoder er ikke ens. Prøv igen."), err=True)
