"""The daemon (``shikra run``): the supervisor, the unit processes it starts (``unit``), which
actors share a process (``topology``), the data directory's lock, the status file's rendering and
systemd's notify protocol. An upper layer: it imports actors to run them."""
