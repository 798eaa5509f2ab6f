"""An HTTP/2 answer that arrives while the EEC is still uploading its request body.

RFC 9113 8.1: a server may send a complete response before the client has sent the whole request
(a 413 decided from ``content-length``, a 401 from the headers) and then ask the client to stop
with ``RST_STREAM(NO_ERROR)``; the client must not discard that response. httpcore 1.0.9 keeps
waiting for flow-control window instead, until the server closes or the deadline ends the
connection, and the answer is lost with its stream state.

So while the body is being sent the fake EEC feeds the bytes the server sends (the same bytes
httpcore reads) to an :class:`H2EarlyAnswer`. It reads them as HTTP/2 frames with hyperframe and
the header blocks with hpack: a status counts only when a whole, valid HEADERS block for our
stream decodes to a final ``:status``, never because some bytes look like one. Memory is bounded:
the body to ``limit`` bytes, an unparsed frame to the largest frame a server may send us.
"""

from __future__ import annotations

from typing import Final

import hpack
from hyperframe.exceptions import HyperframeError
from hyperframe.frame import ContinuationFrame, DataFrame, Frame, HeadersFrame

from conformance.peers.early_response import EarlyResponse

__all__ = ["H2EarlyAnswer"]

_FRAME_HEADER: Final = 9
_MAX_FRAME: Final = 16_384
"""SETTINGS_MAX_FRAME_SIZE's initial value (RFC 9113 6.5.2): httpcore never raises it, so a
longer frame from the server is a protocol error and ends the reading."""


class H2EarlyAnswer:
    """The server's frames on one HTTP/2 connection, read as the answer on ``stream_id``::

    answer = H2EarlyAnswer(stream_id=1, limit=1 << 20)
    answer.feed(bytes_read_from_the_server)
    answer.complete, answer.response()   # -> True, EarlyResponse(status=413, ...)
    """

    def __init__(self, *, stream_id: int = 1, limit: int) -> None:
        self.stream_id, self.limit = stream_id, limit
        self._pending = bytearray()
        self._decoder = hpack.Decoder()
        self._block = bytearray()
        self._block_stream: int | None = None
        self._block_ends_stream = False
        self._status: int | None = None
        self._headers: list[tuple[str, str]] = []
        self._body = bytearray()
        self._ended = False
        self._broken = ""

    @property
    def complete(self) -> bool:
        """A final status and the end of our stream (END_STREAM) have arrived."""
        return self._status is not None and self._ended

    def feed(self, data: bytes) -> None:
        """Read ``data`` (the next bytes the server sent) as frames, as far as they are whole."""
        if self._broken or self.complete:
            return
        self._pending += data
        while len(self._pending) >= _FRAME_HEADER and not self._broken:
            try:
                frame, length = Frame.parse_frame_header(memoryview(bytes(self._pending[:_FRAME_HEADER])))
            except HyperframeError as exc:
                self._broken = f"not an HTTP/2 frame: {exc}"
                return
            if length > _MAX_FRAME:
                self._broken = f"a {length}-byte frame, over SETTINGS_MAX_FRAME_SIZE"
                return
            if len(self._pending) < _FRAME_HEADER + length:
                return
            body = bytes(self._pending[_FRAME_HEADER : _FRAME_HEADER + length])
            del self._pending[: _FRAME_HEADER + length]
            try:
                frame.parse_body(memoryview(body))
                self._take(frame)
            except (HyperframeError, hpack.HPACKError, ValueError) as exc:
                self._broken = f"a malformed {type(frame).__name__}: {exc}"

    def response(self) -> EarlyResponse | None:
        """The answer on our stream, once it has a final status; ``complete`` False while its body
        has not ended (or was cut at ``limit``)."""
        if self._status is None:
            return None
        problems = [self._broken] if self._broken else []
        if len(self._body) > self.limit:
            problems.append(f"cut at {self.limit} bytes")
        body = bytes(self._body[: self.limit])
        return EarlyResponse(self._status, list(self._headers), body, complete=self.complete, problems=problems)

    def _take(self, frame: Frame) -> None:
        if isinstance(frame, HeadersFrame | ContinuationFrame):
            self._header_fragment(frame)
        elif frame.stream_id != self.stream_id:
            return
        elif isinstance(frame, DataFrame):
            if len(self._body) <= self.limit:
                self._body += frame.data[: self.limit + 1 - len(self._body)]
            self._ended = self._ended or "END_STREAM" in frame.flags

    def _header_fragment(self, frame: HeadersFrame | ContinuationFrame) -> None:
        """Every header block is decoded, whatever its stream: hpack's table is the connection's."""
        if isinstance(frame, HeadersFrame):
            self._block, self._block_stream = bytearray(frame.data), frame.stream_id
            self._block_ends_stream = "END_STREAM" in frame.flags
        elif self._block_stream != frame.stream_id:
            raise ValueError("CONTINUATION without its HEADERS")
        else:
            self._block += frame.data
        if "END_HEADERS" not in frame.flags:
            return
        fields = [(str(name), str(value)) for name, value in self._decoder.decode(bytes(self._block))]
        if self._block_stream == self.stream_id:
            self._headers_of_our_stream(fields)

    def _headers_of_our_stream(self, fields: list[tuple[str, str]]) -> None:
        status = dict(fields).get(":status", "")
        if self._status is None:
            if not (status.isdecimal() and len(status) == 3):
                raise ValueError(f"a response without a valid :status ({status!r})")
            if status.startswith("1"):  # informational (100 Continue): the final answer follows
                return
            self._status = int(status)
            self._headers = [(name, value) for name, value in fields if not name.startswith(":")]
        self._ended = self._ended or self._block_ends_stream  # trailers, or a response without a body
