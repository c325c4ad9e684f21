"""The sandbox workspace: a local chat in the browser that plays the platform, for demos and tests."""
