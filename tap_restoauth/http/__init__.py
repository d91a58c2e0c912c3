"""Talking to an API: the HTTP client, retries, redaction of secrets, URL origins."""
