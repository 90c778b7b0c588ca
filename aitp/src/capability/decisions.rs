//! AITP-02 Decisions: an agent asks (`request_decision`), the other side answers (`decision`).
//!
//! Schema: `https://aitp.dev/capabilities/aitp-02-decisions/v1.0.0/schema.json` (open objects,
//! except the closed `decision.options[]`). Live on NEAR AI, so parsing tolerates what its
//! agents wrote: a missing `id`, `"type": "product"`, numeric option ids. [`Validate`] reports
//! those as schema violations.
//!
//! ```
//! use aitp::capability::decisions::{DecisionOption, RequestDecision};
//!
//! let request = RequestDecision::products(
//!     "socks",
//!     [DecisionOption::new("red", "Red socks").description("Wool, size 42")],
//! )
//! .title("Which socks?")
//! .build();
//! let decision = request.choose(["red"]);
//! assert_eq!(decision.request_decision_id.as_deref(), Some("socks"));
//! assert_eq!(decision.options[0].name.as_deref(), Some("Red socks"));
//! ```

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use serde_json::{Map, Number, Value};

use crate::{
    CapabilityMessage, OpenDeserialize,
    capability::transactions::Quote,
    validate::{Validate, Validator, check_enum},
};

wire_enum! {
    /// How a decision is presented, and how many options may be chosen.
    #[derive(Default)]
    pub enum DecisionType : schema("DecisionType", default = "radio", "How the decision is presented: `radio` (one choice, the default), `checkbox` (several), `confirmation` (yes/no) or `products` (product cards).") {
        /// One option (the default when `type` is absent).
        #[default]
        Radio = "radio",
        /// Any number of options.
        Checkbox = "checkbox",
        /// A yes/no style question: one option.
        Confirmation = "confirmation",
        /// Product cards; options may carry quotes, ratings and variants.
        Products = "products",
    }
}

impl DecisionType {
    /// Whether more than one option may be chosen.
    pub fn is_multiple(&self) -> bool {
        matches!(self, Self::Checkbox | Self::Products)
    }
}

/// An option id. The schema says string; NEAR AI's examples used numbers, which are read and
/// written back unchanged (and reported by [`Validate`]).
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum OptionId {
    /// A string id, as the schema demands.
    String(String),
    /// A numeric id, as some agents sent.
    Number(Number),
}

impl OptionId {
    /// The id as text (numbers in their JSON form).
    pub fn as_str(&self) -> &str {
        match self {
            Self::String(s) => s,
            Self::Number(n) => n.as_str(),
        }
    }
}

impl fmt::Debug for OptionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::String(s) => fmt::Debug::fmt(s, f),
            Self::Number(n) => write!(f, "{n}"),
        }
    }
}

impl fmt::Display for OptionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for OptionId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for OptionId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl From<&str> for OptionId {
    fn from(s: &str) -> Self {
        Self::String(s.to_owned())
    }
}

impl From<String> for OptionId {
    fn from(s: String) -> Self {
        Self::String(s)
    }
}

impl Serialize for OptionId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::String(v) => s.serialize_str(v),
            Self::Number(n) => n.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for OptionId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(Self::String(s)),
            Value::Number(n) => Ok(Self::Number(n)),
            other => Err(de::Error::invalid_type(
                crate::json::unexpected(&other),
                &"a string (or number) option id",
            )),
        }
    }
}

impl JsonSchema for OptionId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "OptionId".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string" })
    }
}

/// `request_decision`: asks the other side to choose among options.
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema, CapabilityMessage)]
#[aitp(
    capability = "https://aitp.dev/capabilities/aitp-02-decisions/v1.0.0/schema.json",
    key = "request_decision",
    builtin,
    validate
)]
#[non_exhaustive]
#[schemars(title = "RequestDecision")]
pub struct RequestDecision {
    /// Identifies the request; the answer's `request_decision_id` repeats it. Required by the
    /// schema (`None` only when a peer left it out).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(required)]
    pub id: Option<String>,
    /// A short title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What the decision is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// How it is presented; absent means radio ([`RequestDecision::kind`]).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub r#type: Option<DecisionType>,
    /// The options (at least one).
    #[schemars(length(min = 1))]
    pub options: Vec<DecisionOption>,
    /// Fields the schema does not define, kept as received.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl RequestDecision {
    fn builder(
        id: impl Into<String>,
        kind: DecisionType,
        options: Vec<DecisionOption>,
    ) -> RequestDecisionBuilder {
        RequestDecisionBuilder {
            inner: RequestDecision {
                id: Some(id.into()),
                title: None,
                description: None,
                r#type: Some(kind),
                options,
                extra: Map::new(),
            },
        }
    }

    /// A single choice among `options` (strings become options whose id is also the name).
    pub fn radio<O: Into<DecisionOption>>(
        id: impl Into<String>,
        options: impl IntoIterator<Item = O>,
    ) -> RequestDecisionBuilder {
        Self::builder(
            id,
            DecisionType::Radio,
            options.into_iter().map(Into::into).collect(),
        )
    }

    /// Any number of choices among `options`.
    pub fn checkbox<O: Into<DecisionOption>>(
        id: impl Into<String>,
        options: impl IntoIterator<Item = O>,
    ) -> RequestDecisionBuilder {
        Self::builder(
            id,
            DecisionType::Checkbox,
            options.into_iter().map(Into::into).collect(),
        )
    }

    /// A yes/no question: `question` becomes the description, with options `yes` and `no`.
    pub fn confirmation(
        id: impl Into<String>,
        question: impl Into<String>,
    ) -> RequestDecisionBuilder {
        Self::builder(
            id,
            DecisionType::Confirmation,
            vec![
                DecisionOption::new("yes", "Yes"),
                DecisionOption::new("no", "No"),
            ],
        )
        .description(question)
    }

    /// Product cards: options with descriptions, images, quotes, ratings, variants.
    pub fn products(
        id: impl Into<String>,
        products: impl IntoIterator<Item = DecisionOption>,
    ) -> RequestDecisionBuilder {
        Self::builder(id, DecisionType::Products, products.into_iter().collect())
    }

    /// How the decision is presented (`radio` when `type` is absent).
    pub fn kind(&self) -> DecisionType {
        self.r#type.clone().unwrap_or_default()
    }

    /// The option (or variant) with this id.
    pub fn option(&self, id: &str) -> Option<&DecisionOption> {
        self.options.iter().find_map(|o| {
            if o.id == id {
                Some(o)
            } else {
                o.variants.iter().flatten().find(|v| v.id == id)
            }
        })
    }

    /// The answer choosing the options (or variants) with these ids; names are copied from
    /// the request, and `request_decision_id` is set so the answer can be correlated.
    pub fn choose<S: AsRef<str>>(&self, ids: impl IntoIterator<Item = S>) -> Decision {
        let options = ids
            .into_iter()
            .map(|id| {
                let id = id.as_ref();
                let found = self.option(id);
                SelectedOption {
                    id: found.map(|o| o.id.clone()).unwrap_or_else(|| id.into()),
                    name: found.and_then(|o| o.name.clone()),
                    quantity: None,
                    extra: Map::new(),
                }
            })
            .collect();
        Decision {
            request_decision_id: self.id.clone(),
            options,
            extra: Map::new(),
        }
    }
}

impl Validate for RequestDecision {
    fn check(&self, v: &mut Validator) {
        v.required("id", &self.id);
        if let Some(t) = &self.r#type {
            check_enum(
                v,
                "type",
                t.as_str(),
                &["products", "checkbox", "radio", "confirmation"],
            );
        }
        v.min_items("options", &self.options, 1);
        v.field("options", |v| {
            for (i, o) in self.options.iter().enumerate() {
                v.index(i, |v| o.check_at(v, true));
            }
        });
    }
}

/// Builds a [`RequestDecision`]; start from [`RequestDecision::radio`] and its siblings.
#[derive(Debug, Clone)]
#[must_use = "call .build() to get the RequestDecision"]
pub struct RequestDecisionBuilder {
    inner: RequestDecision,
}

impl RequestDecisionBuilder {
    /// Sets the title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.inner.title = Some(title.into());
        self
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.inner.description = Some(description.into());
        self
    }

    /// Adds an option.
    pub fn option(mut self, option: impl Into<DecisionOption>) -> Self {
        self.inner.options.push(option.into());
        self
    }

    /// The request.
    pub fn build(self) -> RequestDecision {
        self.inner
    }
}

/// The longest `five_star_rating` accepted, in characters of its JSON number.
const MAX_RATING_CHARS: usize = 64;

/// Whether a JSON number (as written) is from 0 to 5, in one pass over its text: a peer's
/// rating may have a million digits, and parsing it as a decimal costs the square of that.
fn zero_to_five(text: &str) -> bool {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, "0"),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = || int.bytes().chain(frac.bytes());
    if !digits().all(|b| b.is_ascii_digit()) {
        return false;
    }
    // The first digit that is not zero; none: the number is zero.
    let Some(first) = digits().position(|b| b != b'0') else {
        return true;
    };
    if negative {
        return false;
    }
    // That digit's power of ten: the point sits after `int.len() + exponent` digits. An
    // exponent too long for i64 is decided by its sign alone.
    let exponent = match exponent.parse::<i64>() {
        Ok(e) => e,
        Err(_) => return exponent.starts_with('-'),
    };
    let power = (int.len() as i64)
        .saturating_add(exponent)
        .saturating_sub(first as i64 + 1);
    match power {
        p if p < 0 => true,
        0 => match digits().nth(first) {
            Some(d) if d < b'5' => true,
            Some(b'5') => digits().skip(first + 1).all(|b| b == b'0'),
            _ => false,
        },
        _ => false,
    }
}

/// One option of a [`RequestDecision`]; also used for its variants (one level deep).
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema)]
#[non_exhaustive]
pub struct DecisionOption {
    /// Identifies the option within the request.
    pub id: OptionId,
    /// Display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A short name for this variant (products).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub short_variant_name: Option<String>,
    /// An image of the option.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(url)]
    pub image_url: Option<String>,
    /// Longer description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The price, as a quote in the legacy Transactions shape (`type: "Quote"`,
    /// `payment_plans`), not an AITP-01 quote.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quote: Option<Quote>,
    /// Number of reviews.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviews_count: Option<u64>,
    /// Rating from 0 to 5, exactly as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 5), with = "Option<f64>")]
    pub five_star_rating: Option<Number>,
    /// A page about the option.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(url)]
    pub url: Option<String>,
    /// Variants of the option (size, colour …); variants have no variants of their own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variants: Option<Vec<DecisionOption>>,
    /// Fields the schema does not define, kept as received.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl DecisionOption {
    /// An option with an id and a display name.
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            id: OptionId::String(id.into()),
            name: Some(name.into()),
            short_variant_name: None,
            image_url: None,
            description: None,
            quote: None,
            reviews_count: None,
            five_star_rating: None,
            url: None,
            variants: None,
            extra: Map::new(),
        }
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Sets the image URL.
    pub fn image_url(mut self, url: impl Into<String>) -> Self {
        self.image_url = Some(url.into());
        self
    }

    /// Sets the page URL.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// Sets the price quote.
    pub fn quote(mut self, quote: Quote) -> Self {
        self.quote = Some(quote);
        self
    }

    /// Sets the rating (0 to 5) and review count.
    pub fn rating(mut self, five_star_rating: Number, reviews_count: u64) -> Self {
        self.five_star_rating = Some(five_star_rating);
        self.reviews_count = Some(reviews_count);
        self
    }

    /// Adds a variant.
    pub fn variant(mut self, variant: DecisionOption) -> Self {
        self.variants.get_or_insert_with(Vec::new).push(variant);
        self
    }

    fn check_at(&self, v: &mut Validator, top: bool) {
        if let OptionId::Number(_) = self.id {
            v.field("id", |v| v.error("must be a string"));
        }
        if let Some(u) = &self.image_url {
            v.uri("image_url", u);
        }
        if let Some(u) = &self.url {
            v.uri("url", u);
        }
        if let Some(r) = &self.five_star_rating {
            // The length first: no rating needs more, and a peer's million-digit one is
            // refused at the cost of a normal one.
            if r.as_str().len() > MAX_RATING_CHARS {
                v.field("five_star_rating", |v| {
                    v.error(format!(
                        "must be a number from 0 to 5 written in at most {MAX_RATING_CHARS} characters"
                    ))
                });
            } else if !zero_to_five(r.as_str()) {
                v.field("five_star_rating", |v| {
                    v.error("must be a number from 0 to 5")
                });
            }
        }
        if let Some(q) = &self.quote {
            v.nested("quote", q);
        }
        if let Some(vs) = &self.variants {
            if top {
                v.field("variants", |v| {
                    for (i, o) in vs.iter().enumerate() {
                        v.index(i, |v| o.check_at(v, false));
                    }
                });
            } else {
                v.field("variants", |v| {
                    v.error("variants cannot have variants of their own")
                });
            }
        }
    }
}

impl From<&str> for DecisionOption {
    fn from(s: &str) -> Self {
        Self::new(s, s)
    }
}

impl From<String> for DecisionOption {
    fn from(s: String) -> Self {
        Self::new(s.clone(), s)
    }
}

impl From<(&str, &str)> for DecisionOption {
    fn from((id, name): (&str, &str)) -> Self {
        Self::new(id, name)
    }
}

/// `decision`: the options chosen in answer to a [`RequestDecision`].
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema, CapabilityMessage)]
#[aitp(
    capability = "https://aitp.dev/capabilities/aitp-02-decisions/v1.0.0/schema.json",
    key = "decision",
    builtin,
    validate
)]
#[non_exhaustive]
#[schemars(title = "Decision")]
pub struct Decision {
    /// The `id` of the request answered. Optional in the schema, but how answers are
    /// correlated: the builders always set it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_decision_id: Option<String>,
    /// The chosen options (at least one).
    #[schemars(length(min = 1))]
    pub options: Vec<SelectedOption>,
    /// Fields the schema does not define, kept as received.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl Decision {
    /// An answer to the request `request_decision_id` choosing `options`.
    pub fn new(
        request_decision_id: impl Into<String>,
        options: impl IntoIterator<Item = SelectedOption>,
    ) -> Self {
        Self {
            request_decision_id: Some(request_decision_id.into()),
            options: options.into_iter().collect(),
            extra: Map::new(),
        }
    }

    /// The ids of the chosen options.
    pub fn chosen_ids(&self) -> impl Iterator<Item = &str> {
        self.options.iter().map(|o| o.id.as_str())
    }
}

impl Validate for Decision {
    fn check(&self, v: &mut Validator) {
        v.min_items("options", &self.options, 1);
        v.field("options", |v| {
            for (i, o) in self.options.iter().enumerate() {
                v.index(i, |v| {
                    if let OptionId::Number(_) = o.id {
                        v.field("id", |v| v.error("must be a string"));
                    }
                    v.closed(&o.extra);
                });
            }
        });
    }
}

/// One chosen option of a [`Decision`]. The schema closes this object: only `id`, `name` and
/// `quantity`.
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema)]
#[non_exhaustive]
#[schemars(extend("additionalProperties" = false))]
pub struct SelectedOption {
    /// The chosen option's id.
    pub id: OptionId,
    /// Its name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// How many (products), exactly as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<f64>")]
    pub quantity: Option<Number>,
    /// Fields the schema does not allow, kept as received (and reported by validation).
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl SelectedOption {
    /// The option `id`.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: OptionId::String(id.into()),
            name: None,
            quantity: None,
            extra: Map::new(),
        }
    }

    /// Sets the name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the quantity.
    pub fn quantity(mut self, quantity: u64) -> Self {
        self.quantity = Some(quantity.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings_from_zero_to_five_in_one_pass() {
        for ok in [
            "0",
            "-0",
            "0.0",
            "5",
            "5.0",
            "5.000",
            "4.99",
            "0.001",
            "5e0",
            "50e-1",
            "0.5e1",
            "1e-999",
            "1e-99999999999999999999",
            "4.5E+0",
            "-0.0e5",
        ] {
            assert!(zero_to_five(ok), "{ok}");
        }
        for bad in [
            "5.01",
            "6",
            "10",
            "-1",
            "-0.1",
            "5.0000001",
            "0.6e1",
            "1e1",
            "1e99999999999999999999",
            "50",
            "5e1",
        ] {
            assert!(!zero_to_five(bad), "{bad}");
        }
        // Agrees with an exact decimal comparison, on numbers of every shape.
        for text in [
            "4.999999",
            "5.000000000000000000001",
            "0.00000000000000000000049e22",
        ] {
            let exact = text.parse::<bigdecimal::BigDecimal>().is_ok_and(|d| {
                (bigdecimal::BigDecimal::from(0)..=bigdecimal::BigDecimal::from(5)).contains(&d)
            });
            assert_eq!(zero_to_five(text), exact, "{text}");
        }
        // A 900k-digit rating is read once.
        let long = format!("4.{}", "9".repeat(900_000));
        assert!(zero_to_five(&long));
        let over = format!("5.{}1", "0".repeat(900_000));
        assert!(!zero_to_five(&over));
        // validate() refuses it by its length before reading it.
        let json = format!(
            r#"{{"id": "p", "type": "products", "options": [{{"id": "a", "five_star_rating": {long}}}]}}"#
        );
        let r: RequestDecision = serde_json::from_str(&json).unwrap();
        let e = r.validate().unwrap_err();
        assert!(e.to_string().contains("at most 64 characters"), "{e}");
        let r: RequestDecision = serde_json::from_str(
            r#"{"id": "p", "type": "products", "options": [{"id": "a", "five_star_rating": 4.5}]}"#,
        )
        .unwrap();
        assert!(r.validate().is_ok());
    }

    #[test]
    fn builders_write_the_schema_shape() {
        let r = RequestDecision::confirmation("c1", "Proceed?")
            .title("Confirm")
            .build();
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["type"], "confirmation");
        assert_eq!(v["options"][0]["id"], "yes");
        assert!(r.validate().is_ok());
        let d = r.choose(["yes"]);
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            serde_json::json!({"request_decision_id": "c1", "options": [{"id": "yes", "name": "Yes"}]})
        );
    }

    #[test]
    fn tolerant_then_validated() {
        let v = serde_json::json!({
            "type": "product",
            "options": [{"id": 1, "name": "Red", "price": {"usd": 10.5}}]
        });
        let r: RequestDecision = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(&r).unwrap(), v);
        let err = r.validate().unwrap_err();
        assert!(err.has_path("request_decision.id"), "{err}");
        assert!(err.has_path("request_decision.type"), "{err}");
        assert!(err.has_path("request_decision.options[0].id"), "{err}");
    }

    #[test]
    fn decision_options_are_closed() {
        let d: Decision = serde_json::from_value(serde_json::json!({
            "options": [{"id": "a", "colour": "red"}]
        }))
        .unwrap();
        let err = d.validate().unwrap_err();
        assert!(err.has_path("decision.options[0].colour"), "{err}");
        let empty: Decision = serde_json::from_value(serde_json::json!({"options": []})).unwrap();
        assert!(empty.validate().unwrap_err().has_path("decision.options"));
    }
}
