"""Python stubs of the Shikra control API (``proto/shikra/v1/control.proto``, package ``shikra.v1``).

``engine.control_api.control_pb2`` (messages) and ``engine.control_api.control_pb2_grpc``
(service stubs and servicers). Generated, never edited by hand: change the .proto and run
``python -m engine.control_api.generate``; a test fails when the checked-in stubs differ from
what the .proto generates. Nothing is imported here, so that generation works even when the
stubs are missing or stale.
"""

PACKAGE = "shikra.v1"
