//! Tamper tests: every field of every signed message, changed or removed, fails; so does
//! every wrapper of a chain, reordered or dropped.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::*;
use crate::capability::payments::{
    Affiliate, AffiliateRole, Payment, PaymentConfirmation, PaymentMethodUsed, PaymentOption,
    Quote, RevenueShare, TopUpRequest, TopUpResponse, WrappedQuote, Wrapper,
};
use crate::capability::transactions::PaymentOutcome;

pub(super) fn key(n: u8) -> SecretKey {
    SecretKey::from_seed(&[n; 32])
}

pub(super) fn quote() -> Quote {
    let mut q = Quote::builder("q_1", "shop.near", "A mug")
        .expiration("2030-01-01T00:00:00Z")
        .next_recipient("assistant.near")
        .option(PaymentOption::near_payment_channel(
            "12.50".parse().unwrap(),
            "USD",
            "usdc.near",
            "shop.near",
        ))
        .option(PaymentOption::near_payment_channel(
            "5".parse().unwrap(),
            "NEAR",
            "wrap.near",
            "shop.near",
        ))
        .revenue_share(
            RevenueShare::new(300)
                .affiliate(Affiliate::new("finder.near", AffiliateRole::Discovery).weight(2)),
        )
        .build_unsigned();
    q.extra.insert(
        "note".into(),
        serde_json::json!({"unknown": [1, "x", true]}),
    );
    sign(&key(1), q).unwrap()
}

pub(super) fn wrapper(id: &str, next: &str, minute: u32) -> Wrapper {
    let mut w = Wrapper::new(id, AffiliateRole::PersonalAssistant, next).added_affiliate(
        Affiliate::new(format!("friend-of-{id}"), AffiliateRole::OtherRole),
    );
    w.timestamp = format!("2029-06-01T00:{minute:02}:00Z");
    w
}

/// The quote wrapped by three agents: assistant → concierge → router → buyer.
pub(super) fn chain() -> WrappedQuote {
    let w = wrap(
        &key(2),
        wrapper("assistant.near", "concierge.near", 1),
        quote(),
    )
    .unwrap();
    let w = wrap(&key(3), wrapper("concierge.near", "router.near", 2), w).unwrap();
    wrap(&key(4), wrapper("router.near", "buyer.near", 3), w).unwrap()
}

pub(super) fn resolver() -> ConfiguredKeys {
    ConfiguredKeys::new()
        .allow("shop.near", key(1).public_key())
        .allow("assistant.near", key(2).public_key())
        .allow("concierge.near", key(3).public_key())
        .allow("router.near", key(4).public_key())
        .allow("user.near", key(5).public_key())
}

pub(super) fn payment(q: &Quote) -> Payment {
    let option = &q.payment_options[0];
    let method = PaymentMethodUsed::for_option(option, &option.payment_methods[0], "ch_1");
    let mut p = Payment::new(q, "user.near", method);
    p.timestamp = "2029-06-01T01:00:00Z".into();
    sign(&key(5), p).unwrap()
}

/// Every variant of `value` with one leaf changed or one object member / array item removed.
fn tampered(value: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    match value {
        Value::Null => out.push(Value::Bool(false)),
        Value::Bool(b) => out.push(Value::Bool(!b)),
        Value::Number(n) => out.push(Value::Number((n.as_i64().unwrap_or(0) + 1).into())),
        Value::String(s) => {
            // Keep amounts valid amounts and dates valid dates, so the change reaches the
            // signature check instead of failing to parse.
            let changed = match s.chars().last() {
                Some(c @ '0'..='8') => format!("{}{}", &s[..s.len() - 1], (c as u8 + 1) as char),
                Some('9') => format!("{}8", &s[..s.len() - 1]),
                Some('Z') => s.replacen("20", "21", 1),
                _ => format!("{s}x"),
            };
            out.push(Value::String(changed));
        }
        Value::Array(items) => {
            for i in 0..items.len() {
                let mut removed = items.clone();
                removed.remove(i);
                out.push(Value::Array(removed));
                for t in tampered(&items[i]) {
                    let mut changed = items.clone();
                    changed[i] = t;
                    out.push(Value::Array(changed));
                }
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                let mut removed = map.clone();
                removed.remove(k);
                out.push(Value::Object(removed));
                for t in tampered(v) {
                    let mut changed = map.clone();
                    changed.insert(k.clone(), t);
                    out.push(Value::Object(changed));
                }
            }
        }
    }
    out
}

/// Checks that every tampered form of `message` fails `check` (or no longer parses), and
/// returns how many forms were tried.
fn every_tamper_fails<M: Serialize + DeserializeOwned>(
    message: &M,
    check: impl Fn(&M) -> bool,
) -> usize {
    let original = serde_json::to_value(message).unwrap();
    let forms = tampered(&original);
    let mut reached = 0;
    for form in &forms {
        if let Ok(m) = serde_json::from_value::<M>(form.clone()) {
            reached += 1;
            assert!(!check(&m), "a tampered message still verifies: {form}");
        }
    }
    assert!(
        reached * 2 > forms.len(),
        "most tampered forms should parse and reach the check"
    );
    forms.len()
}

use serde::Serialize;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn every_field_of_every_signed_message_is_covered() {
    let merchant = key(1);
    let payer = key(5);
    let q = quote();
    assert!(verify(&merchant.public_key(), &q).is_ok());
    assert!(every_tamper_fails(&q, |m| verify(&merchant.public_key(), m).is_ok()) > 30);

    let p = payment(&q);
    assert!(verify(&payer.public_key(), &p).is_ok());
    every_tamper_fails(&p, |m| verify(&payer.public_key(), m).is_ok());

    let mut c =
        PaymentConfirmation::for_payment(&p, "pay_1", PaymentOutcome::Success).message("Thanks");
    c.timestamp = "2029-06-01T01:00:01Z".into();
    let c = sign(&merchant, c).unwrap();
    assert!(verify(&merchant.public_key(), &c).is_ok());
    every_tamper_fails(&c, |m| verify(&merchant.public_key(), m).is_ok());

    let mut r = TopUpRequest::new("ch_1", "10".parse().unwrap(), "USD", "shop.near").reason("low");
    r.timestamp = "2029-06-01T02:00:00Z".into();
    let r = sign(&merchant, r).unwrap();
    every_tamper_fails(&r, |m| verify(&merchant.public_key(), m).is_ok());

    let mut t = TopUpResponse::for_request(&r, "10".parse().unwrap(), "user.near")
        .new_balance("12".parse().unwrap());
    t.timestamp = "2029-06-01T02:00:01Z".into();
    let t = sign(&payer, t).unwrap();
    every_tamper_fails(&t, |m| verify(&payer.public_key(), m).is_ok());
}

#[test]
fn every_field_of_a_chain_is_covered() {
    let keys = resolver();
    let w = chain();
    let offer = Offer::from(w.clone());
    let verified = block_on(verify_chain(&keys, Some("buyer.near"), &offer)).unwrap();
    assert_eq!(verified.wrapper_keys.len(), 3);
    let n = every_tamper_fails(&w, |m| {
        block_on(verify_chain(
            &keys,
            Some("buyer.near"),
            &Offer::from(m.clone()),
        ))
        .is_ok()
    });
    assert!(n > 100);
}

#[test]
fn every_wrapper_reordered_or_dropped_fails() {
    let keys = resolver();
    let w = chain();
    let check = |m: &WrappedQuote| {
        block_on(verify_chain(
            &keys,
            Some("buyer.near"),
            &Offer::from(m.clone()),
        ))
    };
    for i in 0..3 {
        let mut dropped = w.clone();
        dropped.wrappers.remove(i);
        assert!(
            check(&dropped).is_err(),
            "dropping wrapper {i} went unnoticed"
        );
        for j in i + 1..3 {
            let mut swapped = w.clone();
            swapped.wrappers.swap(i, j);
            assert!(
                check(&swapped).is_err(),
                "swapping {i} and {j} went unnoticed"
            );
        }
    }
    // Dropping the last wrapper leaves what the agents before it signed: only the recipient
    // check tells.
    let mut cut = w.clone();
    cut.wrappers.pop();
    assert_eq!(
        check(&cut),
        Err(VerifyError::WrongRecipient {
            addressed_to: "router.near".into(),
            recipient: "buyer.near".into()
        })
    );
    assert!(block_on(verify_chain(&keys, None, &Offer::from(cut))).is_ok());
}

/// The merchant names whom it hands the quote to (`next_recipient`), so every cut of the
/// chain, down to the bare quote, is still addressed to an agent before the buyer.
#[test]
fn every_tail_of_wrappers_stripped_is_noticed() {
    let keys = resolver();
    let w = chain();
    let hops = ["assistant.near", "concierge.near", "router.near"];
    for (kept, addressed_to) in hops.into_iter().enumerate() {
        let offer = if kept == 0 {
            Offer::from(w.original_quote.clone())
        } else {
            let mut cut = w.clone();
            cut.wrappers.truncate(kept);
            Offer::from(cut)
        };
        assert_eq!(
            block_on(verify_chain(&keys, Some("buyer.near"), &offer)),
            Err(VerifyError::WrongRecipient {
                addressed_to: addressed_to.into(),
                recipient: "buyer.near".into()
            }),
            "{kept} wrappers kept"
        );
    }
    // The stripped quote is good for the agent the merchant handed it to, and for nobody
    // else; re-addressing it breaks the merchant's signature.
    let bare = Offer::from(w.original_quote.clone());
    assert!(block_on(verify_chain(&keys, Some("assistant.near"), &bare)).is_ok());
    let mut readdressed = w.original_quote.clone();
    readdressed.next_recipient = Some("buyer.near".into());
    assert!(matches!(
        block_on(verify_chain(
            &keys,
            Some("buyer.near"),
            &Offer::from(readdressed)
        )),
        Err(VerifyError::BadSignature { .. })
    ));

    // A merchant that names nobody binds nothing: its quote, wrapped once and stripped,
    // verifies for anyone. This is why the demo shop names the agent it answers.
    let mut open = w.original_quote.clone();
    open.next_recipient = None;
    let open = sign(&key(1), open).unwrap();
    let wrapped = wrap(&key(2), wrapper("assistant.near", "buyer.near", 1), open).unwrap();
    assert!(
        block_on(verify_chain(
            &keys,
            Some("buyer.near"),
            &Offer::from(wrapped.clone())
        ))
        .is_ok()
    );
    assert!(
        block_on(verify_chain(
            &keys,
            Some("buyer.near"),
            &Offer::from(wrapped.original_quote)
        ))
        .is_ok()
    );
}

#[test]
fn each_refusal_has_its_own_error() {
    let q = quote();
    let path = "quote.merchant_signature".to_string();
    let shop = Party::Merchant("shop.near".into());
    // Unknown key: the resolver knows nothing about the merchant.
    assert_eq!(
        block_on(verify_signed(&ConfiguredKeys::new(), &shop, &q)),
        Err(VerifyError::UnknownSigner {
            path: path.clone(),
            party: shop.clone()
        })
    );
    // A key that is someone else's.
    let by_assistant = sign(&key(2), q.clone()).unwrap();
    assert_eq!(
        block_on(verify_signed(&resolver(), &shop, &by_assistant)),
        Err(VerifyError::KeyNotAllowed {
            path: path.clone(),
            party: shop.clone(),
            owner: "assistant.near".into()
        })
    );
    // A key nobody knows.
    let by_stranger = sign(&key(9), q.clone()).unwrap();
    assert_eq!(
        block_on(verify_signed(&resolver(), &shop, &by_stranger)),
        Err(VerifyError::BadSignature {
            path: path.clone(),
            party: shop.clone()
        })
    );
    let mut unsigned = q.clone();
    unsigned.merchant_signature = None;
    assert_eq!(
        block_on(verify_signed(&resolver(), &shop, &unsigned)),
        Err(VerifyError::Missing { path: path.clone() })
    );
    let mut garbled = q.clone();
    garbled.merchant_signature = Some("unsigned".into());
    assert!(matches!(
        block_on(verify_signed(&resolver(), &shop, &garbled)),
        Err(VerifyError::Malformed { .. })
    ));
    assert_eq!(
        block_on(verify_signed(&resolver(), &shop, &q)),
        Ok(key(1).public_key())
    );
}

#[test]
fn the_signed_bytes_are_the_documented_ones() {
    let q = quote();
    let bytes = String::from_utf8(signing_bytes(&q).unwrap()).unwrap();
    assert!(bytes.starts_with(r#"{"description":"A mug","expiration":"2030-01-01T00:00:00Z","merchant_id":"shop.near","next_recipient":"assistant.near","note":{"unknown":[1,"x",true]},"payment_options":[{"amount":"12.50","currency":"USD""#), "{bytes}");
    assert!(!bytes.contains("merchant_signature"));
    let w = chain();
    let b1 = String::from_utf8(wrapper_signing_bytes(&w, 1).unwrap().unwrap()).unwrap();
    assert!(b1.starts_with(r#"{"new_wrapper":{"added_affiliates":[{"id":"friend-of-concierge.near","role":"other"}],"affiliate_id":"concierge.near","next_recipient":"router.near","role":"personal_assistant","timestamp":"2029-06-01T00:02:00Z"},"original_quote":{"#), "{b1}");
    assert!(b1.contains(r#""merchant_signature":"ed25519:"#));
    assert!(b1.ends_with(&format!(
        r#""signature":"{}","timestamp":"2029-06-01T00:01:00Z"}}]}}"#,
        w.wrappers[0].signature.as_deref().unwrap()
    )));
    assert!(wrapper_signing_bytes(&w, 3).is_none());
}
