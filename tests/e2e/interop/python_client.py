#!/usr/bin/env python3
"""A tuigate client in Python, standard library only (asyncio subprocess).

It stands in for a TUI written in a language other than JavaScript: it
spawns the gateway, speaks newline-delimited JSON-RPC 2.0 over its stdio,
and runs a scenario whose observations it prints as one JSON object on
stdout; tests/e2e/interop/python_client_test.ts checks them.

    python3 python_client.py GATEWAY_COMMAND...
"""

import asyncio
import itertools
import json
import sys
import time


class RpcError(Exception):
    """A JSON-RPC error response."""

    def __init__(self, error):
        super().__init__(error.get("message"))
        self.code = error.get("code")
        self.data = error.get("data")


class GatewayExited(Exception):
    """The gateway exited while a call was pending."""


class TuigateClient:
    """Spawns a gateway and talks JSON-RPC 2.0 to it over stdio."""

    def __init__(self, command, env=None):
        self.command = command
        self.env = env
        self.proc = None
        self.ready = None
        self.stderr_tail = b""
        self._ids = itertools.count(1)
        self._pending = {}
        self._listeners = {}
        self._handlers = {}
        self._ready_future = None
        self._reader = None
        self._stderr_reader = None
        self.late_responses = []

    async def start(self, ready_timeout=20.0):
        loop = asyncio.get_running_loop()
        self._ready_future = loop.create_future()
        self.proc = await asyncio.create_subprocess_exec(
            *self.command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.env,
            limit=64 * 1024 * 1024,
        )
        self._reader = asyncio.create_task(self._read())
        self._stderr_reader = asyncio.create_task(self._read_stderr())
        try:
            self.ready = await asyncio.wait_for(self._ready_future, ready_timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(
                "No gateway.ready within %.1f s; stderr: %s"
                % (ready_timeout, self.stderr_tail.decode(errors="replace"))
            )
        return self.ready

    async def _read_stderr(self):
        while True:
            chunk = await self.proc.stderr.read(4096)
            if not chunk:
                return
            self.stderr_tail = (self.stderr_tail + chunk)[-4096:]

    async def _read(self):
        try:
            while True:
                line = await self.proc.stdout.readline()
                if not line:
                    break
                if not line.strip():
                    continue
                message = json.loads(line)
                for item in message if isinstance(message, list) else [message]:
                    await self._dispatch(item)
        finally:
            error = GatewayExited("The gateway closed its stdout")
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(error)
            self._pending.clear()
            if not self._ready_future.done():
                self._ready_future.set_exception(error)

    async def _dispatch(self, message):
        if "method" in message and "id" in message:
            asyncio.create_task(self._answer(message))
        elif "method" in message:
            if message["method"] == "gateway.ready" and not self._ready_future.done():
                self._ready_future.set_result(message.get("params"))
            for listener in list(self._listeners.get(message["method"], [])):
                listener(message.get("params"))
        else:
            future = self._pending.pop(message.get("id"), None)
            if future is None:
                self.late_responses.append(message)
            elif "error" in message:
                future.set_exception(RpcError(message["error"]))
            else:
                future.set_result(message.get("result"))

    async def _answer(self, request):
        handler = self._handlers.get(request["method"])
        if handler is None:
            reply = {"error": {"code": -32601, "message": "Method not found", "data": {"method": request["method"]}}}
        else:
            try:
                reply = {"result": await handler(request.get("params"))}
            except RpcError as error:
                reply = {"error": {"code": error.code, "message": str(error), "data": error.data}}
        await self._write({"jsonrpc": "2.0", "id": request["id"], **reply})

    async def _write(self, message):
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        await self.proc.stdin.drain()

    def on(self, method, listener):
        """Calls listener(params) for every notification of method."""
        self._listeners.setdefault(method, []).append(listener)

    def handle(self, method, handler):
        """Answers server-to-client requests of method with await handler(params)."""
        self._handlers[method] = handler

    async def notify(self, method, params=None):
        message = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        await self._write(message)

    async def call(self, method, params=None):
        """Sends a request; cancelling the awaiting task sends $/cancelRequest."""
        request_id = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        message = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        await self._write(message)
        try:
            return await future
        except asyncio.CancelledError:
            if self._pending.pop(request_id, None) is not None:
                await self.notify("$/cancelRequest", {"id": request_id})
            raise

    async def close(self, timeout=5.0):
        """Ends stdin and waits for the gateway to exit; kills it after timeout."""
        self.proc.stdin.close()
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout)
        except asyncio.TimeoutError:
            self.proc.kill()
            code = await self.proc.wait()
        await self._reader
        await self._stderr_reader
        return code


async def scenario(command):
    seen = {}
    client = TuigateClient(command)
    ready = await client.start()
    seen["ready"] = {"pid": ready["pid"], "gatewayPid": client.proc.pid, "jobs": ready["capabilities"].get("jobs")}

    seen["ping"] = await client.call("gateway.ping", {"text": "h\u00e9llo \U0001F600"})
    pings = await asyncio.gather(*(client.call("gateway.ping", {"i": i}) for i in range(100)))
    seen["concurrent"] = [p["echo"]["i"] for p in pings]

    try:
        await client.call("no.such.method")
    except RpcError as error:
        seen["unknownMethod"] = {"code": error.code, "data": error.data}

    ticks = []
    client.on("demo.tick", ticks.append)
    await client.call("test.emit", {"method": "demo.tick", "params": {"n": 7}, "count": 3})
    seen["notificationsReceived"] = ticks
    await client.notify("test.note", {"from": "python"})
    seen["notes"] = (await client.call("test.notes"))["notes"]

    started = time.monotonic()
    try:
        await asyncio.wait_for(client.call("test.sleep", {"ms": 30000}), 0.3)
    except asyncio.TimeoutError:
        seen["cancelledAfterMs"] = round((time.monotonic() - started) * 1000)
    await client.call("gateway.ping")  # the -32800 answer arrives before this one
    seen["cancelAnswer"] = [m.get("error", {}).get("code") for m in client.late_responses]
    seen["abortedIds"] = (await client.call("test.aborted"))["ids"]

    async def confirm(params):
        return {"confirmed": True, "question": params["question"]}

    async def refuse(_params):
        raise RpcError({"code": -32050, "message": "Refused by the Python client", "data": {"lang": "python"}})

    client.handle("ui.confirm", confirm)
    client.handle("ui.refuse", refuse)
    await client.call("client.capabilities", {"serverRequests": True})
    seen["askAnswer"] = await client.call("test.ask", {"method": "ui.confirm", "params": {"question": "Proceed?"}})
    try:
        await client.call("test.ask", {"method": "ui.refuse"})
    except RpcError as error:
        seen["askRefused"] = {"code": error.code, "message": str(error), "data": error.data}

    if ready["capabilities"].get("jobs"):
        output = []
        exited = asyncio.get_running_loop().create_future()
        client.on("job.output", output.append)
        client.on("job.exit", lambda p: exited.done() or exited.set_result(p))
        job = await client.call(
            "job.start",
            {"cmd": "sh", "args": ["-c", "for i in 1 2 3; do echo line $i; sleep 0.05; done; echo oops >&2"]},
        )
        exit_params = await asyncio.wait_for(exited, 10)
        seen["job"] = {
            "id": job["job"],
            "stdout": "".join(o.get("text", "") for o in output if o["job"] == job["job"] and o["stream"] == "stdout"),
            "stderr": "".join(o.get("text", "") for o in output if o["job"] == job["job"] and o["stream"] == "stderr"),
            "exit": exit_params,
        }

    started = time.monotonic()
    seen["exitCode"] = await client.close()
    seen["exitMs"] = round((time.monotonic() - started) * 1000)
    return seen


def main():
    command = sys.argv[1:]
    if not command:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    seen = asyncio.run(scenario(command))
    print(json.dumps(seen))


if __name__ == "__main__":
    main()
