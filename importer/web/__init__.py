"""The read-only status page the daemon serves when ``[web] port`` is set."""
