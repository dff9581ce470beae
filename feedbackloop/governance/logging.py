"""Mask personal data in log records before any handler formats or stores them.

``install_pii_logging_filter()`` does two things, both idempotent:

- wraps the log-record factory, so every record created by any logger (also loggers and
  handlers created later) is masked at birth;
- adds a :class:`PiiMaskingFilter` to the handlers of the root logger (or of the logger
  given), for records that bypass the factory (``logging.makeLogRecord``, records rebuilt
  from a socket or queue).

What is masked: the message merged with its args (``record.msg`` becomes the masked text
and ``record.args`` is cleared, so no formatter can re-insert a raw argument), the exception
(``exc_info`` is rendered to text, masked into ``exc_text``, and dropped: the exception's own
message and every traceback line are covered, and no formatter can render the raw
exception again) and ``stack_info``.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

from nlp.pii import mask

__all__ = ["PiiMaskingFilter", "install_pii_logging_filter", "mask_record"]

# Set on records already masked, so a record passing the factory and then a filtered handler
# is not masked twice (masking is idempotent, but not free).
_MASKED_ATTR = "_pii_masked"


def _render_exception(exc_info: Any) -> str:
    # Same text logging.Formatter.formatException produces.
    lines = traceback.format_exception(*exc_info)
    text = "".join(lines)
    return text[:-1] if text.endswith("\n") else text


def mask_record(record: logging.LogRecord) -> logging.LogRecord:
    """Mask ``record`` in place and return it."""
    if getattr(record, _MASKED_ATTR, None) is record.msg:
        return record
    try:
        message = record.getMessage()
    except Exception:
        # Bad format args: logging would report the error at emit time, with the raw args.
        # Keep what we can, masked, and drop the args.
        message = f"{record.msg} {record.args!r}" if record.args else str(record.msg)
    masked = mask(message)
    record.msg = masked
    record.args = None
    if record.exc_info and record.exc_info != (None, None, None):
        exc_text = _render_exception(record.exc_info)
        record.exc_text = mask(exc_text)
        record.exc_info = None
    elif record.exc_text:
        record.exc_text = mask(record.exc_text)
    if record.stack_info:
        record.stack_info = mask(record.stack_info)
    setattr(record, _MASKED_ATTR, masked)
    return record


class PiiMaskingFilter(logging.Filter):
    """Logging filter that masks PII in the message, args, exception and stack text.

    It never drops a record (always returns True).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        mask_record(record)
        return True


_Factory = Callable[..., logging.LogRecord]


class _MaskingRecordFactory:
    """Wraps the previous record factory; marked so installing twice does not stack."""

    def __init__(self, previous: _Factory) -> None:
        self.previous = previous

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        return mask_record(self.previous(*args, **kwargs))


def install_pii_logging_filter(logger: logging.Logger | None = None) -> PiiMaskingFilter:
    """Mask PII in every log record: record factory + a filter on ``logger``'s handlers.

    ``logger`` defaults to the root logger. Safe to call more than once: the factory is
    wrapped once and each handler gets at most one filter. Returns the filter in use.
    """
    if not isinstance(logging.getLogRecordFactory(), _MaskingRecordFactory):
        logging.setLogRecordFactory(_MaskingRecordFactory(logging.getLogRecordFactory()))

    target = logger if logger is not None else logging.getLogger()
    existing = None
    for handler in target.handlers:
        for flt in handler.filters:
            if isinstance(flt, PiiMaskingFilter):
                existing = flt
    pii_filter = existing or PiiMaskingFilter()
    for handler in target.handlers:
        if not any(isinstance(flt, PiiMaskingFilter) for flt in handler.filters):
            handler.addFilter(pii_filter)
    return pii_filter
