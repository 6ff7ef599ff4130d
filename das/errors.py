"""Errors that name the thing and the fix. The CLI prints them as one line, not a stack trace."""


class DasError(Exception):
    """Base class: the message is one actionable sentence."""


class ServiceError(DasError):
    """A local or remote service is missing, unreachable or misconfigured."""


class ContractError(DasError):
    """Input does not follow the landing contract (whole file unusable)."""


class ReconciliationError(DasError):
    """Rows landed != published + quarantined + duplicates."""


class QualityGateError(DasError):
    """A critical expectation failed, so publish was blocked."""


class LakeError(DasError):
    """A Delta table could not be read or written."""


class LakeConflictError(LakeError):
    """A concurrent commit changed data this write read: recompute from the new version and retry."""


class BoundaryFileError(DasError):
    """A boundary file cannot be loaded (unreadable, no CRS, no code or name field, not polygons); nothing changed."""
