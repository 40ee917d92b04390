"""Flows over the organization's Object Store: publish a local folder under a key prefix."""
