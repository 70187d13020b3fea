"""Babel extractor for flow YAML: every text a texter can see, with its line, context and note.

Registered as the `hotline_flows` method (pyproject `babel.extractors`), so the
coordinators' workflow is plain `pybabel extract / update / compile`. Each
message gets `msgctxt` "flow.step.field" (identical English in two places
stays separately translatable, rapidpro#841), the YAML line for `#:`, and the
step's `note` as a `#.` translator comment. Entries come in file order, which
is the order a texter meets them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .check_texts import flow_texts, globals_texts
from .keywords import load_globals_text
from .loader import is_flow_source, load_flow_text


def extract_flows(fileobj: Any, keywords, comment_tags, options) -> Iterator[tuple]:
    """Yield (line, "pgettext", (context, msgid), [notes]) for each text of a flow file."""
    source = fileobj.read()
    if isinstance(source, bytes):
        source = source.decode(options.get("encoding", "utf-8") if options else "utf-8")
    name = Path(getattr(fileobj, "name", "flow.yaml")).name
    if name.startswith("_globals"):
        found, _ = load_globals_text(name, source)
        texts = globals_texts(found) if found is not None else []
    elif is_flow_source(source):
        flow, _ = load_flow_text(name, source)
        texts = flow_texts(flow) if flow is not None else []
    else:
        texts = []  # coordinator data beside the flows
    for text in sorted(texts, key=lambda t: (t.pos.line, t.pos.col)):
        if text.source.strip():
            yield text.pos.line, "pgettext", (text.context, text.source), [text.note] if text.note else []
