"""One exception class per meaning. Anything that means "updates were not sent" carries them."""

from __future__ import annotations

from collections.abc import Sequence

from contract.updates import LocationUpdate, StatusUpdate


class ProducerError(Exception):
    """Base class of everything the producers package raises on purpose."""


class SendFailed(ProducerError):
    """Some updates were not confirmed by the queue (or the API) within the retry budget.

    ``unsent`` holds exactly those updates, so the caller can retry, spool or report them;
    ``reasons`` says why, one line per distinct cause.
    """

    def __init__(self, unsent: Sequence[StatusUpdate | LocationUpdate], reasons: Sequence[str]) -> None:
        self.unsent = list(unsent)
        self.reasons = list(dict.fromkeys(reasons))
        super().__init__(f"{len(self.unsent)} update(s) not sent: {'; '.join(self.reasons) or 'unknown'}")


class ProducerClosed(ProducerError):
    """``add()`` after ``close()``: the update was not accepted."""
