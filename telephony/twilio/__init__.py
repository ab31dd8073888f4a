"""Twilio, the one carrier reached over HTTP webhooks: what every webhook must pass."""
