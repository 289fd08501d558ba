"""The control actor: the gRPC control API (see ``actors.control.actor``)."""
