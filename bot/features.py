"""Registers the commands and handlers of every feature on a core instance."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core import Earshot
from bot.digests.feature import Digests
from bot.feedback.feature import Stations
from bot.governance.feature import Governance
from bot.pulses.feature import PulseChecks


@dataclass
class Features:
    stations: Stations
    pulses: PulseChecks
    digests: Digests = field(init=False)
    governance: Governance = field(init=False)


def install_features(core: Earshot) -> Features:
    features = Features(stations=Stations(core), pulses=PulseChecks(core))
    features.digests = Digests(core)
    features.governance = Governance(core)
    return features
