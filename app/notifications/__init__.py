"""Notifications: the mail outbox and its delivery (the scheduler issue)."""
