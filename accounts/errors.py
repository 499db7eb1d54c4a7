"""Errors a person or a program can cause, with a message for them (and the field)."""


class ServiceError(Exception):
    """Bad input or a forbidden change; `field` names the input at fault, if one is."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(Exception):
    """The object does not exist *for this actor*: another tenant's site is not found."""


class Forbidden(Exception):
    """The actor sees the object but its role or scopes do not allow the change."""
