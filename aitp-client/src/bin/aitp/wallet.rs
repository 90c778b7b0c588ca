//! AITP-04 (NEAR) and AITP-05 (EVM) wallet requests, answered by an external signer command
//! (`--signer`), and payment signatures made by the same command.
//!
//! `aitp` holds no keys: the signer does. It runs through `sh -c` with `AITP_SIGN_KIND` set to
//! `payment` or to the request's key (`request_account`, `request_transaction`,
//! `request_message_signing`, `request_address`). For a payment it reads the bytes to sign on
//! stdin (`aitp::sign::signing_bytes`: the RFC 8785 canonical JSON of the payment without
//! `payer_signature`) and prints `ed25519:<base64 or base58>`, which is checked against the
//! payer's key before it is sent (see `keyfile`); for a wallet request it reads the request message (JSON)
//! and prints the answer: the response object (`{"request_id": …, "transaction_hash": …}`) or a
//! whole message with its `$schema`.

use std::{
    io::Write as _,
    process::{Command, Stdio},
};

use aitp::capability::{Body, Envelope, evm_wallet, near_wallet};
use serde_json::{Map, Value};

/// Whether `m` asks the user's wallet something.
pub(crate) fn is_request(m: &Envelope) -> bool {
    matches!(
        m.body(),
        Body::NearRequestAccount(_)
            | Body::NearRequestTransaction(_)
            | Body::NearRequestMessageSigning(_)
            | Body::EvmRequestAddress(_)
            | Body::EvmRequestTransaction(_)
            | Body::EvmRequestMessageSigning(_)
    )
}

/// The lines describing a wallet request for a person.
pub(crate) fn describe(m: &Envelope) -> Vec<String> {
    let mut lines = Vec::new();
    let note = |d: &Option<String>| d.as_deref().map(|d| format!("  {d}"));
    match m.body() {
        Body::NearRequestAccount(r) => {
            lines.push("The agent asks for your NEAR account.".to_owned());
            lines.extend(note(&r.description));
        }
        Body::NearRequestTransaction(r) => {
            lines.push(format!(
                "The agent asks you to sign a NEAR transaction to {}:",
                r.transaction.receiver_id
            ));
            lines.extend(note(&r.description));
            lines.extend(near_actions(&r.transaction));
        }
        Body::NearRequestMessageSigning(r) => {
            lines.push(format!(
                "The agent asks you to sign a message (NEP-413) for {}:",
                r.message.recipient
            ));
            lines.extend(note(&r.description));
            lines.push(format!("  message: {}", r.message.message));
            lines.push(format!("  nonce: {}", r.message.nonce));
        }
        Body::EvmRequestAddress(r) => {
            lines.push("The agent asks for your EVM address.".to_owned());
            lines.extend(note(&r.description));
        }
        Body::EvmRequestTransaction(r) => {
            lines.push("The agent asks you to sign an EVM transaction:".to_owned());
            lines.extend(note(&r.description));
            lines.extend(json_lines(&r.transaction));
        }
        Body::EvmRequestMessageSigning(r) => {
            lines.push("The agent asks you to sign an EVM message:".to_owned());
            lines.extend(note(&r.description));
            lines.extend(json_lines(&what_to_sign(r)));
        }
        _ => {}
    }
    lines.push(format!("  ({})", m.schema()));
    lines
}

fn near_actions(t: &near_wallet::Transaction) -> Vec<String> {
    t.actions
        .iter()
        .map(|a| {
            let params = serde_json::to_string(&a.params).unwrap_or_default();
            format!("  {} {params}", a.r#type.as_str())
        })
        .collect()
}

fn json_lines(v: &impl serde::Serialize) -> Vec<String> {
    serde_json::to_string_pretty(v)
        .unwrap_or_default()
        .lines()
        .map(|l| format!("  {l}"))
        .collect()
}

/// An EVM message-signing request without its id and description: what is to be signed.
fn what_to_sign(r: &evm_wallet::RequestMessageSigning) -> Value {
    let mut v = serde_json::to_value(r).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.remove("request_id");
        o.remove("description");
    }
    v
}

/// Asks the signer to answer wallet request `m`; the answer as a message to post.
pub(crate) fn answer(signer: &str, m: &Envelope) -> Result<Envelope, String> {
    let out = run(signer, m.key(), m.to_json_string().as_bytes())?;
    let v: Value = serde_json::from_str(&out)
        .map_err(|e| format!("the signer printed no JSON ({e}): {out}"))?;
    let message = if v.get("$schema").is_some() {
        v
    } else {
        let key = response_key(m.key());
        let mut o = Map::new();
        o.insert("$schema".to_owned(), Value::String(m.schema().to_owned()));
        o.insert(key, v);
        Value::Object(o)
    };
    let answer = Envelope::from_value(&message).map_err(|e| e.to_string())?;
    answer
        .validate()
        .map_err(|e| format!("the signer's answer is not valid: {e}"))?;
    Ok(answer)
}

/// `request_transaction` → `transaction_response`, and so on.
fn response_key(request: &str) -> String {
    let what = request.strip_prefix("request_").unwrap_or(request);
    format!("{what}_response")
}

/// Has the signer sign a payment's signing bytes; the text it printed (checked by the caller).
pub(crate) fn sign_payment(signer: &str, payload: &[u8]) -> Result<String, String> {
    let out = run(signer, "payment", payload)?;
    if out.is_empty() {
        return Err(format!("{signer} printed no signature"));
    }
    Ok(out)
}

/// Runs `signer` with `input` on stdin and `AITP_SIGN_KIND=kind`; its trimmed stdout.
fn run(signer: &str, kind: &str, input: &[u8]) -> Result<String, String> {
    let mut child = Command::new("sh")
        .args(["-c", signer])
        .env("AITP_SIGN_KIND", kind)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {signer:?}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A signer that does not read its input closes the pipe: that is its business.
        let _ = stdin.write_all(input);
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("{signer:?} exited with {}", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_keys() {
        assert_eq!(response_key("request_transaction"), "transaction_response");
        assert_eq!(response_key("request_account"), "account_response");
        assert_eq!(response_key("request_address"), "address_response");
        assert_eq!(
            response_key("request_message_signing"),
            "message_signing_response"
        );
    }

    #[test]
    fn a_signer_answers_a_near_account_request() {
        let request = Envelope::from(near_wallet::RequestAccount::new("acc_1"));
        let answer = answer(
            r#"test "$AITP_SIGN_KIND" = request_account && cat >/dev/null && echo '{"request_id": "acc_1", "accounts": ["ada.near"]}'"#,
            &request,
        )
        .unwrap();
        match answer.body() {
            Body::NearAccountResponse(r) => assert_eq!(r.accounts, ["ada.near"]),
            other => panic!("{other:?}"),
        }
        assert!(
            super::answer("exit 3", &request)
                .unwrap_err()
                .contains("exited")
        );
    }
}
