#!/usr/bin/env python3
"""An independent implementation of aitp::sign's scheme, to check the SDK's vectors both ways.

    python sign_peer.py VECTORS_DIR

Verifies every vector the SDK made (RFC 8785 via `rfc8785`, ed25519 via `pynacl`, NEP-413
recomputed with hashlib/struct, EIP-191/EIP-712 hashes via `eth-account`), then signs messages
of its own with the same test keys for the SDK to verify. Prints one JSON line
{"checked": [...], "signed": {...}}; exits non-zero on the first disagreement.
"""
import base64
import copy
import hashlib
import json
import pathlib
import struct
import sys

import nacl.signing
import rfc8785
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from eth_utils import keccak

DIR = pathlib.Path(sys.argv[1])
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def load(name):
    return json.loads((DIR / name).read_text(encoding="utf-8"))


def b58encode(data):
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = B58[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def b58decode(text):
    n = 0
    for c in text:
        n = n * 58 + B58.index(c)
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


KEYS = load("keys.json")["keys"]


def signing_key(party):
    return nacl.signing.SigningKey(bytes.fromhex(KEYS[party]["seed_hex"]))


def verify_key(text):
    assert text.startswith("ed25519:"), text
    return nacl.signing.VerifyKey(b58decode(text[len("ed25519:"):]))


def signature_bytes(text):
    body = text[len("ed25519:"):] if text.startswith("ed25519:") else text
    return base64.b64decode(body, validate=True) if "=" in body else b58decode(body)


def without(obj, field):
    out = dict(obj)
    out.pop(field, None)
    return out


def sign_text(party, data):
    return "ed25519:" + base64.b64encode(signing_key(party).sign(data).signature).decode()


def wrapper_payload(wrapped, i):
    return rfc8785.dumps({
        "new_wrapper": without(wrapped["wrappers"][i], "signature"),
        "original_quote": wrapped["original_quote"],
        "previous_wrappers": wrapped["wrappers"][:i],
    })


def nep413_hash(message, nonce, recipient, callback_url=None):
    def string(s):
        b = s.encode("utf-8")
        return struct.pack("<I", len(b)) + b
    data = struct.pack("<I", 2**31 + 413) + string(message) + nonce + string(recipient)
    data += b"\0" if callback_url is None else b"\1" + string(callback_url)
    return hashlib.sha256(data).digest()


def eip191_hash(text):
    b = text.encode("utf-8")
    return keccak(b"\x19Ethereum Signed Message:\n" + str(len(b)).encode() + b)


def signable_hash(signable):
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


checked = []

# Keys: the texts are NEAR's forms of the seeds.
for party, k in KEYS.items():
    sk = signing_key(party)
    pk = bytes(sk.verify_key)
    assert k["public_key"] == "ed25519:" + b58encode(pk), party
    assert k["secret_key"] == "ed25519:" + b58encode(bytes.fromhex(k["seed_hex"]) + pk), party

# The five singly-signed messages.
for name in ["quote", "payment", "payment_confirmation", "top_up_request", "top_up_response"]:
    v = load(name + ".json")
    msg, field = v["message"], v["signature_field"]
    data = rfc8785.dumps(without(msg, field))
    assert data == v["signing_bytes"].encode("utf-8"), (name, data, v["signing_bytes"])
    verify_key(v["public_key"]).verify(data, signature_bytes(msg[field]))
    assert v["public_key"] == KEYS[v["signer"]]["public_key"]
    checked.append(name)

# The chain.
wv = load("wrapped_quote.json")
wrapped = wv["message"]
verify_key(KEYS["shop.near"]["public_key"]).verify(
    rfc8785.dumps(without(wrapped["original_quote"], "merchant_signature")),
    signature_bytes(wrapped["original_quote"]["merchant_signature"]))
for i, w in enumerate(wv["wrappers"]):
    data = wrapper_payload(wrapped, i)
    assert data == w["signing_bytes"].encode("utf-8"), i
    verify_key(w["public_key"]).verify(data, signature_bytes(wrapped["wrappers"][i]["signature"]))
    checked.append(f"wrapped_quote.wrappers[{i}]")

# NEP-413.
nv = load("nep413.json")
req, resp = nv["request"]["request_message_signing"] if "request_message_signing" in nv["request"] else nv["request"], nv["response"]
resp = resp.get("message_signing_response", resp)
nonce = base64.b64decode(req["message"]["nonce"], validate=True)
assert len(nonce) == 32 and nonce.hex() == nv["nonce_hex"]
h = nep413_hash(req["message"]["message"], nonce, req["message"]["recipient"])
assert h.hex() == nv["hash_hex"]
verify_key(resp["public_key"]).verify(h, signature_bytes(resp["signature"]))
assert resp["public_key"] == KEYS[resp["account_id"]]["public_key"]
checked.append("nep413")

# EIP-191 / EIP-712: the hashes the SDK computes.
ev = load("evm.json")
personal = ev["personal_sign"]["request"]
personal = personal.get("request_message_signing", personal)
assert "0x" + eip191_hash(personal["message"]).hex() == ev["personal_sign"]["hash"]
assert signable_hash(encode_defunct(text=personal["message"])).hex().removeprefix("0x") == ev["personal_sign"]["hash"][2:]
checked.append("eip191.hash")
typed_req = ev["typed_data"]["request"]
typed_req = typed_req.get("request_message_signing", typed_req)
typed = encode_typed_data(full_message=typed_req["typed_data"])
assert "0x" + signable_hash(typed).hex().removeprefix("0x") == ev["typed_data"]["hash"], (signable_hash(typed).hex(), ev["typed_data"]["hash"])
checked.append("eip712.hash")

# Now sign our own, for the SDK to verify.
signed = {}

quote = copy.deepcopy(load("quote.json")["message"])
quote["quote_id"] = "q_py_1"
quote["description"] = "Signed in Python \u2713"
quote["py_extra"] = {"\u00fc": [0.5, 2e-9, 10, -3], "nested": {"b": "\u0007", "a": "\U0001F600"}}
quote["merchant_signature"] = sign_text("shop.near", rfc8785.dumps(without(quote, "merchant_signature")))
signed["quote"] = quote

for name, party, field, change in [
    ("payment", "user.near", "payer_signature", {"timestamp": "2029-07-01T00:00:00Z"}),
    ("payment_confirmation", "shop.near", "merchant_signature", {"message": "Danke sch\u00f6n"}),
    ("top_up_request", "shop.near", "merchant_signature", {"amount": "7.25"}),
    ("top_up_response", "user.near", "payer_signature", {"amount": "7.25", "new_balance": "8.25"}),
]:
    m = copy.deepcopy(load(name + ".json")["message"])
    m.update(change)
    m[field] = sign_text(party, rfc8785.dumps(without(m, field)))
    signed[name] = m

wrapped2 = copy.deepcopy(wrapped)
wrapped2["wrappers"].append({
    "affiliate_id": "python.near", "role": "service", "added_affiliates": [],
    "next_recipient": "buyer.near", "timestamp": "2029-06-01T00:04:00Z",
})
wrapped2["wrappers"][3]["signature"] = sign_text("python.near", wrapper_payload(wrapped2, 3))
signed["wrapped_quote"] = wrapped2

nep_nonce = hashlib.sha256(b"python nonce").digest()
nep_req = {"request_id": "sig_py_1", "message": {
    "nonce": base64.b64encode(nep_nonce).decode(), "recipient": "shop.near", "message": "Python says hi \u2603"}}
nep_sig = signing_key("user.near").sign(nep413_hash(nep_req["message"]["message"], nep_nonce, "shop.near")).signature
signed["nep413"] = {
    "request": nep_req,
    # Bare base64, as NEAR wallets return it.
    "response": {"request_id": "sig_py_1", "account_id": "user.near",
                 "public_key": KEYS["user.near"]["public_key"], "signature": base64.b64encode(nep_sig).decode()},
}

evm_key = keccak(text="cow")
account = Account.from_key(evm_key)
assert account.address == ev["address"], account.address
p_req = {"request_id": "sig_py_2", "signing_type": "personal_sign", "message": "Python pays q_py_1 \u2713"}
p_sig = Account.sign_message(encode_defunct(text=p_req["message"]), private_key=evm_key).signature
signed["personal_sign"] = {"request": p_req, "response": {
    "request_id": "sig_py_2", "address": account.address, "signature": "0x" + bytes(p_sig).hex()}}
t_req = {"request_id": "sig_py_3", "signing_type": "typed_data", "address": account.address.lower(),
         "typed_data": copy.deepcopy(typed_req["typed_data"])}
t_req["typed_data"]["message"]["quoteId"] = "q_py_1"
t_sig = Account.sign_message(encode_typed_data(full_message=t_req["typed_data"]), private_key=evm_key).signature
signed["typed_data"] = {"request": t_req, "response": {
    "request_id": "sig_py_3", "address": account.address, "signature": "0x" + bytes(t_sig).hex()}}

print(json.dumps({"checked": checked, "signed": signed}))
