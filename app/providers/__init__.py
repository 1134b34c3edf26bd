"""Providers: the external course providers and their contacts."""
