"""Slack: slack-bolt async on the shared aiohttp app (or Socket Mode), Block Kit rendering, Web API delivery."""
