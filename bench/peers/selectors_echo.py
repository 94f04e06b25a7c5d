#!/usr/bin/env python3
"""An echo server on Python's selectors module, as the socket tutorials
write it: non-blocking sockets, one output buffer per client.
Usage: selectors_echo.py PORT (0: any free port)."""
import selectors
import socket
import sys

sel = selectors.DefaultSelector()


def accept(listener):
    conn, _ = listener.accept()
    conn.setblocking(False)
    sel.register(conn, selectors.EVENT_READ, bytearray())


def serve(key, mask):
    sock, out = key.fileobj, key.data
    if mask & selectors.EVENT_READ:
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            data = None
        except OSError:
            data = b""
        if data == b"":
            sel.unregister(sock)
            sock.close()
            return
        if data:
            out += data
    if out:
        try:
            del out[:sock.send(out)]
        except (BlockingIOError, InterruptedError):
            pass
    events = selectors.EVENT_READ | (selectors.EVENT_WRITE if out else 0)
    if events != key.events:
        sel.modify(sock, events, out)


def main():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0))
    listener.listen(1024)
    listener.setblocking(False)
    sel.register(listener, selectors.EVENT_READ, None)
    print(f"listening on tcp 127.0.0.1:{listener.getsockname()[1]}", flush=True)
    while True:
        for key, mask in sel.select():
            if key.data is None:
                accept(key.fileobj)
            else:
                serve(key, mask)


if __name__ == "__main__":
    main()
