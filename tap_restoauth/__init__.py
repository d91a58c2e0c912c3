"""tap-restoauth: a Singer tap for REST APIs behind OAuth 2.0, Basic or API keys."""
