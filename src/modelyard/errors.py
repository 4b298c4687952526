"""The root of every error modelyard raises on purpose."""

from __future__ import annotations


class ModelyardError(Exception):
    """An error with a message meant for the user.

    The CLI prints ``str(error)`` as one line and exits with ``exit_code``; a traceback is
    shown only with ``--debug``. Subclasses live in each package's ``errors.py``.
    """

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        message = super().__str__()
        return f"{message} ({self.hint})" if self.hint else message


class UsageError(ModelyardError):
    """The command line asks for something that cannot be done as given."""

    exit_code = 2
