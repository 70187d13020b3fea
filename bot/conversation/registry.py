"""The flows a running hotline serves: parsed once, reloaded on change, pinned by version.

Parsing YAML on every text would cost milliseconds on the webhook's hot path, so
flows are loaded once per process and re-read only when a file's mtime changes
(so no SIGHUP or reload command is needed: saving the file is enough); the folder is looked at no more than once
a second per process, since listing it on every text was a measurable share of
the webhook's CPU and a coordinator's edit can wait a second. A file that no
longer loads or checks cleanly never replaces the working version: the hotline
keeps serving the last good one and logs the problem. Every version served is kept (in memory, and in
Redis for other processes) so a waiting caller finishes on the text they started.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import store
from .keywords import load_globals_text
from .loader import is_flow_source, load_flow_text
from .model import Flow, Globals

log = logging.getLogger(__name__)

GLOBALS_FILE = "_globals.yaml"
"""The file holding keywords and triggers, beside the flows."""

CHECK_INTERVAL_S = 1.0
"""Look at the flows folder's mtimes at most this often per registry."""

VERSION_TTL_S = 7 * 24 * 3600
"""Keep a flow version's text in Redis a week: longer than any session lives."""


@dataclass
class _File:
    mtime: float
    flow: Flow | None = None
    untranslated: bool = False  # refused for a missing translation: read again when a catalog changes


@dataclass
class Registry:
    """Live flows of one flows folder, their past versions, and the globals."""

    folder: Path
    globals: Globals = field(default_factory=lambda: Globals(path=GLOBALS_FILE))
    live: dict[str, Flow] = field(default_factory=dict)
    drafts: dict[str, Flow] = field(default_factory=dict)
    versions: dict[tuple[str, str], Flow] = field(default_factory=dict)
    sources: dict[tuple[str, str], str] = field(default_factory=dict)
    unsaved: set[tuple[str, str]] = field(default_factory=set)
    files: dict[str, _File] = field(default_factory=dict)
    globals_mtime: float = -1.0
    checked_at: float | None = None
    """time.monotonic() of the last look at the folder (None: look on the next refresh)."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    locales_dir: str | None = None
    """Catalogs a live flow's texts must be translated in (None: structure only, as in `hotline chat` drafts)."""
    catalogs_seen: tuple = ()

    def refresh(self, force: bool = False) -> None:
        """Re-read any flow file whose mtime changed (looking at most once a second unless forced)."""
        clock = time.monotonic()
        checked = self.checked_at
        if not force and checked is not None and clock - checked < CHECK_INTERVAL_S:
            return
        try:
            entries = {
                e.name: e.stat().st_mtime
                for e in os.scandir(self.folder)
                if e.name.endswith((".yaml", ".yml")) and e.is_file()
            }
        except FileNotFoundError:
            entries = {}
        catalogs = self._catalog_mtimes()
        with self.lock:
            if catalogs != self.catalogs_seen:  # a translation was added: try the refused flows again
                self.catalogs_seen = catalogs
                for entry in self.files.values():
                    if entry.untranslated:
                        entry.mtime = -1.0
            gmt = entries.pop(GLOBALS_FILE, None)
            if gmt is not None and gmt != self.globals_mtime:
                self._load_globals(gmt)
            for name, mtime in entries.items():
                known = self.files.get(name)
                if known is None or known.mtime != mtime:
                    self._load(name, mtime)
            for gone in set(self.files) - set(entries):
                old = self.files.pop(gone).flow
                if old is not None:
                    table = self.drafts if old.draft else self.live
                    if table.get(old.name) is old:
                        del table[old.name]
            self.checked_at = clock  # only once loaded: a concurrent first text must not see an empty registry

    def _catalog_mtimes(self) -> tuple:
        if not self.locales_dir:
            return ()
        try:
            return tuple(sorted((p.name, p.stat().st_mtime) for p in Path(self.locales_dir).glob("*/LC_MESSAGES/*.po")))
        except OSError:
            return ()

    def _untranslated(self, flow: Flow) -> list:
        """Errors of a live flow's translations (a draft may be tried in English first)."""
        from .check_texts import check_translations, flow_texts, read_catalogs

        if not self.locales_dir or flow.draft:
            return []
        problems: list = []
        catalogs = read_catalogs(self.locales_dir, set(flow.languages), problems)
        problems += check_translations(flow_texts(flow), flow.languages, catalogs, flow.path)
        return [i for i in problems if i.severity == "error"]

    def _load_globals(self, mtime: float) -> None:
        path = self.folder / GLOBALS_FILE
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:  # removed or half-written: keep the last good globals
            log.error("keeping previous globals", exc_info=exc)
            return
        found, issues = load_globals_text(str(path), source)
        self.globals_mtime = mtime
        if found is None or any(i.severity == "error" for i in issues):
            log.error(
                "keeping previous globals: %s has %d problem(s), first: %s",
                GLOBALS_FILE,
                len(issues),
                issues[0] if issues else "",
            )
            return
        self.globals = found

    def _load(self, name: str, mtime: float) -> None:
        from .check import check_flow  # check imports the registry's loader; avoid a cycle at import

        path = self.folder / name
        entry = self.files.setdefault(name, _File(mtime))
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:  # removed or half-written: keep serving the last good one
            log.error("keeping the working version of %s", name, exc_info=exc)
            return
        if not is_flow_source(source):
            entry.mtime = mtime
            return  # coordinator data (places.yaml), not a flow
        flow, issues = load_flow_text(str(path), source)
        if flow is not None and not issues:
            issues = [i for i in check_flow(flow, self.globals) if i.severity == "error"]
        entry.untranslated = False
        if flow is not None and not issues and self.live.get(flow.name) is not None:
            # A running hotline keeps the working version rather than serve text it cannot translate;
            # the first version a process loads is served as is (the deploy's own check gates it).
            issues = self._untranslated(flow)
            entry.untranslated = bool(issues)
        entry.mtime = mtime
        if flow is None or issues:
            log.error(
                "keeping the working version of %s: %d problem(s), first: %s",
                name,
                len(issues),
                issues[0] if issues else "unreadable",
            )
            return
        entry.flow = flow
        key = (flow.name, flow.version)
        if key not in self.versions:
            self.versions[key] = flow
            self.sources[key] = source
            self.unsaved.add(key)
        (self.drafts if flow.draft else self.live)[flow.name] = flow

    def current(self, name: str, e164: str | None = None) -> Flow | None:
        """Return the flow new conversations get: a draft for its test numbers, else the live one."""
        draft = self.drafts.get(name)
        if draft is not None and e164 is not None and e164.removeprefix("whatsapp:") in draft.test_numbers:
            return draft
        return self.live.get(name)

    def get(self, name: str, version: str | None = None) -> Flow | None:
        """Return a pinned version of a flow if known, else the live one."""
        if version:
            found = self.versions.get((name, version))
            if found is not None:
                return found
        return self.live.get(name) or self.drafts.get(name)

    def fetch_version(self, r, name: str, version: str) -> Flow | None:
        """Load a pinned version another process served, from its text in Redis."""
        if (name, version) in self.versions:
            return self.versions[(name, version)]
        source = r.get(store.flow_version_key(name, version))
        if not source:
            return None
        flow, issues = load_flow_text(f"{name}.yaml", source)
        if flow is None or issues:
            return None
        flow.name = name
        with self.lock:
            self.versions[(name, version)] = flow
        return flow

    def save_versions(self, pipe) -> None:
        """Queue the text of versions this process loaded so other processes can pin them."""
        if not self.unsaved:
            return
        with self.lock:
            for key in list(self.unsaved):
                pipe.set(store.flow_version_key(*key), self.sources[key], ex=VERSION_TTL_S)
            self.unsaved.clear()


_registries: dict[str, Registry] = {}
_resolved: dict[str, str] = {}  # folder as configured → absolute path (resolving costs a stat per component)
_registries_lock = threading.Lock()


def expire_checks() -> None:
    """Make every registry look at its folder on its next refresh (after a file was saved in this process)."""
    with _registries_lock:
        for reg in _registries.values():
            reg.checked_at = None


def for_folder(folder: str, locales_dir: str | None = None) -> Registry:
    """Return this process's registry of a flows folder, refreshed.

    With `locales_dir`, a changed live flow whose texts are not all translated
    is refused (the working version stays, and the log says which text).
    """
    key = _resolved.get(folder)
    if key is None:
        key = _resolved[folder] = str(Path(folder).resolve())
    with _registries_lock:
        reg = _registries.get(key)
        if reg is None:
            reg = _registries[key] = Registry(Path(key))
        if locales_dir and reg.locales_dir is None:
            reg.locales_dir = locales_dir
    reg.refresh()
    return reg
