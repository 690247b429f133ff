"""Feeds of the read models: the Kafka relay and consumers, and the in-process feed of embedded mode."""
