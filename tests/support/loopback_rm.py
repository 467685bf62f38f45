"""A minimal loopback reward model for benchmarks: the same answer to every chat request, at almost no CPU.

A real reward model (vLLM on a GPU, usually on another machine) costs the trainer's machine nothing
per request; :class:`tests.support.fake_openai.FakeOpenAIServer`, an aiohttp application that
parses every body, costs about as much CPU per request as the client it serves, and on a 2-core
machine the two compete. This server is an ``asyncio.Protocol`` that reads each HTTP/1.1 request
only as far as its length, waits ``latency`` seconds without blocking the others, and writes one
pre-built chat completion (the answer word at p=0.9, its yes/no opposite at p=0.1, as the fake
server's default logprobs), keeping the connection open. ``GET /v1/models`` lists ``fake-model``.
It reads neither the request's JSON nor its image, so it checks nothing: use it only to time a
client that the fake server's tests already check.

    python -m tests.support.loopback_rm --latency 0.05   # prints its /v1 URL; stops when stdin closes
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import threading
from typing import Any

MODEL = "fake-model"


def _http(body: bytes, status: str = "200 OK") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"Connection: keep-alive\r\n\r\n").encode() + body


def chat_response(answer: str) -> bytes:
    """The one chat completion this server sends, as a whole HTTP response."""
    other = "no" if answer.lower() == "yes" else "yes"
    top = [{"token": answer, "logprob": math.log(0.9), "bytes": list(answer.encode())},
           {"token": other, "logprob": math.log(0.1), "bytes": list(other.encode())}]
    body = {"id": "chatcmpl-loopback", "object": "chat.completion", "created": 0, "model": MODEL,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop",
                         "logprobs": {"content": [{"token": answer, "logprob": top[0]["logprob"], "top_logprobs": top}]}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
    return _http(json.dumps(body).encode())


MODELS_RESPONSE = _http(json.dumps({"object": "list", "data": [{"id": MODEL, "object": "model"}]}).encode())
NOT_FOUND = _http(b'{"error": {"message": "not found"}}', "404 Not Found")


class _Connection(asyncio.Protocol):
    """One keep-alive connection: requests are answered in order, each ``latency`` seconds after it arrived."""

    def __init__(self, latency: float, chat: bytes):
        self.latency, self.chat = latency, chat
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if len(self.buffer) < head_end + 4 + length:
                return
            self.buffer = self.buffer[head_end + 4 + length:]
            request_line = head.split("\r\n", 1)[0]
            if " /v1/chat/completions" in request_line:
                reply = self.chat
            elif " /v1/models" in request_line:
                reply = MODELS_RESPONSE
            else:
                reply = NOT_FOUND
            asyncio.get_running_loop().call_later(self.latency, self._send, reply)

    def _send(self, reply: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds before each answer")
    parser.add_argument("--answer", default="yes", help="the reply's word (its logprob is log 0.9)")
    args = parser.parse_args(argv)
    loop = asyncio.new_event_loop()
    chat = chat_response(args.answer)
    server = loop.run_until_complete(loop.create_server(lambda: _Connection(args.latency, chat), "127.0.0.1", 0,
                                                        backlog=4096))
    port = server.sockets[0].getsockname()[1]
    print(f"http://127.0.0.1:{port}/v1", flush=True)
    threading.Thread(target=lambda: (sys.stdin.read(), loop.call_soon_threadsafe(loop.stop)), daemon=True).start()
    loop.run_forever()
    server.close()


if __name__ == "__main__":
    main()


class LoopbackRM:
    """The loopback RM served from a thread of this process, counting the connections it accepted.

    For tests of the client's connection reuse: ``connections`` is how many TCP connections
    clients opened, and :meth:`drop_connections` closes them all from the server's side, as a
    server's keep-alive timeout does between two training steps.

        with LoopbackRM(latency=0.0) as rm:
            ... rm.url, rm.connections ...
    """

    def __init__(self, latency: float = 0.0, answer: str = "yes"):
        self.latency, self.chat = latency, chat_response(answer)
        self.connections = 0
        self._open: list[_Connection] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="loopback-rm", daemon=True)
        self.url = ""

    def __enter__(self) -> "LoopbackRM":
        self._thread.start()
        server = asyncio.run_coroutine_threadsafe(self._loop.create_server(self._accept, "127.0.0.1", 0), self._loop)
        self._server = server.result(10)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}/v1"
        return self

    def _accept(self) -> _Connection:
        self.connections += 1
        connection = _Connection(self.latency, self.chat)
        self._open.append(connection)
        return connection

    def drop_connections(self) -> None:
        """Close every open connection from the server's side (and wait until that is done)."""

        def close_all() -> None:
            for connection in self._open:
                if connection.transport is not None:
                    connection.transport.close()
            self._open.clear()

        self._loop.call_soon_threadsafe(close_all)
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0.05), self._loop).result(10)  # the FINs are out

    def __exit__(self, *exc_info: Any) -> None:
        self._loop.call_soon_threadsafe(self._server.close)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
