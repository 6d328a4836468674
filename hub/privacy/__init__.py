"""Privacy operations (DESIGN 4, ADR 0013): export, erasure, and the notices partners receive."""
