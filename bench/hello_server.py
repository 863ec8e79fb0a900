"""The baseline for API server benchmarks: a minimal aiohttp HTTPS server answering fixed JSON bytes.

It runs on the same HTTP stack, TLS setup and event loop as `kyb server`, so the ratio between the two measures
what the API machinery (auth, routing, cache, encoding) costs, not the web framework.
"""

from __future__ import annotations

import argparse
import asyncio
import ssl

from aiohttp import web


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--body", required=True, help="file whose bytes every GET returns")
    args = p.parse_args()
    with open(args.body, "rb") as f:
        body = f.read()

    async def hello(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    async def run() -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", hello)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.cert, args.key)
        ctx.set_alpn_protocols(["http/1.1"])
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", args.port, ssl_context=ctx).start()
        print("hello ready", flush=True)
        await asyncio.Event().wait()

    try:
        import uvloop

        uvloop.run(run())
    except ImportError:
        asyncio.run(run())


if __name__ == "__main__":
    main()
