"""Listening stations: customer feedback in, routed to subscribed channels, engagement stored."""
