"""Reporting: participant-list exports (CSV, XLSX, PDF sign-in sheet) and their download log; the evaluation
report comes with a later issue."""
