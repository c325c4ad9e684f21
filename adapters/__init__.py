"""Platform adapters (Slack, Teams, the sandbox) and the one aiohttp application that mounts them."""
