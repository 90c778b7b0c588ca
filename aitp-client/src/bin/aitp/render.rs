//! How messages read on a terminal: text as it is, capability messages summarized or shown
//! in full, and the live view of a streamed run.

use std::collections::{HashMap, HashSet};

use aitp::{
    capability::{
        Body, ContentPart, Envelope,
        decisions::DecisionOption,
        errors::ErrorReport,
        extract_text,
        payments::{PaymentConfirmation, Quote},
        transactions::DetailValue,
    },
    thread::{
        Message,
        event::{Event, EventName},
    },
};
use indicatif::{ProgressBar, ProgressStyle};

/// Who sent `m`: its actor, else its role.
pub(crate) fn sender(m: &Message, fallback: &str) -> String {
    match m.actor() {
        Some(a) => a.to_owned(),
        None if fallback.is_empty() => m.role.to_string(),
        None => fallback.to_owned(),
    }
}

/// Prints a message as one line a part (`aitp messages`, `aitp send --run`).
pub(crate) fn print_message(m: &Message) {
    let who = sender(m, "");
    for part in m.text_parts() {
        match extract_text(part) {
            ContentPart::Aitp(a) => println!("{who}: {}", summary(&a)),
            _ => println!("{who}: {part}"),
        }
    }
}

/// One line about a capability message.
pub(crate) fn summary(m: &Envelope) -> String {
    match m.body() {
        Body::RequestDecision(r) => format!(
            "[request_decision {}] {}",
            r.id.as_deref().unwrap_or("-"),
            r.title.as_deref().unwrap_or("")
        ),
        Body::Decision(d) => {
            let chosen: Vec<String> = d
                .options
                .iter()
                .map(|o| match &o.quantity {
                    Some(q) => format!("{q} × {}", o.name.as_deref().unwrap_or(o.id.as_str())),
                    None => o.name.as_deref().unwrap_or(o.id.as_str()).to_owned(),
                })
                .collect();
            format!("[decision] {}", chosen.join(", "))
        }
        Body::RequestData(r) => format!("[request_data {}] {}", r.id, r.description),
        Body::Data(d) => format!("[data] {} field(s)", d.fields.len()),
        Body::Quote(q) => format!("[quote {}] {}", q.quote_id, q.description),
        Body::WrappedQuote(w) => {
            let via: Vec<&str> = w.wrappers.iter().map(|w| w.affiliate_id.as_str()).collect();
            format!(
                "[quote {}] {} (via {})",
                w.original_quote.quote_id,
                w.original_quote.description,
                via.join(", ")
            )
        }
        Body::Payment(p) => format!("[payment {}] from {}", p.quote_id, p.payer_id),
        Body::PaymentConfirmation(c) => {
            format!(
                "[payment_confirmation {}] {}",
                c.quote_id,
                c.result.as_str()
            )
        }
        _ => match m.message::<ErrorReport>() {
            Ok(Some(e)) => format!("[error {}] {}", e.code.as_str(), e.message),
            _ => format!("[{}] {}", m.key(), m.to_json_string()),
        },
    }
}

/// Shows a message of the agent that asks nothing: confirmations and errors in words, any
/// other capability message (one this client does not render, or does not know) as
/// pretty-printed JSON under its schema URL.
pub(crate) fn show(who: &str, m: &Envelope) {
    match m.body() {
        Body::PaymentConfirmation(c) => show_confirmation(c),
        _ => match m.message::<ErrorReport>() {
            Ok(Some(e)) => println!(
                "{who} reports an error ({}): {}",
                e.code.as_str(),
                e.message
            ),
            _ => show_json(who, m),
        },
    }
}

/// A capability message in full: its key, its schema URL, its JSON.
pub(crate) fn show_json(who: &str, m: &Envelope) {
    println!("{who} sent `{}` ({}):", m.key(), m.schema());
    let pretty = serde_json::to_string_pretty(&m.to_value()).unwrap_or_else(|_| m.to_json_string());
    for line in pretty.lines() {
        println!("  {line}");
    }
}

fn show_confirmation(c: &PaymentConfirmation) {
    println!("Payment {}: {}", c.payment_id, c.result.as_str());
    for d in c.details.iter().flatten() {
        let value = match &d.value {
            DetailValue::String(s) => s.clone(),
            DetailValue::Number(n) => n.to_string(),
        };
        println!("  {}: {value}", d.label);
    }
}

/// The price on a product card (its legacy quote's first plan), such as `18.50 USD`.
pub(crate) fn price(o: &DecisionOption) -> Option<String> {
    let plan = o.quote.as_ref()?.payment_plans.first()?;
    let amount = plan.amount.as_ref()?;
    Some(format!(
        "{amount} {}",
        plan.currency.as_deref().unwrap_or("USD")
    ))
}

/// The lines of a quote: what, from whom, each way to pay with its exact amount, the expiry.
pub(crate) fn quote_lines(q: &Quote, signature: &str) -> Vec<String> {
    let mut lines = vec![
        format!("Quote {} from {}", q.quote_id, q.merchant_id),
        format!("  {}", q.description),
    ];
    for (i, o) in q.payment_options.iter().enumerate() {
        let amount = o
            .amount
            .as_ref()
            .map_or("an amount you choose".to_owned(), |a| a.to_string());
        for m in &o.payment_methods {
            lines.push(format!(
                "  {}{amount} {} in {} ({}) to {}",
                if q.payment_options.len() > 1 {
                    format!("option {}: ", i + 1)
                } else {
                    String::new()
                },
                o.currency,
                m.token,
                m.r#type,
                m.recipient
            ));
        }
    }
    match &q.expiration {
        Some(e) if q.is_expired() => lines.push(format!("  expired {e}")),
        Some(e) => lines.push(format!("  expires {e}")),
        None => lines.push("  no expiry given".to_owned()),
    }
    lines.push(format!("  signature: {signature}"));
    lines
}

/// The live view of a streamed run: a spinner until the agent writes, then its text as it
/// comes. Capability messages (JSON) are not shown half-written: they are rendered whole
/// once the run is done, like every message the stream did not show.
pub(crate) struct StreamView {
    spinner: Option<ProgressBar>,
    agent: String,
    /// Text streamed so far, by message id.
    text: HashMap<String, String>,
    /// Messages shown as they streamed.
    shown: HashSet<String>,
    /// The message whose text is being printed.
    open: Option<String>,
}

impl StreamView {
    /// A view of the replies of `agent`.
    pub(crate) fn new(agent: &str) -> Self {
        Self {
            spinner: Some(spinner()),
            agent: agent.to_owned(),
            text: HashMap::new(),
            shown: HashSet::new(),
            open: None,
        }
    }

    /// Shows what an event adds.
    pub(crate) fn event(&mut self, e: &Event) {
        if let Some(Ok(delta)) = e.message_delta() {
            let chunk = delta.text();
            let text = self.text.entry(delta.id.clone()).or_default();
            text.push_str(&chunk);
            let text = text.trim_start();
            if text.is_empty() || text.starts_with('{') {
                return;
            }
            if self.open.as_deref() == Some(&delta.id) {
                print!("{chunk}");
            } else {
                let text = text.to_owned();
                self.stop_spinner();
                self.close();
                print!("{}: {text}", self.agent);
                self.open = Some(delta.id.clone());
                self.shown.insert(delta.id);
            }
            flush();
        } else if e.name == EventName::MessageCompleted && self.open.is_some() {
            self.close();
        }
    }

    /// Whether message `id` was already shown as it streamed.
    pub(crate) fn was_shown(&self, id: &str) -> bool {
        self.shown.contains(id)
    }

    /// Ends the view (the run is over).
    pub(crate) fn finish(mut self) {
        self.stop_spinner();
        self.close();
    }

    fn close(&mut self) {
        if self.open.take().is_some() {
            println!();
        }
    }

    fn stop_spinner(&mut self) {
        if let Some(s) = self.spinner.take() {
            s.finish_and_clear();
        }
    }
}

/// A spinner on stderr (hidden when stderr is not a terminal).
pub(crate) fn spinner() -> ProgressBar {
    let s = ProgressBar::new_spinner().with_message("the agent is working…");
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
        s.set_style(style);
    }
    s.enable_steady_tick(std::time::Duration::from_millis(100));
    s
}

fn flush() {
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
}

#[cfg(test)]
mod tests {
    use super::*;
    use aitp::{
        capability::payments::{PaymentOption, Quote},
        thread::event::MessageDelta,
    };

    fn delta(id: &str, chunk: &str) -> Event {
        Event::new(
            EventName::MessageDelta,
            &MessageDelta::text_chunk(id, 0, chunk),
        )
    }

    #[test]
    fn the_stream_shows_text_as_it_comes_and_keeps_capability_messages_whole() {
        let mut view = StreamView::new("shop");
        for e in [
            delta("msg_text", "  "),
            delta("msg_text", "Hello"),
            delta("msg_text", ", Ada"),
            delta("msg_json", "{\"$schema\": "),
            delta("msg_json", "\"https://aitp.dev/...\"}"),
        ] {
            view.event(&e);
        }
        assert!(view.was_shown("msg_text"));
        assert!(!view.was_shown("msg_json"));
        assert_eq!(view.text["msg_text"], "  Hello, Ada");
        view.finish();
    }

    #[test]
    fn a_quote_reads_with_its_exact_amount_expiry_and_signature() {
        let q = Quote::builder("quote_1", "shop.near", "2 × socks")
            .expiration("2999-01-01T00:00:00Z")
            .option(PaymentOption::near_payment_channel(
                "37.00".parse().unwrap(),
                "USD",
                "usdc.near",
                "shop.near",
            ))
            .build_unsigned();
        let lines = quote_lines(&q, "not verified");
        assert_eq!(
            lines,
            [
                "Quote quote_1 from shop.near",
                "  2 × socks",
                "  37.00 USD in usdc.near (near_payment_channel) to shop.near",
                "  expires 2999-01-01T00:00:00Z",
                "  signature: not verified",
            ]
        );
    }
}
