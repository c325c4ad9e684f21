"""Every feedback tool Earshot hears, by the name `earshot sources add KIND` takes."""

from __future__ import annotations

from adapters.sources import appstore, delighted, googleplay, intercom, qualtrics, surveymonkey, survicate, typeform
from adapters.sources.base import Kind
from adapters.sources.helpscout import KIND as HELPSCOUT
from adapters.sources.trustpilot import KIND as TRUSTPILOT
from adapters.sources.zendesk import KIND as ZENDESK

KINDS: dict[str, Kind] = {kind.name: kind for kind in (
    typeform.KIND,
    appstore.KIND, googleplay.KIND,
    delighted.KIND,
    intercom.KIND,
    surveymonkey.KIND,
    qualtrics.KIND,
    survicate.KIND,
    ZENDESK, TRUSTPILOT, HELPSCOUT,
)}
