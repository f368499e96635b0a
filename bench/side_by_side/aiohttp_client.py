"""aiohttp client for bench/side_by_side.sh: the same N PATCHes over C connections.
Usage: aiohttp_client.py URL CAFILE TOKEN N CONNECTIONS -> prints "ok non200"."""
import asyncio, ssl, sys

import aiohttp


async def main(url, cafile, token, n, connections):
    context = ssl.create_default_context(cafile=cafile)
    connector = aiohttp.TCPConnector(limit=connections, ssl=context)
    headers = {"Authorization": token, "Content-Type": "application/json", "Accept": "*/*"}
    body = b'{"taskTimeout":600,"jobTimeout":7200,"isTestJob":false}'
    counts = [0, 0]
    next_index = iter(range(1, n + 1))

    async def worker(session):
        for i in next_index:
            async with session.patch(f"{url}/v1/customer/jobs/job-{i:07d}/configs", data=body,
                                     headers=headers) as r:
                await r.read()
                counts[0 if r.status == 200 else 1] += 1

    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(connections)))
    print(counts[0], counts[1])


asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])))
