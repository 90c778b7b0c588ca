#!/usr/bin/env python3
"""A whole shop conversation through the official `openai` Python client (client.beta.threads).

    python openai_shop_flow.py BASE_URL PAYER_ID CHANNEL_ID PAYER_SEED_HEX

Answers whatever capability message the agent sends (request_decision -> decision,
request_data -> data, quote -> payment) until a payment_confirmation arrives, using each way
the client can run an agent in turn: runs.create + runs.retrieve polling, runs.create_and_poll,
and runs.stream. The payment is signed as aitp::sign specifies (ed25519 over the RFC 8785
canonical JSON of the body without `payer_signature`, via `rfc8785` and `pynacl`) with the
payer's key, which the shop's payment gate checks. Prints one JSON summary line; exits non-zero
on any failure.
"""
import base64
import json
import sys
import time
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)
import nacl.signing  # noqa: E402
import openai  # noqa: E402
import rfc8785  # noqa: E402
from openai import OpenAI  # noqa: E402

BASE, PAYER, CHANNEL, SEED_HEX = sys.argv[1:5]


def signed_payment(body):
    """`body` with its payer_signature: ed25519 over the JCS of the rest, `ed25519:<base64>`."""
    key = nacl.signing.SigningKey(bytes.fromhex(SEED_HEX))
    signature = key.sign(rfc8785.dumps(body)).signature
    return dict(body, payer_signature="ed25519:" + base64.b64encode(signature).decode())
CAPS = [
    "https://aitp.dev/capabilities/aitp-01-payments/v1.0.0/schema.json",
    "https://aitp.dev/capabilities/aitp-02-decisions/v1.0.0/schema.json",
    "https://aitp.dev/capabilities/aitp-03-data-request/v1.0.0/schema.json",
]
ADDRESS = {
    "name": "Ada Lovelace", "full_name": "Ada Lovelace", "street": "12 St James's Square",
    "address": "12 St James's Square", "street-address": "12 St James's Square",
    "address-line1": "12 St James's Square", "city": "London", "address-level2": "London",
    "postal_code": "SW1Y 4JH", "postal-code": "SW1Y 4JH", "zip": "SW1Y 4JH",
    "country": "GB", "country-name": "GB", "email": "ada@example.com", "tel": "+44 20 7946 0000",
    "phone": "+44 20 7946 0000",
}

client = OpenAI(base_url=BASE, api_key="sk-test-local", max_retries=0, timeout=20)
threads = client.beta.threads


def texts(message):
    return [part.text.value for part in message.content if part.type == "text"]


def aitp(text):
    text = text.strip()
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) and "$schema" in value else None


def replies_of(thread_id, run_id):
    page = threads.messages.list(thread_id=thread_id, run_id=run_id, order="asc", limit=20)
    assert page.data, f"run {run_id} posted no reply"
    return page.data


def answer(message):
    """The customer's answer to one capability message, or None."""
    schema = message["$schema"]
    if "request_decision" in message:
        rd = message["request_decision"]
        first = rd["options"][0]
        chosen = {"id": first["id"], "quantity": 1}
        if "name" in first:
            chosen["name"] = first["name"]
        return {"$schema": schema, "decision": {"request_decision_id": rd["id"], "options": [chosen]}}
    if "request_data" in message:
        rq = message["request_data"]
        fields = []
        for field in rq["form"].get("fields", []):
            key = field.get("autocomplete") or field["id"]
            value = ADDRESS.get(key) or ADDRESS.get(field["id"]) or "n/a"
            if field.get("type") == "select" and field.get("options"):
                opts = [o if isinstance(o, str) else o.get("value") for o in field["options"]]
                value = value if value in opts else opts[0]
            fields.append({"id": field["id"], "label": field.get("label", field["id"]), "value": value})
        return {"$schema": schema, "data": {"request_data_id": rq["id"], "fields": fields}}
    if "quote" in message and "payment_options" in message["quote"]:
        q = message["quote"]
        option = q["payment_options"][0]
        method = option["payment_methods"][0]
        used = {"type": method["type"], "token": method["token"], "channel_id": CHANNEL,
                "currency": option["currency"]}
        if "amount" in option:
            used["amount"] = option["amount"]
        return {"$schema": schema, "payment": signed_payment({
            "quote_id": q["quote_id"], "payment_method": used, "payer_id": PAYER,
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})}
    return None


def run_polling(thread_id):
    run = threads.runs.create(thread_id=thread_id, assistant_id="shop")
    assert run.status == "queued", run.status
    for _ in range(500):
        run = threads.runs.retrieve(run.id, thread_id=thread_id)
        if run.status in ("completed", "failed", "cancelled", "expired", "incomplete"):
            break
        time.sleep(0.02)
    assert run.status == "completed", (run.status, run.last_error)
    return run.id, [], replies_of(thread_id, run.id)


def run_create_and_poll(thread_id):
    run = threads.runs.create_and_poll(thread_id=thread_id, assistant_id="shop", poll_interval_ms=50)
    assert run.status == "completed", (run.status, run.last_error)
    return run.id, [], replies_of(thread_id, run.id)


def run_streaming(thread_id):
    events = []
    with threads.runs.stream(thread_id=thread_id, assistant_id="shop") as stream:
        for event in stream:
            events.append(event.event)
        final = stream.get_final_messages()
        run = stream.get_final_run()
    assert run.status == "completed", run.status
    assert final, "the stream delivered no final message"
    return run.id, events, final


def main():
    me = [{"id": "alice.test", "client_id": "openai-python", "capabilities": CAPS}]
    thread = threads.create(metadata={"actors": json.dumps(me)})
    assert thread.object == "thread" and thread.id.startswith("thread_")
    actors = json.loads(thread.metadata["actors"])
    assert actors[0]["id"] == "alice.test"
    agent_caps = actors[-1]["capabilities"]
    assert any("aitp-02-decisions" in c for c in agent_caps), agent_caps
    assert threads.retrieve(thread.id).id == thread.id

    first = threads.messages.create(thread_id=thread.id, role="user", content="Hello! I'd like to buy some socks.")
    assert first.role == "user" and texts(first) == ["Hello! I'd like to buy some socks."]

    runners = [run_polling, run_create_and_poll, run_streaming]
    seen, streamed_events, confirmation = [], [], None
    for turn in range(12):
        run_id, events, replies = runners[turn % len(runners)](thread.id)
        streamed_events.extend(events)
        outgoing = None
        for reply in replies:
            assert reply.role == "assistant"
            for text in texts(reply):
                message = aitp(text)
                if message is None:
                    continue
                key = next(k for k in message if k != "$schema")
                seen.append(key)
                if key == "error":
                    raise AssertionError(f"the agent reported an error: {text}")
                if key == "payment_confirmation":
                    confirmation = message["payment_confirmation"]
                outgoing = answer(message) or outgoing
        if confirmation is not None:
            break
        assert outgoing is not None, f"nothing to answer in turn {turn}: {seen}"
        threads.messages.create(thread_id=thread.id, role="user", content=json.dumps(outgoing))

    assert confirmation is not None, f"no payment confirmation: {seen}"
    assert confirmation["result"] == "success", confirmation

    # The rest of the API the client exposes: modify and delete a message, modify a run, list
    # and retrieve the run's steps.
    updated = threads.messages.update(first.id, thread_id=thread.id, metadata={"note": "first"})
    assert updated.id == first.id and updated.metadata == {"note": "first"}, updated.metadata
    deleted = threads.messages.delete(first.id, thread_id=thread.id)
    assert deleted.deleted and deleted.id == first.id and deleted.object == "thread.message.deleted"
    try:
        threads.messages.retrieve(first.id, thread_id=thread.id)
        raise AssertionError("a deleted message is still there")
    except openai.NotFoundError:
        pass
    run = threads.runs.update(run_id, thread_id=thread.id, metadata={"order": "socks"})
    assert run.id == run_id and run.metadata == {"order": "socks"} and run.status == "completed"
    assert run.tool_choice == "auto", run.tool_choice
    steps = threads.runs.steps.list(run_id, thread_id=thread.id).data
    assert steps and all(s.type == "message_creation" for s in steps), steps
    reply_ids = {m.id for m in replies_of(thread.id, run_id)}
    assert {s.step_details.message_creation.message_id for s in steps} == reply_ids
    step = threads.runs.steps.retrieve(steps[0].id, thread_id=thread.id, run_id=run_id)
    assert step.id == steps[0].id and step.run_id == run_id
    try:
        threads.runs.submit_tool_outputs(run_id, thread_id=thread.id,
                                         tool_outputs=[{"tool_call_id": "call_1", "output": "x"}])
        raise AssertionError("tool outputs were accepted")
    except openai.BadRequestError:
        pass

    history = threads.messages.list(thread_id=thread.id, order="asc", limit=100).data
    print(json.dumps({
        "openai": openai.__version__, "thread": thread.id, "seen": seen,
        "stream_events": sorted(set(streamed_events)), "messages": len(history),
        "confirmation": confirmation["result"], "steps": len(steps),
        "updated": ["messages.update", "messages.delete", "runs.update", "runs.steps.list"],
    }))


if __name__ == "__main__":
    main()
