"""Plera Sequences: an event-sourced outreach-sequence engine."""
