"""The adversarial anonymity suite (issue 15): anonymous pulses answered one vote at a time, with every copy of
the storage, the cards and the logs taken after each vote and searched for a link between a person and an answer."""
