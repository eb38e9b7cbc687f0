"""Run an ASGI app like `uvicorn --workers N`, but with TCP_NODELAY on every connection.

uvicorn's multi-worker supervisor binds the listening socket with `proto` 0; accepted
sockets inherit it, and asyncio only sets TCP_NODELAY when `proto` is IPPROTO_TCP. Nagle's
algorithm then holds each response's body behind its headers until the client's delayed
ACK: about 40 ms on every keep-alive request (Kludex/uvicorn#3149). Binding the socket
with IPPROTO_TCP ourselves is the whole fix. The API section measures both ways.

    python -m bench.serve MODULE:APP [--factory] --host H --port P --workers N
"""

from __future__ import annotations

import argparse
import socket

from uvicorn import Config, Server
from uvicorn.supervisors import Multiprocess


class NoDelayConfig(Config):
    def bind_socket(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.set_inheritable(True)
        return sock


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("app")
    parser.add_argument("--factory", action="store_true")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--loop", default="auto", help="uvicorn's --loop (auto, asyncio, uvloop)")
    args = parser.parse_args()
    config = NoDelayConfig(
        args.app,
        factory=args.factory,
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop=args.loop,
        log_level="warning",
        access_log=False,
    )
    if args.workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    else:
        Server(config).run()


if __name__ == "__main__":
    main()
