#!/usr/bin/env python3
"""Conversations spread over several replicas with the official `openai` Python client.

    python openai_replicas.py ROUNDS BASE_URL...

Round i creates a thread on one replica, posts a message on the next, creates a run on the
one after, polls it (runs.retrieve) round-robin over all of them until it ends, and reads the
reply on yet another, as a client behind a load balancer without sticky sessions would. Also
uses runs.create_and_poll on one replica and reads the run on the others. Prints one JSON
summary line (threads, acknowledged messages, runs); exits non-zero on any failure.
"""
import json
import sys
import time
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)
from openai import OpenAI  # noqa: E402

ROUNDS = int(sys.argv[1])
BASES = sys.argv[2:]
assert len(BASES) >= 2, "at least two replicas"
clients = [OpenAI(base_url=b, api_key="sk-test-local", max_retries=0, timeout=30) for b in BASES]


def on(i):
    return clients[i % len(clients)].beta.threads


summary = {"threads": [], "messages": [], "runs": []}
for i in range(ROUNDS):
    thread = on(i).create(metadata={"round": str(i)})
    summary["threads"].append(thread.id)
    text = f"py round {i}"
    message = on(i + 1).messages.create(thread_id=thread.id, role="user", content=text)
    summary["messages"].append([thread.id, message.id])
    if i % 2 == 0:
        run = on(i + 2).runs.create(thread_id=thread.id, assistant_id="echo")
        deadline = time.monotonic() + 60
        j = 0
        while run.status in ("queued", "in_progress", "cancelling"):
            assert time.monotonic() < deadline, f"run {run.id} still {run.status}"
            j += 1
            run = on(i + j).runs.retrieve(run.id, thread_id=thread.id)
    else:
        run = on(i + 2).runs.create_and_poll(
            thread_id=thread.id, assistant_id="echo", poll_interval_ms=50
        )
    assert run.status == "completed", f"run {run.id} ended {run.status}: {run.last_error}"
    summary["runs"].append([thread.id, run.id])
    # Every replica sees the same run and the same reply.
    for k in range(len(clients)):
        seen = on(k).runs.retrieve(run.id, thread_id=thread.id)
        assert seen.status == "completed", (k, seen.status)
    replies = on(i + 3).messages.list(thread_id=thread.id, run_id=run.id, order="asc").data
    assert [p.text.value for r in replies for p in r.content] == [f"echo: {text}"], replies

print(json.dumps(summary))
