"""Domain errors. Each carries a stable code; the API maps them to problem details in one place."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain refused the command (answered 409)."""

    code = "rule_violation"
    status = 409

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidValue(DomainError):
    """The command's values break a rule of their own (answered 422)."""

    code = "invalid_value"
    status = 422


class NotFound(DomainError):
    """No such resource in the caller's workspace (answered 404, also for another workspace's)."""

    code = "not_found"
    status = 404


class SequenceNotDraft(DomainError):
    code = "sequence_not_draft"


class SequenceNotActive(DomainError):
    code = "sequence_not_active"


class SequenceArchived(DomainError):
    code = "sequence_archived"


class RunArchived(DomainError):
    code = "run_archived"


class EnrollmentClosed(DomainError):
    code = "enrollment_closed"


class EnrollmentPausedError(DomainError):
    code = "enrollment_paused"


class LeadHasReplied(DomainError):
    code = "lead_has_replied"


class StepNotInState(DomainError):
    code = "step_state"


class SenderFailoverNotDue(DomainError):
    """Moving a lead off an unavailable sender before the sequence's sender_failover_hours have passed."""

    code = "sender_failover_not_due"


class NoMessage(DomainError):
    """Approving a step (or a lead's override) that has no message yet."""

    code = "no_message"


class SequenceClosed(DomainError):
    """Changing the messages of a completed or archived sequence."""

    code = "sequence_closed"


class LaunchBlocked(DomainError):
    """Launch refused while blocking readiness findings remain; `findings` lists them."""

    code = "launch_blocked"

    def __init__(self, detail: str, findings: list[dict[str, object]]) -> None:
        super().__init__(detail)
        self.findings = findings


class InvalidAddress(InvalidValue):
    """A suppression's value is not what its kind says: an email address, a domain, a LinkedIn profile URL."""

    code = "invalid_address"

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code  # invalid_email, invalid_domain or invalid_linkedin_url, as a lead import says
