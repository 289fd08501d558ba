"""Feed actor package: Dhan binary packets -> market-data messages.

Only the pure decoder is re-exported here; the actor (sockets, websocket) lives in
``actors.feed.actor`` and is imported explicitly so that importing this package stays light.
"""

from actors.feed.decode import FrameDecoder, decode_frame

__all__ = ["FrameDecoder", "decode_frame"]
