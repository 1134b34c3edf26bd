"""The audit log: who created, changed, cancelled, exported, viewed or searched what (`record`)."""
