"""The scheduler process (APScheduler 3.x). Jobs arrive with the calendar/scheduler issue."""
