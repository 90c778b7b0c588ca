//! Runnable examples of aitp-rs, and the agents behind them.
//!
//! The agents live in this library (not in the example binaries) so integration tests can
//! serve them in-process:
//!
//! - [`echo_agent`]: repeats text, and describes every capability message it receives.
//! - [`shop::shop_agent`]: a shop that sells through a real multi-step AITP conversation
//!   (product cards, a shipping-address form, a signed quote, a payment, a confirmation).
//! - [`script`]: the customer's side of that conversation as pure functions, so a test (or a
//!   client) can drive the whole purchase.
//!
//! The `[[example]]` targets: `echo` and `shop` serve those agents on the Threads API,
//! `messages` builds, prints, parses and validates one message of every capability.

use aitp::{
    agent::Router,
    capability::{AitpCapability, Body, Envelope, errors::ErrorReport, evm_wallet::parse_quantity},
};

pub mod demo_signature;
pub mod script;
pub mod shop;

/// The echo agent: answers text with `echo: <text>`, and any capability message with a text
/// summary of it ([`describe`]), including whether it passes its schema's validation.
///
/// It declares every AITP v1 capability, so clients that negotiate see that it takes them
/// all; nothing is handled by type, everything goes to the fallback.
pub fn echo_agent() -> Router {
    let mut router = Router::new()
        .actor_id("aitp-rs-echo")
        .on_text(echo_text)
        .fallback(echo_message);
    for capability in AitpCapability::ALL {
        router = router.declare(capability.v1());
    }
    router
}

async fn echo_text(text: String) -> String {
    tracing::info!(%text, "echoing text");
    format!("echo: {text}")
}

async fn echo_message(message: Envelope) -> String {
    tracing::info!(
        key = message.key(),
        schema = message.schema(),
        "describing a capability message"
    );
    format!("echo: {}", describe(&message))
}

/// One line for people about a capability message: its capability and key, the facts that
/// matter (ids, amounts, choices), and whether it passes its schema's validation.
///
/// ```
/// use aitp::capability::{Envelope, decisions::RequestDecision};
/// let m = Envelope::from(RequestDecision::radio("size", ["S", "M"]).title("Size?").build());
/// assert_eq!(
///     aitp_examples::describe(&m),
///     "aitp-02-decisions `request_decision` size \"Size?\": radio, options S, M (valid)"
/// );
/// ```
pub fn describe(message: &Envelope) -> String {
    // AITP capabilities by their short name; others by the URL as written.
    let capability = match message.capability_id() {
        Ok(id) if id.aitp().is_some() => id.name(),
        _ => message.schema().to_owned(),
    };
    let facts = facts(message);
    let validity = match message.validate() {
        Ok(()) => "valid".to_owned(),
        Err(errors) => format!("does not match its schema: {errors}"),
    };
    let key = message.key();
    if facts.is_empty() {
        format!("{capability} `{key}` ({validity})")
    } else {
        format!("{capability} `{key}` {facts} ({validity})")
    }
}

/// The facts worth telling about a message's body.
fn facts(message: &Envelope) -> String {
    let list = |items: Vec<String>| items.join(", ");
    match message.body() {
        Body::Quote(q) => {
            let options = q
                .payment_options
                .iter()
                .map(|o| {
                    let amount = o
                        .amount
                        .as_ref()
                        .map_or("any amount".to_owned(), |a| a.to_string());
                    let methods = list(
                        o.payment_methods
                            .iter()
                            .map(|m| format!("{} {} to {}", m.r#type, m.token, m.recipient))
                            .collect(),
                    );
                    format!("{amount} {} via {methods}", o.currency)
                })
                .collect();
            format!(
                "{} from {} for {:?}: {}; expires {}; {}",
                q.quote_id,
                q.merchant_id,
                q.description,
                list(options),
                q.expiration.as_deref().unwrap_or("never"),
                if q.merchant_signature.is_some() {
                    "signed"
                } else {
                    "unsigned"
                },
            )
        }
        Body::Payment(p) => format!(
            "of quote {} by {}: {} {} in {} over channel {}",
            p.quote_id,
            p.payer_id,
            p.payment_method
                .amount
                .as_ref()
                .map_or("(no amount)".to_owned(), |a| a.to_string()),
            p.payment_method.currency,
            p.payment_method.token,
            p.payment_method.channel_id,
        ),
        Body::PaymentConfirmation(c) => {
            let details = c
                .details
                .iter()
                .flatten()
                .map(|d| format!("{}: {}", d.label, detail_value(&d.value)))
                .collect();
            format!(
                "of quote {}: {} (payment {}); {}",
                c.quote_id,
                c.result.as_str(),
                c.payment_id,
                list(details)
            )
        }
        Body::RequestDecision(r) => {
            let options = r
                .options
                .iter()
                .map(|o| match (&o.name, o.id.as_str()) {
                    (Some(name), id) if name != id => format!("{id} ({name})"),
                    (_, id) => id.to_owned(),
                })
                .collect();
            let title = r
                .title
                .as_ref()
                .map_or(String::new(), |t| format!(" {t:?}"));
            format!(
                "{}{title}: {}, options {}",
                r.id.as_deref().unwrap_or("(no id)"),
                r.kind().as_str(),
                list(options)
            )
        }
        Body::Decision(d) => {
            let chosen = d
                .options
                .iter()
                .map(|o| match &o.quantity {
                    Some(q) => format!("{} × {}", q, o.id),
                    None => o.id.to_string(),
                })
                .collect();
            format!(
                "answering {}: chose {}",
                d.request_decision_id.as_deref().unwrap_or("(no id)"),
                list(chosen)
            )
        }
        Body::RequestData(r) => {
            let fields = r
                .form
                .fields
                .iter()
                .flatten()
                .map(|f| {
                    let required = if f.is_required() { " (required)" } else { "" };
                    format!("{}{required}", f.id)
                })
                .collect();
            format!("{} {:?}: fields {}", r.id, r.description, list(fields))
        }
        Body::Data(d) => {
            let values = d
                .fields
                .iter()
                .map(|f| {
                    let value = f.value.as_ref().map_or("", |v| v.as_str());
                    format!("{}={value:?}", f.id)
                })
                .collect();
            format!(
                "answering {}: {}",
                d.request_data_id.as_deref().unwrap_or("(no id)"),
                list(values)
            )
        }
        Body::NearRequestTransaction(t) => {
            let actions = t
                .transaction
                .actions
                .iter()
                .map(|a| a.r#type.as_str().to_owned())
                .collect();
            format!(
                "{}: on {}, actions {}",
                t.request_id,
                t.transaction.receiver_id,
                list(actions)
            )
        }
        Body::EvmRequestTransaction(t) => {
            let value = t.transaction.value.as_deref().unwrap_or("0x0");
            let wei = parse_quantity(value).map_or(value.to_owned(), |w| w.to_string());
            format!(
                "{}: to {} on chain {}, value {wei} wei",
                t.request_id,
                t.transaction.to,
                t.chain_id_or_mainnet(),
            )
        }
        Body::LegacyQuote(q) => {
            let plans = q
                .payment_plans
                .iter()
                .map(|p| {
                    format!(
                        "{} {} {}",
                        p.plan_type,
                        p.amount.as_ref().map_or("?".to_owned(), |a| a.to_string()),
                        p.currency.as_deref().unwrap_or("?")
                    )
                })
                .collect();
            format!(
                "{} to {}: {}; valid until {}",
                q.quote_id,
                q.payee_id,
                list(plans),
                q.valid_until
            )
        }
        Body::Unknown { body, .. } => match message.message::<ErrorReport>() {
            Ok(Some(e)) => format!("{}: {}", e.code.as_str(), e.message),
            _ => match body.as_object() {
                Some(fields) => format!("with fields {}", list(fields.keys().cloned().collect())),
                None => String::new(),
            },
        },
        _ => String::new(),
    }
}

fn detail_value(v: &aitp::capability::transactions::DetailValue) -> String {
    use aitp::capability::transactions::DetailValue;
    match v {
        DetailValue::String(s) => s.clone(),
        DetailValue::Number(n) => n.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use aitp::{
        agent::Reply,
        capability::decisions::RequestDecision,
        thread::{Content, Message, Role, Thread},
    };

    use super::*;

    #[tokio::test]
    async fn echo_answers_text_and_describes_messages() {
        let agent = echo_agent();
        assert_eq!(agent.capabilities().len(), AitpCapability::ALL.len());
        let thread = Thread::new();

        let hello = Message::new(&thread.id, Role::User, vec![Content::text("hello")]);
        let replies = agent.dispatch_one(thread.clone(), hello).await;
        assert_eq!(replies, vec![Reply::Text("echo: hello".into())]);

        let ask = Envelope::from(RequestDecision::radio("size", ["S", "M"]).build());
        let message = Message::new(&thread.id, Role::User, vec![Content::aitp(&ask)]);
        let replies = agent.dispatch_one(thread, message).await;
        let [Reply::Text(text)] = replies.as_slice() else {
            panic!("one text reply expected: {replies:?}");
        };
        assert!(
            text.starts_with("echo: aitp-02-decisions `request_decision` size"),
            "{text}"
        );
        assert!(text.ends_with("(valid)"), "{text}");
    }
}
