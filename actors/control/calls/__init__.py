"""The control API's request handlers, one module per group of gRPC services. Each module holds a
mixin of :class:`actors.control.service.ControlApi` (``self`` is the API: its ledger snapshot,
bridge, peers and command helper) whose methods take the caller and the request and return a
response or a :class:`~actors.control.convert.Refusal`."""
