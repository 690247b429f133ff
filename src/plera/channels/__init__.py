"""Channels: email over SMTP and LinkedIn over a provider HTTP API; inbound parsing later."""
