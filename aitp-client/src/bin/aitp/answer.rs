//! The questions an agent asks, put to the person: AITP-02 decisions as menus, AITP-03 forms
//! field by field, AITP-01 quotes as a confirmation, AITP-04/05 wallet requests through the
//! signer. Each returns the message to post (`None`: nothing to post).

use aitp::{
    capability::{
        Body, Envelope,
        data_request::{Data, FieldType, FormField, RequestData},
        decisions::{Decision, DecisionOption, DecisionType, RequestDecision},
        errors::{ErrorCode, ErrorReport},
        payments::{Payment, PaymentMethodUsed},
    },
    sign::Offer,
};

use crate::{
    keyfile::PaymentSigner,
    prompt::{Answer, Prompter},
    render, verify, wallet,
};

/// Who pays quotes, and how.
#[derive(Debug, Clone)]
pub(crate) struct Payer {
    pub(crate) account: String,
    /// Our actor id: where a chain of affiliates passing a quote on must end.
    pub(crate) actor: String,
    pub(crate) channel: String,
    /// The wallet command answering AITP-04/05 requests (`--signer`).
    pub(crate) signer: Option<String>,
    /// How payments are signed.
    pub(crate) payments: PaymentSigner,
    /// The merchants' and affiliates' keys the person trusts (`--merchant-key`).
    pub(crate) merchant_keys: Vec<(String, aitp::sign::PublicKey)>,
}

/// Whether `m` asks something this client answers.
pub(crate) fn is_question(m: &Envelope) -> bool {
    matches!(
        m.body(),
        Body::RequestDecision(_) | Body::RequestData(_) | Body::Quote(_) | Body::WrappedQuote(_)
    ) || wallet::is_request(m)
}

/// Puts question `m` to the person.
pub(crate) async fn ask(p: Prompter, m: &Envelope, payer: &Payer) -> Answer<Option<Envelope>> {
    Ok(match m.body() {
        Body::RequestDecision(r) if r.options.is_empty() => {
            println!("The agent asks for a decision but offers no options.");
            None
        }
        Body::RequestDecision(r) => Some(decide(p, r)?.into()),
        Body::RequestData(r) => fill(p, r)?.map(Envelope::from),
        Body::Quote(q) => confirm(p, &Offer::from(q.clone()), payer)
            .await?
            .map(Envelope::from),
        Body::WrappedQuote(w) => confirm(p, &Offer::from(w.clone()), payer)
            .await?
            .map(Envelope::from),
        _ if wallet::is_request(m) => wallet_request(p, m, payer)?,
        _ => None,
    })
}

/// A menu line for an option: name, price, a short description.
fn option_line(o: &DecisionOption) -> String {
    let mut line = o.name.clone().unwrap_or_else(|| o.id.as_str().to_owned());
    if let Some(price) = render::price(o) {
        line.push_str(&format!("  {price}"));
    }
    if let Some(d) = &o.description {
        let short: String = d.chars().take(70).collect();
        let more = if d.chars().count() > 70 { "…" } else { "" };
        line.push_str(&format!(" — {short}{more}"));
    }
    line
}

/// An AITP-02 decision: one choice (radio, confirmation) or several (checkbox, products),
/// a variant for products that have them, and a quantity for each product.
pub(crate) fn decide(p: Prompter, r: &RequestDecision) -> Answer<Decision> {
    let title = r.title.as_deref().unwrap_or("Choose");
    println!();
    if let Some(d) = &r.description {
        println!("{d}");
    }
    let lines: Vec<String> = r.options.iter().map(option_line).collect();
    let kind = r.kind();
    let picked = if kind.is_multiple() {
        p.multi_select(title, &lines, 1, None)?
    } else {
        vec![p.select(title, &lines)?]
    };
    let mut chosen: Vec<&DecisionOption> = Vec::new();
    for i in picked {
        let o = &r.options[i];
        chosen.push(match o.variants.as_deref() {
            Some(vs) if !vs.is_empty() => {
                let name = o.name.as_deref().unwrap_or(o.id.as_str());
                let lines: Vec<String> = vs.iter().map(option_line).collect();
                &vs[p.select(&format!("Which {name}?"), &lines)?]
            }
            _ => o,
        });
    }
    let mut decision = r.choose(chosen.iter().map(|o| o.id.as_str()));
    if kind == DecisionType::Products {
        for (selected, o) in decision.options.iter_mut().zip(&chosen) {
            let name = o.name.as_deref().unwrap_or(o.id.as_str());
            let label = match render::price(o) {
                Some(price) => format!("Quantity of {name} ({price} each)"),
                None => format!("Quantity of {name}"),
            };
            let q = p.input(&label, Some("1"), None, check_quantity)?;
            selected.quantity = Some(q.parse::<u64>().unwrap_or(1).into());
        }
        println!("{}", render::summary(&Envelope::from(decision.clone())));
    }
    Ok(decision)
}

fn check_quantity(v: &str) -> Result<(), String> {
    match v.parse::<u64>() {
        Ok(q) if q > 0 => Ok(()),
        _ => Err("Enter a whole number above 0.".to_owned()),
    }
}

/// An AITP-03 form: each field asked and checked as it is typed (required, email, number,
/// telephone, options), then a summary to confirm (or fill again). `None`: a form whose fields
/// are only behind a URL, which this client cannot fetch.
pub(crate) fn fill(p: Prompter, r: &RequestData) -> Answer<Option<Data>> {
    println!();
    println!("{}", r.title.as_deref().unwrap_or("Form"));
    println!("{}", r.description);
    let Some(fields) = r.form.fields.as_deref().filter(|f| !f.is_empty()) else {
        if let Some(url) = &r.form.json_url {
            println!("The form is at {url}: answer it in text.");
        }
        return Ok(None);
    };
    loop {
        let mut values: Vec<(String, String)> = Vec::new();
        for f in fields {
            let v = ask_field(p, r, f)?;
            if !v.is_empty() {
                values.push((f.id.clone(), v));
            }
        }
        println!("Your answers:");
        for (id, v) in &values {
            let label = r.field(id).and_then(|f| f.label.as_deref()).unwrap_or(id);
            println!("  {label}: {v}");
        }
        let data = r.respond(values);
        if let Err(errors) = r.check_response(&data) {
            println!("Please correct: {errors}");
            continue;
        }
        if p.confirm("Send this?", true)? {
            return Ok(Some(data));
        }
    }
}

/// One field, checked by the request's own rules for that field.
fn ask_field(p: Prompter, r: &RequestData, f: &FormField) -> Answer<String> {
    let label = format!(
        "{}{}",
        f.label.as_deref().unwrap_or(&f.id),
        if f.is_required() { " *" } else { "" }
    );
    let options: Vec<String> = f
        .options
        .iter()
        .flatten()
        .map(|o| o.value().to_owned())
        .collect();
    if f.kind() == FieldType::Select && !options.is_empty() {
        let labels: Vec<String> = f
            .options
            .iter()
            .flatten()
            .map(|o| o.label().to_owned())
            .collect();
        if !f.is_required() {
            // An optional select may be left empty: offered as the last option.
            let mut with_none = labels.clone();
            with_none.push("(none)".to_owned());
            let i = p.select(&label, &with_none)?;
            return Ok(options.get(i).cloned().unwrap_or_default());
        }
        return Ok(options[p.select(&label, &labels)?].clone());
    }
    let mut one = r.clone();
    one.form.fields = Some(vec![f.clone()]);
    let id = f.id.clone();
    let check = move |v: &str| {
        one.check_response(&one.respond([(id.as_str(), v)]))
            .map_err(|e| {
                let why: Vec<&str> = e.errors().iter().map(|e| e.message.as_str()).collect();
                why.join("; ")
            })
    };
    let help = match (f.kind(), options.is_empty()) {
        (FieldType::Combobox, false) => Some(format!("e.g. {}", options.join(", "))),
        _ => f.description.clone(),
    };
    p.input(&label, f.default_value.as_deref(), help.as_deref(), check)
}

/// An AITP-01 quote (or a `wrapped_quote`): its exact amounts, expiry, the affiliates that
/// passed it on and whether every signature verified, then pay or not. Paying signs the
/// payment as `--key`/`--signer` say; an unverified quote is paid only after a warning.
pub(crate) async fn confirm(p: Prompter, offer: &Offer, payer: &Payer) -> Answer<Option<Payment>> {
    println!();
    let q = offer.quote();
    let signature = verify::offer_signature(offer, &payer.merchant_keys, &payer.actor).await;
    for line in render::quote_lines(q, &signature.to_string()) {
        println!("{line}");
    }
    for (i, w) in offer.wrappers().iter().enumerate() {
        let signed = match offer {
            Offer::Wrapped(wrapped) => {
                verify::wrapper_signature(wrapped, i, &payer.merchant_keys).to_string()
            }
            _ => String::new(),
        };
        println!(
            "  passed on by {} ({}) to {}, signature: {signed}",
            w.affiliate_id,
            w.role.as_str(),
            w.next_recipient
        );
        for a in w.added_affiliates.iter().flatten() {
            println!("    with affiliate {} ({})", a.id, a.role.as_str());
        }
    }
    if q.is_expired() {
        println!("The quote has expired: ask the agent for a new one.");
        return Ok(None);
    }
    // Several ways to pay: the person picks one.
    let mut ways = Vec::new();
    for o in &q.payment_options {
        for m in &o.payment_methods {
            ways.push((o, m));
        }
    }
    let (option, method) = match ways.len() {
        0 => {
            println!("The quote offers no way to pay.");
            return Ok(None);
        }
        1 => ways[0],
        _ => {
            let lines: Vec<String> = ways
                .iter()
                .map(|(o, m)| {
                    let amount = o.amount.as_ref().map_or("?".to_owned(), |a| a.to_string());
                    format!("{amount} {} in {} to {}", o.currency, m.token, m.recipient)
                })
                .collect();
            ways[p.select("Pay how?", &lines)?]
        }
    };
    let amount = option
        .amount
        .as_ref()
        .map_or("an amount you choose".to_owned(), |a| a.to_string());
    if let Some(amount) = &option.amount {
        if let Some(line) = revenue_line(offer, amount, &option.currency) {
            println!("{line}");
        }
    }
    if signature != verify::Signature::Verified {
        println!(
            "! Warning: this quote's signature is {signature}: nothing shows it comes from {}.",
            q.merchant_id
        );
    }
    if let Some(why) = payer.payments.cannot_pay() {
        println!("Cannot pay: {why}.");
        return Ok(None);
    }
    println!(
        "The payment from {} will be {}.",
        payer.account,
        payer.payments.describe()
    );
    if !p.confirm(
        &format!("Pay {amount} {} to {}?", option.currency, method.recipient),
        false,
    )? {
        println!("Not paid.");
        return Ok(None);
    }
    let used = PaymentMethodUsed::for_option(option, method, payer.channel.clone());
    // A wrapped quote is paid like the merchant's own: by its quote id, to the recipient the
    // merchant named; the affiliates' share is the merchant's to pay out.
    match payer
        .payments
        .sign(Payment::new(q, payer.account.clone(), used))
    {
        Ok(payment) => Ok(Some(payment)),
        Err(e) => {
            println!("! signing failed: {e}. Not paid.");
            Ok(None)
        }
    }
}

/// How `amount` is shared with the affiliates (`aitp::sign::split_revenue`, in the amount's
/// own decimal places), when the quote gives them a share.
fn revenue_line(offer: &Offer, amount: &aitp::money::Amount, currency: &str) -> Option<String> {
    let bps = offer.quote().revenue_share.as_ref()?.affiliate_share_bps;
    let decimals = amount
        .as_str()
        .split_once('.')
        .map_or(0, |(_, f)| f.len() as u32);
    match aitp::sign::split_revenue(amount, decimals, offer) {
        Ok(split) if split.parts.is_empty() => None,
        Ok(split) => {
            let parts: Vec<String> = split
                .parts
                .iter()
                .map(|p| format!("{} {}", p.id, p.amount))
                .collect();
            Some(format!(
                "  of which {} {currency} ({bps} bps) goes to affiliates: {}",
                split.share,
                parts.join(", ")
            ))
        }
        Err(e) => Some(format!("  the revenue share cannot be computed: {e}")),
    }
}

/// An AITP-04/05 wallet request: shown, then answered by the signer or declined (the agent
/// is told, with an `error` message, so it does not wait).
fn wallet_request(p: Prompter, m: &Envelope, payer: &Payer) -> Answer<Option<Envelope>> {
    println!();
    for line in wallet::describe(m) {
        println!("{line}");
    }
    let decline = |why: &str| {
        Some(Envelope::from(
            ErrorReport::new(ErrorCode::HandlerError, why)
                .capability(m.schema())
                .key(m.key()),
        ))
    };
    let Some(signer) = &payer.signer else {
        println!("No signer: pass --signer COMMAND to answer wallet requests. Declined.");
        return Ok(decline("the user has no wallet signer and declined"));
    };
    if !p.confirm(&format!("Answer with {signer}?"), false)? {
        println!("Declined.");
        return Ok(decline("the user declined"));
    }
    match wallet::answer(signer, m) {
        Ok(answer) => {
            println!("{}", render::summary(&answer));
            Ok(Some(answer))
        }
        Err(e) => {
            println!("! the signer failed: {e}");
            Ok(decline("the user's wallet could not answer"))
        }
    }
}

#[cfg(test)]
mod tests {
    use aitp::{
        capability::payments::{
            Affiliate, AffiliateRole, PaymentOption, Quote, RevenueShare, Wrapper,
        },
        sign::{self, SecretKey},
    };

    use super::*;

    #[test]
    fn the_affiliates_share_is_shown_exactly() {
        let quote = Quote::builder("q_1", "shop.near", "a hat")
            .option(PaymentOption::near_payment_channel(
                "10.00".parse().unwrap(),
                "USD",
                "usdc.near",
                "shop.near",
            ))
            .revenue_share(
                RevenueShare::new(300)
                    .affiliate(Affiliate::new("discovery.near", AffiliateRole::Discovery)),
            )
            .build_unsigned();
        let wrapper = Wrapper::new("pa.near", AffiliateRole::PersonalAssistant, "ada.near");
        let wrapped = sign::wrap(&SecretKey::from_seed(&[2; 32]), wrapper, quote.clone()).unwrap();
        let amount = "10.00".parse().unwrap();
        assert_eq!(
            revenue_line(&Offer::from(wrapped), &amount, "USD").as_deref(),
            Some(
                "  of which 0.30 USD (300 bps) goes to affiliates: discovery.near 0.15, pa.near 0.15"
            )
        );
        let mut plain = quote;
        plain.revenue_share = None;
        assert_eq!(revenue_line(&Offer::from(plain), &amount, "USD"), None);
    }
}
