//! What the aitp-rs examples and their tests share; the agents themselves each live in one
//! file of their own package:
//!
//! - `examples/echo` (`example-echo`): repeats text, describes every capability message.
//! - `examples/shop` (`example-shop`): a shop that sells through a real multi-step AITP
//!   conversation (product cards, a shipping-address form, a signed quote, a payment).
//! - `examples/shop_macros` (`example-shop-macros`): a smaller shop written with the macros.
//! - `examples/loyalty` (`example-loyalty`): a custom capability and the agent serving it.
//!
//! Shared here: [`describe`], one line about any capability message; [`script`], the shop
//! customer's side of the conversation (signing its payments with ed25519), so tests and
//! clients drive a whole purchase. The `[[example]]` targets: `messages` builds, prints, parses and
//! validates one message of every capability; `capability_schema` prints a `schema.json`.

use aitp::capability::{Body, Envelope, errors::ErrorReport, evm_wallet::parse_quantity};

pub mod script;

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
