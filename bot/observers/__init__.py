"""The observer roster: who the legal observers are, where, in which languages, and when on duty.

Dispatch must ask only people who are on duty and near; this package owns the
data that answers "who is that right now" and never decides dispatch order.
Numbers are kept only sealed. Modules: `parse` (a roster row, shifts),
`roster` (storage, CSV import), `duty` (shifts, overrides, on duty now),
`search` (candidates near a point), `join` (join codes).
"""

from __future__ import annotations

from .duty import import_shifts_yaml, is_on_duty, next_shift_change, set_duty, set_shifts, shifts_of
from .join import JOIN_CODE_TTL_S, JOIN_WORDS, enroll, issue_join_code
from .parse import (
    DAYS,
    DEFAULT_TIMEZONE,
    MAX_RADIUS_KM,
    REQUIRED_COLUMNS,
    SKILLS,
    Shift,
    parse_phone,
    parse_row,
    parse_shifts,
)
from .roster import (
    ImportResult,
    get,
    get_many,
    import_csv,
    language_of,
    languages_of,
    mark_unreachable,
    number_of,
    observer_id_for,
    remove,
    upsert,
)
from .search import SEARCH_BATCH, candidates_near, on_duty_count

__all__ = [
    "DAYS",
    "DEFAULT_TIMEZONE",
    "JOIN_CODE_TTL_S",
    "JOIN_WORDS",
    "MAX_RADIUS_KM",
    "REQUIRED_COLUMNS",
    "SEARCH_BATCH",
    "SKILLS",
    "ImportResult",
    "Shift",
    "candidates_near",
    "enroll",
    "get",
    "get_many",
    "import_csv",
    "import_shifts_yaml",
    "is_on_duty",
    "issue_join_code",
    "language_of",
    "languages_of",
    "mark_unreachable",
    "next_shift_change",
    "number_of",
    "observer_id_for",
    "on_duty_count",
    "parse_phone",
    "parse_row",
    "parse_shifts",
    "remove",
    "set_duty",
    "set_shifts",
    "shifts_of",
    "upsert",
]
