"""The audit trail: security and data events, written in the transaction of the work itself."""
