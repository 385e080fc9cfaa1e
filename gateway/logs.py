"""Process logging: one line per record, plain text or JSON (`GATEWAY_LOG_FORMAT=json`).

Records about a call carry `request_id` (and the call's fields) as attributes, so a JSON line can be
filtered by request id without parsing the message.

Hostile text stays text: a record's message never holds a raw control character. CR and LF in a
client's value would forge a log line of their own, ESC sequences would rewrite a terminal, NUL
cuts lines in some tools — they are written as visible escapes (`\r`, `\x1b`). Exception
tracebacks, added by the formatter after the message, keep their own lines.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from typing import Any

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def neutralize(text: str) -> str:
    """`text` with every control character written as a visible escape."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


class Neutralize(logging.Filter):
    """Escape control characters in the rendered message of every record (any logger)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        # Kept rendered, so the formatter does not format the message a second time.
        record.msg = neutralize(message) if _CONTROL.search(message) else message
        record.args = None
        return True


class TextFormatter(logging.Formatter):
    """`time level logger message`, the time rendered once per second (the per-call log line is
    on every call's path; `strftime` for each record was a visible share of it)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self._second, self._stamp = -1, ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return self._time(record.created, int(record.msecs))

    def line(self, created: float, level: str, name: str, message: str) -> str:
        """What `format` gives for a record without exception or stack, made at `created`
        (`time.time()`) with this `message` (already neutralized)."""
        msecs = int((created - int(created)) * 1000)  # as `LogRecord` works it out
        return f"{self._time(created, msecs)} {level} {name} {message}"

    def _time(self, created: float, msecs: int) -> str:
        second = int(created)
        if second != self._second:
            self._second, self._stamp = second, time.strftime("%Y-%m-%d %H:%M:%S",
                                                               self.converter(created))
        return f"{self._stamp},{msecs:03d}"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class CallLog:
    """`logger.info(message, extra=fields)` for the line every call writes, at a third of its cost
    (10.8 → 3.3 µs warm, 33.6 → 12.1 µs in the loaded proxy) while logging is set up as
    `configure_logging` left it in the text format: then the line goes straight to that handler's
    stream, byte for byte what logging writes (a record's extra fields show only in the JSON
    format). Logging's own path is taken for any other setup — JSON lines, a handler, filter,
    level or `disable` added since by an embedding application or a test — so every handler
    still gets the record with its fields."""

    def __init__(self, name: str) -> None:
        self.logger = logging.getLogger(name)

    def info(self, message: str, fields: dict[str, Any]) -> None:
        text, logger = _TEXT, self.logger
        if text is None or not _straight(logger, text):
            logger.info(message, extra=fields)
            return
        handler, formatter, _ = text
        if _CONTROL.search(message):
            message = neutralize(message)
        handler.acquire()
        try:
            handler.stream.write(formatter.line(time.time(), "INFO", logger.name, message) + "\n")
            handler.flush()
        except RecursionError:
            raise
        except Exception:
            handler.handleError(logging.makeLogRecord({"name": logger.name, "msg": message}))
        finally:
            handler.release()


# The text-format handler `configure_logging` installed, its formatter and filter.
_TEXT: tuple[logging.StreamHandler[Any], TextFormatter, Neutralize] | None = None


def _straight(logger: logging.Logger, text: tuple[logging.StreamHandler[Any], TextFormatter,
                                                   Neutralize]) -> bool:
    """Whether an INFO record of `logger` would reach that handler and only it, and be filtered
    and formatted only by what `configure_logging` gave it."""
    handler, formatter, neutralizer = text
    if (logger.disabled or logger.filters or not logger.isEnabledFor(logging.INFO)
            or handler.level > logging.INFO or handler.formatter is not formatter
            or len(handler.filters) != 1 or handler.filters[0] is not neutralizer):
        return False
    node: logging.Logger | None = logger
    while node is not None and node.parent is not None:  # up to the root
        if node.handlers or not node.propagate:
            return False
        node = node.parent
    return node is not None and len(node.handlers) == 1 and node.handlers[0] is handler


def configure_logging(fmt: str | None = None, level: str | None = None) -> None:
    fmt = (fmt or os.environ.get("GATEWAY_LOG_FORMAT") or "text").lower()
    global _TEXT
    handler = logging.StreamHandler(sys.stderr)
    neutralizer = Neutralize()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
        _TEXT = None
    else:
        formatter = TextFormatter()
        handler.setFormatter(formatter)
        _TEXT = (handler, formatter, neutralizer)
    handler.addFilter(neutralizer)
    # Neither format shows the thread, process or source line of a record: skip looking them up
    # for every record (the caller's frame walk alone is a few microseconds a line).
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging._srcfile = None  # documented: "set _srcfile to None to avoid" the frame walk
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel((level or os.environ.get("GATEWAY_LOG_LEVEL") or "INFO").upper())
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("mitmproxy").setLevel(logging.WARNING)
