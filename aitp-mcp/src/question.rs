//! What the agent asks, as MCP sees it: an AITP request turned into an elicitation schema,
//! a message for people, a structured "the agent asks …" description, and the user's answer
//! (an elicitation's content, or the `answer` a host passes to the tool) turned back into
//! the AITP reply.
//!
//! One answer format serves both paths, so a host without elicitation answers with exactly
//! the object an elicitation form would have produced.

use std::fmt::Write as _;

use aitp::capability::{
    Body, Envelope,
    data_request::{FieldType, RequestData},
    decisions::{DecisionOption, DecisionType, RequestDecision},
    payments::{PaymentMethod, PaymentOption, Quote},
};
use serde_json::{Map, Value, json};

/// The property of a single choice.
pub const CHOICE: &str = "choice";
/// The property of a multiple choice.
pub const CHOICES: &str = "choices";
/// The prefix of the per-product quantity properties (`quantity_<option id>`).
pub const QUANTITY_PREFIX: &str = "quantity_";
/// The property accepting a quote.
pub const ACCEPT: &str = "accept";
/// The property picking one of several ways to pay a quote (`<option>.<method>`, such as `0.0`).
pub const PAY_WITH: &str = "pay_with";

/// An AITP request the user must answer before the agent goes on.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Question {
    /// AITP-02 `request_decision`.
    Decision(RequestDecision),
    /// AITP-03 `request_data`.
    Form(RequestData),
    /// AITP-01 `quote`.
    Quote(Quote),
}

/// Why a request cannot be shown as an MCP elicitation form (the host then gets the
/// structured "the agent asks …" result instead).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Inexpressible(pub String);

/// What the user answered.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Answer {
    /// Send this message to the agent (a `decision` or `data`).
    Reply(Envelope),
    /// Pay the quote with its option and method at these indexes.
    Pay {
        /// Index into `payment_options`.
        option: usize,
        /// Index into that option's `payment_methods`.
        method: usize,
    },
    /// The user does not accept the quote: nothing is paid, nothing is sent.
    DeclineQuote,
}

/// An answer that does not fit the question, said so the host (or its model) can fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the answer does not fit the agent's question: {0}")]
pub struct BadAnswer(pub String);

impl Question {
    /// The question in a capability message, if it is one.
    pub fn from_envelope(message: &Envelope) -> Option<Self> {
        match message.body() {
            Body::RequestDecision(r) => Some(Self::Decision(r.clone())),
            Body::RequestData(r) => Some(Self::Form(r.clone())),
            Body::Quote(q) => Some(Self::Quote(q.clone())),
            _ => None,
        }
    }

    /// The AITP message key (`request_decision`, `request_data`, `quote`).
    pub fn key(&self) -> &'static str {
        match self {
            Self::Decision(_) => "request_decision",
            Self::Form(_) => "request_data",
            Self::Quote(_) => "quote",
        }
    }

    /// The id the answer refers to.
    pub fn id(&self) -> Option<&str> {
        match self {
            Self::Decision(r) => r.id.as_deref(),
            Self::Form(r) => Some(&r.id),
            Self::Quote(q) => Some(&q.quote_id),
        }
    }

    /// The question for people, naming `agent`; a quote's amounts are written exactly as
    /// quoted.
    pub fn message(&self, agent: &str) -> String {
        let mut s = String::new();
        match self {
            Self::Decision(r) => {
                let many = if r.kind().is_multiple() {
                    "one or more"
                } else {
                    "one"
                };
                let _ = write!(s, "{agent} asks you to choose {many}");
                if let Some(t) = &r.title {
                    let _ = write!(s, ": {t}");
                }
                if let Some(d) = &r.description {
                    let _ = write!(s, "\n{d}");
                }
                for o in options(r) {
                    let _ = write!(s, "\n- {}", option_title(o));
                }
            }
            Self::Form(r) => {
                let _ = write!(s, "{agent} asks you to fill in a form");
                if let Some(t) = &r.title {
                    let _ = write!(s, ": {t}");
                }
                let _ = write!(s, "\n{}", r.description);
            }
            Self::Quote(q) => {
                let _ = write!(
                    s,
                    "{agent} asks you to pay (quote {} from {}): {}",
                    q.quote_id, q.merchant_id, q.description
                );
                for (i, option) in q.payment_options.iter().enumerate() {
                    for (j, method) in option.payment_methods.iter().enumerate() {
                        let _ = write!(s, "\n- [{i}.{j}] {}", pay_title(option, method));
                    }
                }
                if let Some(e) = &q.expiration {
                    let _ = write!(s, "\nThe quote expires {e}.");
                }
                s.push_str("\nAccept to pay exactly this; decline and nothing is paid.");
            }
        }
        s
    }

    /// The elicitation schema: a flat object of primitive properties, as MCP elicitation
    /// requires. [`Inexpressible`] when the request has no such form.
    pub fn schema(&self) -> Result<Value, Inexpressible> {
        match self {
            Self::Decision(r) => decision_schema(r),
            Self::Form(r) => form_schema(r),
            Self::Quote(q) => quote_schema(q),
        }
    }

    /// The user's answer, from an elicitation's content or a host's `answer` argument.
    pub fn answer(&self, content: &Map<String, Value>) -> Result<Answer, BadAnswer> {
        match self {
            Self::Decision(r) => decide(r, content).map(|d| Answer::Reply(Envelope::from(d))),
            Self::Form(r) => fill(r, content).map(|d| Answer::Reply(Envelope::from(d))),
            Self::Quote(q) => accept(q, content),
        }
    }

    /// The structured "the agent asks …" description for hosts that cannot show it: the
    /// question, how to answer (the schema of `answer`, or why there is none), and the
    /// original AITP message.
    pub fn describe(&self, agent: &str) -> Value {
        let mut asks = json!({
            "key": self.key(),
            "id": self.id(),
            "message": self.message(agent),
            "request": Envelope::from(self.clone()).to_value(),
        });
        match self.schema() {
            Ok(schema) => asks["answer_schema"] = schema,
            Err(why) => asks["not_a_form"] = Value::String(why.0),
        }
        asks
    }
}

impl From<Question> for Envelope {
    fn from(q: Question) -> Self {
        match q {
            Question::Decision(r) => Envelope::from(r),
            Question::Form(r) => Envelope::from(r),
            Question::Quote(q) => Envelope::from(q),
        }
    }
}

/// The options and their variants, in order (variants can be chosen too).
fn options(r: &RequestDecision) -> impl Iterator<Item = &DecisionOption> {
    r.options
        .iter()
        .flat_map(|o| std::iter::once(o).chain(o.variants.iter().flatten()))
}

/// `Name — 18.50 USD — description`: the name, the price exactly as quoted, the description.
fn option_title(o: &DecisionOption) -> String {
    let mut s = o.name.clone().unwrap_or_else(|| o.id.to_string());
    if let Some(q) = &o.quote {
        for plan in &q.payment_plans {
            if let Some(amount) = &plan.amount {
                let _ = write!(s, " — {amount}");
                if let Some(c) = &plan.currency {
                    let _ = write!(s, " {c}");
                }
            }
        }
    }
    if let Some(d) = &o.description {
        let _ = write!(s, " — {d}");
    }
    s
}

fn decision_schema(r: &RequestDecision) -> Result<Value, Inexpressible> {
    let choices: Vec<Value> = options(r)
        .map(|o| json!({"const": o.id.as_str(), "title": option_title(o)}))
        .collect();
    if choices.is_empty() {
        return Err(Inexpressible("the decision has no options".into()));
    }
    let title = r.title.clone().unwrap_or_else(|| "Choose".into());
    let mut properties = Map::new();
    let required = if r.kind().is_multiple() {
        properties.insert(
            CHOICES.into(),
            json!({"type": "array", "title": title, "minItems": 1, "items": {"anyOf": choices}}),
        );
        CHOICES
    } else {
        properties.insert(
            CHOICE.into(),
            json!({"type": "string", "title": title, "oneOf": choices}),
        );
        CHOICE
    };
    if r.kind() == DecisionType::Products {
        for o in options(r) {
            let name = o.name.as_deref().unwrap_or(o.id.as_str());
            properties.insert(
                format!("{QUANTITY_PREFIX}{}", o.id),
                json!({
                    "type": "integer",
                    "title": format!("Quantity of {name}"),
                    "description": "How many, if you choose it (default 1).",
                    "minimum": 1,
                    "default": 1,
                }),
            );
        }
    }
    let mut schema = json!({"type": "object", "properties": properties, "required": [required]});
    if let Some(d) = &r.description {
        schema["description"] = Value::String(d.clone());
    }
    Ok(schema)
}

fn decide(
    r: &RequestDecision,
    content: &Map<String, Value>,
) -> Result<aitp::capability::decisions::Decision, BadAnswer> {
    let mut ids: Vec<String> = Vec::new();
    match (content.get(CHOICES), content.get(CHOICE)) {
        (Some(Value::Array(list)), _) => {
            for v in list {
                ids.push(text(v).ok_or_else(|| BadAnswer(format!("`{CHOICES}` holds {v}")))?);
            }
        }
        (Some(v), _) | (None, Some(v)) => {
            ids.push(text(v).ok_or_else(|| BadAnswer(format!("the choice is {v}")))?);
        }
        (None, None) => {
            return Err(BadAnswer(format!(
                "give `{}` (the option ids)",
                if r.kind().is_multiple() {
                    CHOICES
                } else {
                    CHOICE
                }
            )));
        }
    }
    if ids.is_empty() {
        return Err(BadAnswer("choose at least one option".into()));
    }
    if ids.len() > 1 && !r.kind().is_multiple() {
        return Err(BadAnswer("choose only one option".into()));
    }
    let known: Vec<&str> = options(r).map(|o| o.id.as_str()).collect();
    if let Some(unknown) = ids.iter().find(|id| !known.contains(&id.as_str())) {
        return Err(BadAnswer(format!(
            "no option {unknown:?}; the options are {}",
            known.join(", ")
        )));
    }
    let mut decision = r.choose(&ids);
    if r.kind() == DecisionType::Products {
        for chosen in decision.options.iter_mut() {
            let key = format!("{QUANTITY_PREFIX}{}", chosen.id);
            let quantity = match content.get(&key) {
                None | Some(Value::Null) => 1,
                Some(v) => text(v)
                    .and_then(|t| t.parse::<u64>().ok())
                    .filter(|q| *q > 0)
                    .ok_or_else(|| {
                        BadAnswer(format!("`{key}` must be a whole number above 0, not {v}"))
                    })?,
            };
            chosen.quantity = Some(quantity.into());
        }
    }
    Ok(decision)
}

fn form_schema(r: &RequestData) -> Result<Value, Inexpressible> {
    let Some(fields) = r.form.fields.as_ref().filter(|f| !f.is_empty()) else {
        return Err(Inexpressible(match &r.form.json_url {
            Some(url) => format!(
                "the form's fields are in a document at {url}, which the gateway does not fetch"
            ),
            None => "the form has no fields".into(),
        }));
    };
    let mut properties = Map::new();
    let mut required = Vec::new();
    for f in fields {
        let title = f.label.clone().unwrap_or_else(|| f.id.clone());
        let mut p = match f.kind() {
            FieldType::Text | FieldType::Textarea | FieldType::Tel => json!({"type": "string"}),
            FieldType::Email => json!({"type": "string", "format": "email"}),
            FieldType::Number => json!({"type": "number"}),
            FieldType::Select => {
                let options: Vec<Value> = f
                    .options
                    .iter()
                    .flatten()
                    .map(|o| json!({"const": o.value(), "title": o.label()}))
                    .collect();
                if options.is_empty() {
                    return Err(Inexpressible(format!(
                        "the select field {:?} has no options",
                        f.id
                    )));
                }
                json!({"type": "string", "oneOf": options})
            }
            FieldType::Combobox => {
                // An option or a custom value: a free string, the options suggested.
                let options: Vec<&str> = f.options.iter().flatten().map(|o| o.value()).collect();
                json!({"type": "string", "description": format!("For example: {}", options.join(", "))})
            }
            other => {
                return Err(Inexpressible(format!(
                    "the field {:?} has the type {:?}, which an MCP form cannot show",
                    f.id,
                    other.as_str()
                )));
            }
        };
        p["title"] = Value::String(title);
        if let Some(d) = &f.description {
            let joined = match p.get("description").and_then(Value::as_str) {
                Some(more) => format!("{d} ({more})"),
                None => d.clone(),
            };
            p["description"] = Value::String(joined);
        }
        if let Some(d) = &f.default_value {
            p["default"] = if f.kind() == FieldType::Number {
                d.parse::<serde_json::Number>()
                    .map_or_else(|_| Value::String(d.clone()), Value::Number)
            } else {
                Value::String(d.clone())
            };
        }
        if f.is_required() {
            required.push(Value::String(f.id.clone()));
        }
        properties.insert(f.id.clone(), p);
    }
    let mut schema = json!({"type": "object", "properties": properties, "required": required});
    if let Some(t) = &r.title {
        schema["title"] = Value::String(t.clone());
    }
    schema["description"] = Value::String(r.description.clone());
    Ok(schema)
}

fn fill(
    r: &RequestData,
    content: &Map<String, Value>,
) -> Result<aitp::capability::data_request::Data, BadAnswer> {
    let mut values = Vec::new();
    // In the form's order, then anything else the answer holds (the agent may want it).
    let ids: Vec<&str> = r
        .form
        .fields
        .iter()
        .flatten()
        .map(|f| f.id.as_str())
        .collect();
    let extra = content.keys().filter(|k| !ids.contains(&k.as_str()));
    for id in ids.iter().copied().chain(extra.map(String::as_str)) {
        match content.get(id) {
            None | Some(Value::Null) => {}
            Some(v) => {
                let t = text(v).ok_or_else(|| BadAnswer(format!("`{id}` is {v}")))?;
                values.push((id.to_owned(), t));
            }
        }
    }
    let data = r.respond(values);
    r.check_response(&data)
        .map_err(|e| BadAnswer(e.to_string()))?;
    Ok(data)
}

/// `37.00 USD in usdc.near (near_payment_channel) to aitp-rs-shop.near`.
fn pay_title(option: &PaymentOption, method: &PaymentMethod) -> String {
    let amount = option
        .amount
        .as_ref()
        .map_or_else(|| "an amount you choose".to_owned(), ToString::to_string);
    format!(
        "{amount} {} in {} ({}) to {}",
        option.currency,
        method.token,
        method.r#type.as_str(),
        method.recipient
    )
}

fn ways_to_pay(q: &Quote) -> Vec<(usize, usize, String)> {
    q.payment_options
        .iter()
        .enumerate()
        .flat_map(|(i, o)| {
            o.payment_methods
                .iter()
                .enumerate()
                .map(move |(j, m)| (i, j, pay_title(o, m)))
        })
        .collect()
}

fn quote_schema(q: &Quote) -> Result<Value, Inexpressible> {
    let ways = ways_to_pay(q);
    let Some((_, _, first)) = ways.first() else {
        return Err(Inexpressible(
            "the quote offers no way to pay (no payment option with a method)".into(),
        ));
    };
    if q.payment_options.iter().any(|o| o.amount.is_none()) {
        return Err(Inexpressible(
            "the quote leaves the amount open, which needs an amount the user types".into(),
        ));
    }
    let mut properties = Map::new();
    let title = if ways.len() == 1 {
        format!("Pay {first}")
    } else {
        "Pay the quote".to_owned()
    };
    properties.insert(
        ACCEPT.into(),
        json!({"type": "boolean", "title": title, "description": q.description, "default": false}),
    );
    let mut required = vec![ACCEPT];
    if ways.len() > 1 {
        let choices: Vec<Value> = ways
            .iter()
            .map(|(i, j, t)| json!({"const": format!("{i}.{j}"), "title": t}))
            .collect();
        properties.insert(
            PAY_WITH.into(),
            json!({"type": "string", "title": "Pay with", "oneOf": choices}),
        );
        required.push(PAY_WITH);
    }
    Ok(json!({"type": "object", "properties": properties, "required": required}))
}

fn accept(q: &Quote, content: &Map<String, Value>) -> Result<Answer, BadAnswer> {
    let accepted = match content.get(ACCEPT) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => true,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => false,
        None => return Err(BadAnswer(format!("give `{ACCEPT}`: true or false"))),
        Some(v) => {
            return Err(BadAnswer(format!(
                "`{ACCEPT}` must be true or false, not {v}"
            )));
        }
    };
    if !accepted {
        return Ok(Answer::DeclineQuote);
    }
    let ways = ways_to_pay(q);
    let (option, method) = match content.get(PAY_WITH).and_then(Value::as_str) {
        Some(w) => ways
            .iter()
            .find(|(i, j, _)| format!("{i}.{j}") == w)
            .map(|(i, j, _)| (*i, *j))
            .ok_or_else(|| BadAnswer(format!("no way to pay {w:?}")))?,
        None if ways.len() == 1 => (ways[0].0, ways[0].1),
        None if ways.is_empty() => return Err(BadAnswer("the quote offers no way to pay".into())),
        None => return Err(BadAnswer(format!("give `{PAY_WITH}`: which way to pay"))),
    };
    if q.payment_options[option].amount.is_none() {
        return Err(BadAnswer(
            "the quote leaves the amount open; the gateway only pays quoted amounts".into(),
        ));
    }
    Ok(Answer::Pay { option, method })
}

/// A value as text: strings as they are, numbers in their exact JSON form, booleans as
/// `true`/`false`.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use aitp::capability::{
        data_request::FormField,
        decisions::DecisionOption,
        payments::{PaymentMethod, PaymentOption, Quote},
    };

    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn a_single_choice_becomes_a_titled_enum_and_comes_back_as_the_decision() {
        let r = RequestDecision::radio("size", ["S", "M"])
            .title("Size?")
            .build();
        let q = Question::Decision(r);
        let schema = q.schema().unwrap();
        assert_eq!(schema["required"], json!(["choice"]));
        assert_eq!(schema["properties"]["choice"]["oneOf"][1]["const"], "M");
        let Answer::Reply(m) = q.answer(&obj(json!({"choice": "M"}))).unwrap() else {
            panic!("a reply")
        };
        let Body::Decision(d) = m.body() else {
            panic!("a decision")
        };
        assert_eq!(d.request_decision_id.as_deref(), Some("size"));
        assert_eq!(d.chosen_ids().collect::<Vec<_>>(), ["M"]);
        assert!(q.answer(&obj(json!({"choice": "XL"}))).is_err());
        assert!(q.answer(&obj(json!({"choices": ["S", "M"]}))).is_err());
    }

    #[test]
    fn products_carry_prices_and_quantities() {
        let socks = DecisionOption::new("socks", "Socks")
            .description("Warm.")
            .quote(aitp::capability::transactions::Quote::one_time(
                "p1",
                "shop.near",
                "18.50".parse().unwrap(),
                "2030-01-01T00:00:00Z",
            ));
        let r =
            RequestDecision::products("cat", [socks, DecisionOption::new("hat", "Hat")]).build();
        let q = Question::Decision(r);
        let schema = q.schema().unwrap();
        let title = schema["properties"]["choices"]["items"]["anyOf"][0]["title"]
            .as_str()
            .unwrap();
        assert!(title.starts_with("Socks — 18.50"), "{title}");
        assert!(title.ends_with("Warm."), "{title}");
        assert_eq!(schema["properties"]["quantity_socks"]["type"], "integer");
        let answer = obj(json!({"choices": ["socks"], "quantity_socks": 2}));
        let Answer::Reply(m) = q.answer(&answer).unwrap() else {
            panic!()
        };
        let Body::Decision(d) = m.body() else {
            panic!()
        };
        assert_eq!(d.options[0].quantity.as_ref().unwrap().to_string(), "2");
        let zero = obj(json!({"choices": ["socks"], "quantity_socks": 0}));
        assert!(q.answer(&zero).is_err());
    }

    #[test]
    fn a_form_keeps_required_types_enums_and_defaults() {
        let r = RequestData::form(
            "f",
            "Where?",
            [
                FormField::text("city", "City").required(),
                FormField::email("mail", "Mail"),
                FormField::number("age", "Age").default_value("30"),
                FormField::select("tier", "Tier", ["gold", "silver"]),
            ],
        );
        let q = Question::Form(r);
        let s = q.schema().unwrap();
        assert_eq!(s["required"], json!(["city"]));
        assert_eq!(s["properties"]["mail"]["format"], "email");
        assert_eq!(s["properties"]["age"]["default"], json!(30));
        assert_eq!(s["properties"]["tier"]["oneOf"][0]["const"], "gold");
        let Answer::Reply(m) = q
            .answer(&obj(json!({"city": "Oslo", "age": 41.5, "tier": "gold"})))
            .unwrap()
        else {
            panic!()
        };
        let Body::Data(d) = m.body() else { panic!() };
        assert_eq!(d.get("age"), Some("41.5"));
        assert_eq!(d.request_data_id.as_deref(), Some("f"));
        let missing = q.answer(&obj(json!({"age": 3}))).unwrap_err();
        assert!(missing.0.contains("city"), "{missing}");
    }

    #[test]
    fn a_form_behind_a_url_is_not_expressible_but_still_described() {
        let r = RequestData::external("f", "Fill this", "https://example.com/form.json");
        let q = Question::Form(r);
        assert!(q.schema().is_err());
        let asks = q.describe("shop");
        assert!(asks["not_a_form"].as_str().unwrap().contains("example.com"));
        assert_eq!(asks["request"]["request_data"]["id"], "f");
    }

    #[test]
    fn a_quote_is_accepted_exactly_or_declined() {
        let quote = Quote::builder("q1", "shop.near", "Two socks")
            .option(PaymentOption::new("37.00".parse().unwrap(), "USD").method(
                PaymentMethod::near_payment_channel("usdc.near", "shop.near"),
            ))
            .build_unsigned();
        let q = Question::Quote(quote);
        let s = q.schema().unwrap();
        let title = s["properties"]["accept"]["title"].as_str().unwrap();
        assert_eq!(
            title,
            "Pay 37.00 USD in usdc.near (near_payment_channel) to shop.near"
        );
        assert!(q.message("shop").contains("37.00 USD"));
        assert_eq!(
            q.answer(&obj(json!({"accept": true}))).unwrap(),
            Answer::Pay {
                option: 0,
                method: 0
            }
        );
        assert_eq!(
            q.answer(&obj(json!({"accept": false}))).unwrap(),
            Answer::DeclineQuote
        );
        assert!(q.answer(&obj(json!({}))).is_err());
    }
}
