"""Support cases, their state machine and comments."""
