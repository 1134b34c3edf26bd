"""`python -m scheduler`: the single scheduler process. Not implemented until the scheduler issue."""
import sys

if __name__ == "__main__":
    sys.exit("The scheduler arrives with the calendar and scheduler issue; nothing to run yet.")
