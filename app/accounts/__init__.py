"""Accounts: users, staff roles and units; login and logout; the staff import."""
