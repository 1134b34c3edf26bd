"""Calendar: working days (Danish holidays and closed days) and iCalendar output."""
