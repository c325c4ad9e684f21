"""All tables, imported together so `SQLModel.metadata` is complete for the engine and Alembic."""

from storage.tables.audit import AuditEntry
from storage.tables.charts import Chart
from storage.tables.deployment import Deployment
from storage.tables.digests import DigestRun, DigestSubscription
from storage.tables.erasures import ErasedFeedback
from storage.tables.feedback import Claim, Engagement, Feedback, FeedbackReaction, Station, StationItem
from storage.tables.files import StoredFile
from storage.tables.outbox import Delivery, ProcessedEvent
from storage.tables.people import ConversationRef, Person, RoleGrant
from storage.tables.pulses import Participation, Pulse, PulseRun, Question, Response
from storage.tables.sandbox import SandboxChannel, SandboxMember, SandboxMessage
from storage.tables.slack import SlackConversationTeam
from storage.tables.sources import FeedbackSource, SourceTally
from storage.tables.summaries import RunSummary, RunSummaryQuestion, RunSummaryWeek

__all__ = [
    "AuditEntry",
    "Chart", "Claim", "ConversationRef", "Delivery", "Deployment", "DigestRun", "DigestSubscription", "Engagement",
    "ErasedFeedback",
    "Feedback", "FeedbackReaction", "FeedbackSource", "Participation", "Person", "ProcessedEvent", "Pulse",
    "PulseRun", "Question", "Response", "RoleGrant", "RunSummary", "RunSummaryQuestion", "RunSummaryWeek",
    "SandboxChannel", "SandboxMember", "SandboxMessage",
    "SlackConversationTeam", "SourceTally", "Station", "StationItem", "StoredFile",
]
