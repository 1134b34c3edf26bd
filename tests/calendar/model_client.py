"""A model calendar client: what a standards-following calendar makes of the iMIP mails it receives.

Each recipient has one `ModelCalendar`. A delivered mail is parsed as the real thing (the stdlib `email`
package for the MIME, the `icalendar` library for the text/calendar part) and applied by RFC 5546's rules:

- the UID is the key (§2.1.5); SEQUENCE orders revisions, and at equal SEQUENCE the later (or equal) DTSTAMP
  wins; a message ranked below what the calendar holds for the UID is stale and ignored (§2.1.5, §4.2.9:
  a REQUEST with SEQUENCE below the CANCEL's is obsolete);
- REQUEST creates or replaces the event; CANCEL removes it (the calendar remembers the UID's SEQUENCE and
  DTSTAMP, so a late older REQUEST cannot bring it back).

It also checks, per (UID, recipient), that SEQUENCE never decreases from one mail to the next
(`violations`), and the shape of each message (one VEVENT, METHOD in the MIME type and the object, the
recipient as the only ATTENDEE, STATUS only as RFC 5546 §3.2.5 allows).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy

from icalendar import Calendar


@dataclass(frozen=True)
class HeldEvent:
    """An event as the calendar shows it."""

    uid: str
    sequence: int
    stamp: datetime
    start: datetime
    end: datetime
    summary: str
    location: str


@dataclass(frozen=True)
class Itip:
    """One parsed iMIP message."""

    method: str
    uid: str
    sequence: int
    stamp: datetime
    status: str | None
    attendees: tuple[str, ...]
    event: HeldEvent


def _address(value) -> str:
    return str(value).removeprefix("mailto:").removeprefix("MAILTO:").lower()


def parse_imip(raw: bytes) -> Itip | None:
    """The iTIP message in a mail, or None for a mail without a calendar part (a plain notice)."""
    mail = message_from_bytes(raw, policy=policy.default)
    parts = [p for p in mail.walk() if p.get_content_type() == "text/calendar"]
    if not parts:
        return None
    assert len(parts) == 1, "one calendar part per mail"
    part = parts[0]
    cal = Calendar.from_ical(part.get_payload(decode=True))
    method = str(cal["METHOD"])
    assert part.get_param("method") == method, "the MIME method parameter names the object's METHOD"
    events = cal.walk("VEVENT")
    assert len(events) == 1, "one VEVENT (one UID) per message"
    ev = events[0]
    status = str(ev["STATUS"]) if "STATUS" in ev else None
    if method == "REQUEST":
        assert status == "CONFIRMED"
    else:
        assert method == "CANCEL" and status in (None, "CANCELLED")
    attendees = ev.get("ATTENDEE")
    attendees = attendees if isinstance(attendees, list) else [attendees]
    stamp = ev.decoded("DTSTAMP")
    held = HeldEvent(
        uid=str(ev["UID"]),
        sequence=int(ev.get("SEQUENCE", 0)),
        stamp=stamp,
        start=ev.decoded("DTSTART"),
        end=ev.decoded("DTEND"),
        summary=str(ev["SUMMARY"]),
        location=str(ev.get("LOCATION", "")),
    )
    return Itip(method, held.uid, held.sequence, stamp, status, tuple(_address(a) for a in attendees), held)


@dataclass
class ModelCalendar:
    """One recipient's calendar."""

    address: str
    events: dict[str, HeldEvent] = field(default_factory=dict)
    #: UID -> (SEQUENCE, DTSTAMP) of the last message applied (kept after a CANCEL).
    revision: dict[str, tuple[int, datetime]] = field(default_factory=dict)
    #: UID -> the highest SEQUENCE mailed to this recipient (applied or not).
    mailed: dict[str, int] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    ignored: int = 0

    def apply(self, itip: Itip) -> bool:
        """Apply one message; False when it was stale and ignored."""
        if itip.attendees != (self.address,):
            self.violations.append(f"{itip.uid}: ATTENDEE {itip.attendees} in a mail to {self.address}")
        last_mailed = self.mailed.get(itip.uid)
        if last_mailed is not None and itip.sequence < last_mailed:
            self.violations.append(f"{itip.uid}: SEQUENCE {itip.sequence} after {last_mailed} to {self.address}")
        self.mailed[itip.uid] = max(itip.sequence, last_mailed or 0)
        held = self.revision.get(itip.uid)
        if held is not None and (itip.sequence, itip.stamp) < held:
            self.ignored += 1
            return False
        self.revision[itip.uid] = (itip.sequence, itip.stamp)
        if itip.method == "REQUEST":
            self.events[itip.uid] = itip.event
        else:
            self.events.pop(itip.uid, None)
        return True


class ModelClients:
    """One model calendar per recipient address; `deliver()` every mail the SMTP server accepted, in order."""

    def __init__(self):
        self.calendars: dict[str, ModelCalendar] = defaultdict(lambda: ModelCalendar(""))

    def calendar(self, address: str) -> ModelCalendar:
        address = address.lower()
        cal = self.calendars[address]
        cal.address = address
        return cal

    def deliver(self, recipients: list[str], raw: bytes) -> None:
        itip = parse_imip(raw)
        if itip is None:
            return
        for address in recipients:
            self.calendar(address).apply(itip)

    def violations(self) -> list[str]:
        return [v for cal in self.calendars.values() for v in cal.violations]
