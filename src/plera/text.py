"""Text from outside made fit to keep: what PostgreSQL's text and jsonb cannot hold never becomes an event.

An event is kept forever and copied by every read model, so one NUL byte or lone surrogate in it
would fail every projection that copies it, for every workspace behind it in the log. Text that
arrives raw (inbound mail, CSV files) is cleaned here before it becomes an event; API fields are
refused instead (`commands.models`), since a person can correct them.
"""

from __future__ import annotations

import re

# C0 controls but tab, line feed and carriage return; DEL; and the surrogate range, which a
# well-formed str only holds when bytes were decoded with "surrogateescape" or were never text.
_UNFIT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Every control character, line breaks included: none belongs in a name, an address or a header.
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def clean_text(value: str) -> str:
    """`value` without NUL and other control characters (tab and line breaks stay); a lone
    surrogate becomes U+FFFD, the replacement character, so the reader sees that something was there."""
    if _UNFIT.search(value):
        value = _UNFIT.sub("", value)
    if _SURROGATE.search(value):
        value = _SURROGATE.sub("\ufffd", value)
    return value


def clean_line(value: str) -> str:
    """`clean_text` for one line: line breaks and tabs become spaces too."""
    if value.isprintable():  # most cells: no control character, no surrogate (a CSV import calls this per cell)
        return value
    return _CONTROL.sub(" ", clean_text(value)) if _CONTROL.search(value) else clean_text(value)


def has_control(value: str) -> bool:
    """Whether `value` holds a control character (a line break too): refused in names and addresses."""
    return _CONTROL.search(value) is not None
