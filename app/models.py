"""One registry of every table, for Alembic, the shell and the tests (Indico's import_all_models)."""

from app.accounts.mfa.models import MfaCredential, MfaRecoveryCode
from app.accounts.models import StaffRole, Unit, User
from app.accounts.sso.models import UserIdentity
from app.audit.models import AuditEntry, AuditEntrySubject
from app.calendar.models import ClosedDay
from app.certificates.models import Certificate
from app.core.models import DataVersion
from app.courses.models import CourseDay, CourseRun, DayKind, Method, RunKind, RunStatus
from app.enrolment.models import Attendance, Enrolment, EnrolmentEvent, EnrolmentStatus, EventKind
from app.health.models import SchedulerHeartbeat
from app.integrations.models import IntegrationClient
from app.notifications.models import CalendarInvitation, OutboxMessage, OutboxStatus
from app.privacy.models import PersonKey
from app.programmes.feedback_models import EarlierInvolvement, Feedback, FeedbackMethodAnswer, Frequency
from app.programmes.models import BudgetAllocation, Programme
from app.providers.models import Provider
from app.reporting.models import ExportDownload, ExportFormat
from app.scim.models import ScimUser, ScimValueMapping

__all__ = [
    "Attendance",
    "DataVersion",
    "AuditEntry",
    "AuditEntrySubject",
    "Certificate",
    "Enrolment",
    "EnrolmentEvent",
    "EnrolmentStatus",
    "EventKind",
    "ExportDownload",
    "ExportFormat",
    "EarlierInvolvement",
    "Feedback",
    "FeedbackMethodAnswer",
    "IntegrationClient",
    "Frequency",
    "BudgetAllocation",
    "CalendarInvitation",
    "ClosedDay",
    "CourseDay",
    "CourseRun",
    "DayKind",
    "Method",
    "MfaCredential",
    "MfaRecoveryCode",
    "OutboxMessage",
    "OutboxStatus",
    "PersonKey",
    "Programme",
    "Provider",
    "RunKind",
    "RunStatus",
    "SchedulerHeartbeat",
    "ScimUser",
    "ScimValueMapping",
    "StaffRole",
    "Unit",
    "User",
    "UserIdentity",
]
