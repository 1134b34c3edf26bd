"""Retention and anonymisation of personal data: the retention job for expired runs, leavers (docs/privacy.md)."""
