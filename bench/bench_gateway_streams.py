#!/usr/bin/env python3
"""bench/bench_gateway_streams.py — hold N streaming requests open through
tollgate at once (issue 5: 1,000 concurrent streams, RSS <= 150 MiB, no
errors).  Used by bench/bench_gateway.sh; standard library only.

  upstream mode:  bench_gateway_streams.py upstream PORT HOLD_S
      an OpenAI-style SSE server: first chunk at once, [DONE] after HOLD_S
  client mode:    bench_gateway_streams.py client PORT N KEY CATEGORY TG_PID
      opens N streams, waits for every first chunk, samples tollgate's RSS,
      reads each stream to the end; prints one summary line
"""
import asyncio
import json
import sys


async def upstream(port, hold):
    chunk = json.dumps({"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
                        "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}]})

    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                n = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        n = int(line.split(b":")[1])
                await reader.readexactly(n)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n")
                def ch(s):
                    b = s.encode()
                    return b"%x\r\n%s\r\n" % (len(b), b)
                writer.write(ch("data: %s\n\n" % chunk))
                await writer.drain()
                await asyncio.sleep(hold)
                writer.write(ch("data: [DONE]\n\n") + b"0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def client(port, n, key, category, pid):
    body = json.dumps({"stream": True, "messages": [{"role": "user", "content": "hold me open"}]}).encode()
    req = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           b"Authorization: Bearer " + key.encode() + b"\r\nX-Task-Category: " + category.encode() +
           b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    first = asyncio.Event()
    started = 0
    ok = 0
    errors = 0

    async def one():
        nonlocal started, ok, errors
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
            w.write(req)
            await w.drain()
            status = await r.readline()
            if b" 200 " not in status:
                errors += 1
                w.close()
                return
            buf = b""
            while b"data: {" not in buf:
                d = await r.read(4096)
                if not d:
                    errors += 1
                    return
                buf += d
            started += 1
            if started == n:
                first.set()
            while b"[DONE]" not in buf:
                d = await r.read(4096)
                if not d:
                    break
                buf += d
            ok += 1 if b"[DONE]" in buf else 0
            errors += 0 if b"[DONE]" in buf else 1
            w.close()
        except Exception:
            errors += 1

    before = rss_kib(pid)
    tasks = [asyncio.create_task(one()) for _ in range(n)]
    try:
        await asyncio.wait_for(first.wait(), timeout=20)
    except asyncio.TimeoutError:
        pass
    held = started
    peak = rss_kib(pid)
    await asyncio.wait(tasks, timeout=60)
    print("streams %d: %d held open at once, %d completed, %d errors; tollgate RSS %.1f MiB idle, "
          "%.1f MiB with all open (target <= 150 MiB, no errors)"
          % (n, held, ok, errors, before / 1024.0, peak / 1024.0))


if __name__ == "__main__":
    if sys.argv[1] == "upstream":
        asyncio.run(upstream(int(sys.argv[2]), float(sys.argv[3])))
    else:
        asyncio.run(client(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6])))
