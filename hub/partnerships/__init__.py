"""Owner → partner relationships and their lifecycle."""
