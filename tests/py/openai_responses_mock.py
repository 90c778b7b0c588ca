#!/usr/bin/env python3
"""The third-party `openai-responses` (PyPI 0.13.1) Assistants mock over real HTTP, for the
client's interop tests (tests/tests/client_openai_responses.rs).

openai-responses keeps a stateful in-memory Assistants API behind a respx router meant for
in-process tests; this puts that router behind a loopback HTTP server. It binds port 0 and
prints `PORT <n>` once ready. One assistant, `asst_echo`, exists. The mock never advances
runs, so a GET of a queued run completes it and adds an assistant message `echo: <the last
user text>` (a stand-in for a model). Everything else is the mock's own behaviour, deviations
included (201 on create, bare 404s, lists without `object`, no streaming).
"""
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
from openai.types.beta.assistant import Assistant
from openai.types.beta.threads.message import Message
from openai_responses import OpenAIMock

ORIGIN = "http://openai-responses.invalid"
mock = OpenAIMock(base_url=ORIGIN + "/v1")
lock = threading.Lock()


def now():
    return int(time.time())


def add_assistant():
    mock.state.beta.assistants.put(Assistant.model_validate({
        "id": "asst_echo", "object": "assistant", "created_at": now(), "model": "echo",
        "name": "echo", "description": None, "instructions": "", "tools": [], "metadata": {}}))


def complete_if_queued(path):
    parts = path.split("?")[0].strip("/").split("/")
    # v1 threads {tid} runs {rid}
    if len(parts) != 5 or parts[1] != "threads" or parts[3] != "runs":
        return
    tid, rid = parts[2], parts[4]
    run = mock.state.beta.threads.runs.get(rid)
    if run is None or run.status != "queued":
        return
    said = ""
    users = [m for m in mock.state.beta.threads.messages._data.values()
             if m.thread_id == tid and m.role == "user"]
    if users:
        latest = sorted(users, key=lambda m: m.created_at)[-1]
        said = " ".join(p.text.value for p in latest.content if p.type == "text")
    t = now()
    mock.state.beta.threads.messages.put(Message.model_validate({
        "id": "msg_" + uuid.uuid4().hex[:24], "object": "thread.message", "created_at": t,
        "thread_id": tid, "status": "completed", "role": "assistant", "run_id": rid,
        "assistant_id": run.assistant_id, "attachments": [], "metadata": {},
        "completed_at": t, "incomplete_at": None, "incomplete_details": None,
        "content": [{"type": "text", "text": {"value": "echo: " + said, "annotations": []}}]}))
    run.status, run.started_at, run.completed_at = "completed", t, t


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        content = self.rfile.read(length) if length else b""
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("host", "content-length", "connection")}
        with lock:
            if self.command == "GET":
                complete_if_queued(self.path)
            request = httpx.Request(self.command, ORIGIN + self.path, headers=headers, content=content)
            try:
                response = mock.router.handler(request)
                response.read()
                status, body = response.status_code, response.content
                ctype = response.headers.get("content-type", "application/json")
            except Exception as e:  # a route the mock does not have
                status, ctype = 404, "text/plain"
                body = ("no route: %s" % e).encode()[:300]
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = handle_any


if __name__ == "__main__":
    add_assistant()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print("PORT %d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)
