"""Deal registration: a partner proposes a deal to an owner, who approves or rejects it."""
