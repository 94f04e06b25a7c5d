#!/usr/bin/env python3
"""An echo server on asyncio streams, as the asyncio documentation shows
it: one coroutine per client. Usage: asyncio_echo.py PORT (0: any)."""
import asyncio
import sys


async def handle(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def main(port):
    server = await asyncio.start_server(handle, "127.0.0.1", port,
                                        backlog=1024)
    port = server.sockets[0].getsockname()[1]
    print(f"listening on tcp 127.0.0.1:{port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
