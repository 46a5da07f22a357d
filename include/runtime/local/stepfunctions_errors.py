"""Errors raised while a local execution runs, named as Step Functions names them."""

from __future__ import annotations


class TaskFailure(Exception):
    """Raised by a handler to report a Step Functions error by name (e.g. ``Lambda.ServiceException``)."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error = error
        self.cause = cause


class StatesError(Exception):
    """An error raised inside a state; ``terminal`` ones (``States.Runtime``...) skip Retry and Catch."""

    def __init__(self, error: str, cause: str, *, terminal: bool = False) -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause
        self.terminal = terminal
