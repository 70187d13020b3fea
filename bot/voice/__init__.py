"""The hotline's phone line: a caller reaches the same flows, incidents and dispatchers as a texter.

Twilio Programmable Voice calls `POST /twilio/voice` (signed like the messaging
webhook). `menu` builds the TwiML (the `twilio` library's VoiceResponse, Gather,
Dial, Number, Say), `calls` keeps one call's state in Redis, `dispatchers` says
whose phone rings, `missed` runs the no-answer path (the caller texted the
sighting flow's first question, coordinators told), `routes` is the blueprint
and `console` the board's calls panel. docs/voice.md is the coordinators' guide.

This package sits above the web layer (pyproject's import contract): it reuses
the messaging webhook's signature check and the console's login, and neither
imports it.
"""
