"""The errors a user can act on.

Every entry point (Slack listener, API route, CLI command, job) has one error boundary: a
``TamioError`` becomes a clear message (ephemeral in Slack, problem JSON in the API, a line on
stderr in the CLI); anything else gets a correlation id in the log and a short apology.

    TamioError                 what was wrong and what would be right (HTTP 400)
    ├── ValidationError        one or more fields are wrong; ``field_errors`` maps field -> message
    ├── NotFound               the thing does not exist in this account (HTTP 404)
    ├── PermissionDenied       the member's role does not allow it (HTTP 403)
    ├── Conflict               someone else changed it first (HTTP 409)
    ├── MissingExchangeRate    no rate to convert an amount; nothing was written
    └── LockedField / LockedRule  owned by an integration or locked by policy (HTTP 409)
"""

from __future__ import annotations


class TamioError(Exception):
    status = 400
    title = "Bad request"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} {self.hint}"


class ValidationError(TamioError):
    status = 422
    title = "Invalid input"

    def __init__(self, message: str, *, field_errors: dict[str, str] | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.field_errors = field_errors or {}


class NotFound(TamioError):
    status = 404
    title = "Not found"


class PermissionDenied(TamioError):
    status = 403
    title = "Forbidden"


class Conflict(TamioError):
    status = 409
    title = "Conflict"


class MissingExchangeRate(TamioError):
    status = 422
    title = "Missing exchange rate"

    def __init__(self, message: str, *, hint: str | None = None, currencies: tuple[str, str] | None = None) -> None:
        super().__init__(message, hint=hint)
        self.currencies = currencies  # (from, to): what a feed fetched on first need must hold


class LockedField(TamioError):
    status = 409
    title = "Locked field"


class LockedRule(TamioError):
    status = 409
    title = "Locked rule"


BUSY_DATABASE = ("The database is busy with a long change (a large import, or the figures being worked out again "
                 "after one); nothing was saved. Try again in a minute.")


def database_busy(error: BaseException) -> bool:
    """Whether ``error`` or what caused it is SQLite's "database is locked": another writer held the file
    longer than a writer waits for it (``busy_timeout``). Nothing is wrong with the request: it can be
    tried again, and the person is told so (``BUSY_DATABASE``) rather than given an apology."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if type(current).__name__ == "OperationalError" and "database is locked" in str(current):
            return True
        current = current.__cause__ or current.__context__
    return False

