"""The old home of the dispatch drive, kept so queued RQ jobs still find their functions.

RQ stores a job's function as its dotted path (`bot.dispatch.waves.start_dispatch`);
jobs queued before the split of this module into `plan`, `lease`, `drive`,
`fanout`, `coordinators` and `watchdog` still name these paths, so they stay
importable here. New code imports from the modules themselves (CHANGELOG.md).
"""

from __future__ import annotations

from .drive import refill, start_dispatch, wave_timeout
from .watchdog import watchdog

__all__ = ["start_dispatch", "wave_timeout", "refill", "watchdog"]
