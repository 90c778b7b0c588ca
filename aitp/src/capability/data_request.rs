//! AITP-03 Data Request: an agent asks for a form to be filled (`request_data`), the other side
//! answers with the values (`data`).
//!
//! Schema: `https://aitp.dev/capabilities/aitp-03-data-request/v1.0.0/schema.json`, open at
//! every level (unknown fields are allowed, kept, and not reported). Live on NEAR AI, so
//! parsing also reads what its UI produced: select `options` as `{label, value}` objects and
//! numeric field values. [`Validate`] reports those as schema violations, and adds one rule
//! the docs state but the schema does not encode: a form needs `fields` or `json_url`.
//!
//! Whether a `data` answer fits its request (required fields, email/number/tel formats, select
//! values) is not a schema question: [`RequestData::check_response`] applies the docs' rules.
//!
//! ```
//! use aitp::capability::data_request::{FormField, RequestData};
//!
//! let request = RequestData::form(
//!     "contact",
//!     "How can we reach you?",
//!     [
//!         FormField::text("name", "Full name").required().autocomplete("name"),
//!         FormField::email("email", "Email").required(),
//!     ],
//! )
//! .title("Contact details");
//! let data = request.respond([("name", "Ada"), ("email", "ada@example.com")]);
//! assert_eq!(data.request_data_id.as_deref(), Some("contact"));
//! assert_eq!(data.fields[1].label.as_deref(), Some("Email"));
//! assert!(request.check_response(&data).is_ok());
//! ```

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use serde_json::{Map, Number, Value};

use crate::{
    CapabilityMessage, OpenDeserialize,
    json::unexpected,
    validate::{Validate, ValidationErrors, Validator, check_enum},
};

/// The field types the schema allows.
const FIELD_TYPES: &[&str] = &[
    "text", "number", "email", "textarea", "select", "combobox", "tel",
];

/// `request_data`: asks the other side to fill in a form.
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema, CapabilityMessage)]
#[aitp(
    capability = "https://aitp.dev/capabilities/aitp-03-data-request/v1.0.0/schema.json",
    key = "request_data",
    builtin,
    validate
)]
#[non_exhaustive]
#[schemars(title = "RequestData")]
pub struct RequestData {
    /// Identifies the request; the answer's `request_data_id` repeats it.
    pub id: String,
    /// A short title for the form.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What is asked for and why (required, unlike AITP-02's description).
    pub description: String,
    /// The label of the button that opens the form; absent means "Fill out form"
    /// ([`RequestData::button_label`]). The only camelCase field in AITP.
    #[serde(rename = "fillButtonLabel", skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Fill out form"))]
    pub fill_button_label: Option<String>,
    /// The form: inline fields, or a URL of a form definition.
    pub form: Form,
    /// Fields the schema does not define, kept as received.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl RequestData {
    /// A request for a form with these inline `fields`.
    pub fn form(
        id: impl Into<String>,
        description: impl Into<String>,
        fields: impl IntoIterator<Item = FormField>,
    ) -> Self {
        Self::with_form(id, description, Form::fields(fields))
    }

    /// A request for a form defined by the document at `json_url` (same shape as [`Form`]).
    ///
    /// The SDK never fetches it on its own (a URL in a peer's message is data, not an
    /// invitation to make requests); [`RequestData::check_response`] can check only inline
    /// fields.
    pub fn external(
        id: impl Into<String>,
        description: impl Into<String>,
        json_url: impl Into<String>,
    ) -> Self {
        Self::with_form(id, description, Form::external(json_url))
    }

    /// A request for any [`Form`].
    pub fn with_form(id: impl Into<String>, description: impl Into<String>, form: Form) -> Self {
        Self {
            id: id.into(),
            title: None,
            description: description.into(),
            fill_button_label: None,
            form,
            extra: Map::new(),
        }
    }

    /// Sets the title.
    #[must_use]
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Sets the label of the button that opens the form.
    #[must_use]
    pub fn fill_button_label(mut self, label: impl Into<String>) -> Self {
        self.fill_button_label = Some(label.into());
        self
    }

    /// The button label, with the schema's default when absent.
    pub fn button_label(&self) -> &str {
        self.fill_button_label.as_deref().unwrap_or("Fill out form")
    }

    /// The inline field with this id.
    pub fn field(&self, id: &str) -> Option<&FormField> {
        self.form.fields.iter().flatten().find(|f| f.id == id)
    }

    /// The answer giving these `(field id, value)` pairs: labels are copied from the form, and
    /// `request_data_id` is set so the answer can be correlated.
    pub fn respond<K, V>(&self, values: impl IntoIterator<Item = (K, V)>) -> Data
    where
        K: Into<String>,
        V: Into<String>,
    {
        let fields = values
            .into_iter()
            .map(|(id, value)| {
                let id = id.into();
                let label = self.field(&id).and_then(|f| f.label.clone());
                DataField {
                    id,
                    label,
                    value: Some(FieldValue::String(value.into())),
                    extra: Map::new(),
                }
            })
            .collect();
        Data {
            request_data_id: Some(self.id.clone()),
            fields,
            extra: Map::new(),
        }
    }

    /// Checks that `data` is an acceptable answer to this request, by the docs' validation
    /// rules (not part of the schema): it answers this request (when it says which), every
    /// `required` field has a non-empty value, `email`, `number` and `tel` values look like
    /// one, and `select` values are among the options (`combobox` allows custom values).
    ///
    /// Only inline fields are checked: fields of a `json_url` form are unknown here. Values
    /// for fields the form does not define are accepted. Paths start with `data`.
    pub fn check_response(&self, data: &Data) -> Result<(), ValidationErrors> {
        let mut v = Validator::new();
        v.field("data", |v| {
            if let Some(rid) = &data.request_data_id {
                if *rid != self.id {
                    v.field("request_data_id", |v| {
                        v.error(format!("answers request {rid:?}, not {:?}", self.id))
                    });
                }
            }
            for field in self.form.fields.iter().flatten() {
                let found = data
                    .fields
                    .iter()
                    .enumerate()
                    .find(|(_, d)| d.id == field.id);
                let Some((i, answer)) = found else {
                    if field.is_required() {
                        v.field("fields", |v| {
                            v.error(format!("required field {:?} is missing", field.id))
                        });
                    }
                    continue;
                };
                let value = answer.value.as_ref().map(FieldValue::as_str).unwrap_or("");
                v.field("fields", |v| {
                    v.index(i, |v| field.check_value(v, answer.value.as_ref(), value))
                });
            }
        });
        v.finish()
    }
}

impl Validate for RequestData {
    fn check(&self, v: &mut Validator) {
        v.nested("form", &self.form);
    }
}

/// The form of a [`RequestData`]: inline `fields`, a `json_url` pointing at a document of the
/// same shape, or both (NEAR AI's UI then shows the fetched fields first).
///
/// The docs require at least one of the two; the official schema does not encode that rule
/// (it accepts `"form": {}`), so neither does the JSON Schema generated here, but
/// [`Validate`] reports a form with neither.
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema)]
#[non_exhaustive]
pub struct Form {
    /// The fields (at least one when present).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub fields: Option<Vec<FormField>>,
    /// A URL of a form definition (`{"fields": [...]}`). Never fetched by the SDK on its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(url)]
    pub json_url: Option<String>,
    /// Fields the schema does not define, kept as received.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl Form {
    /// A form with these inline fields.
    pub fn fields(fields: impl IntoIterator<Item = FormField>) -> Self {
        Self {
            fields: Some(fields.into_iter().collect()),
            json_url: None,
            extra: Map::new(),
        }
    }

    /// A form defined by the document at `json_url`.
    pub fn external(json_url: impl Into<String>) -> Self {
        Self {
            fields: None,
            json_url: Some(json_url.into()),
            extra: Map::new(),
        }
    }
}

impl Validate for Form {
    fn check(&self, v: &mut Validator) {
        if self.fields.is_none() && self.json_url.is_none() {
            v.error("needs `fields` or `json_url` (a rule of the AITP-03 docs)");
        }
        if let Some(fields) = &self.fields {
            v.min_items("fields", fields, 1);
            v.nested("fields", fields);
        }
        if let Some(url) = &self.json_url {
            v.uri("json_url", url);
        }
    }
}

wire_enum! {
    /// The input type of a [`FormField`].
    #[derive(Default)]
    pub enum FieldType : schema("FieldType", default = "text", "How the field is presented and what its value must look like: `text` (the default), `number`, `email`, `textarea`, `select` (one of the options), `combobox` (an option or a custom value) or `tel`.") {
        /// A single-line text input (the default when `type` is absent).
        #[default]
        Text = "text",
        /// A numeric input.
        Number = "number",
        /// An email address.
        Email = "email",
        /// Multi-line text.
        Textarea = "textarea",
        /// One of the `options`.
        Select = "select",
        /// One of the `options`, or a custom value.
        Combobox = "combobox",
        /// A telephone number.
        Tel = "tel",
    }
}

/// One field of a [`Form`].
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema)]
#[non_exhaustive]
pub struct FormField {
    /// Identifies the field; the answer's [`DataField::id`] repeats it.
    pub id: String,
    /// Display label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Help text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The value filled in beforehand.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_value: Option<String>,
    /// The input type; absent means text ([`FormField::kind`]).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub r#type: Option<FieldType>,
    /// The choices of a `select` or `combobox` field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<FieldOption>>,
    /// Whether a value must be given; absent means no ([`FormField::is_required`]).
    #[serde(rename = "required", skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = false))]
    pub required: Option<bool>,
    /// An HTML autocomplete token (`name`, `email`, `postal-code`, `cc-number` …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autocomplete: Option<String>,
    /// Fields the schema does not define, kept as received.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl FormField {
    /// A field of type `kind`.
    pub fn new(id: impl Into<String>, label: impl Into<String>, kind: FieldType) -> Self {
        Self {
            id: id.into(),
            label: Some(label.into()),
            description: None,
            default_value: None,
            r#type: Some(kind),
            options: None,
            required: None,
            autocomplete: None,
            extra: Map::new(),
        }
    }

    /// A single-line text field.
    pub fn text(id: impl Into<String>, label: impl Into<String>) -> Self {
        Self::new(id, label, FieldType::Text)
    }

    /// A multi-line text field.
    pub fn textarea(id: impl Into<String>, label: impl Into<String>) -> Self {
        Self::new(id, label, FieldType::Textarea)
    }

    /// An email address field.
    pub fn email(id: impl Into<String>, label: impl Into<String>) -> Self {
        Self::new(id, label, FieldType::Email)
    }

    /// A numeric field.
    pub fn number(id: impl Into<String>, label: impl Into<String>) -> Self {
        Self::new(id, label, FieldType::Number)
    }

    /// A telephone number field.
    pub fn tel(id: impl Into<String>, label: impl Into<String>) -> Self {
        Self::new(id, label, FieldType::Tel)
    }

    /// A choice of one of `options`.
    pub fn select<O: Into<String>>(
        id: impl Into<String>,
        label: impl Into<String>,
        options: impl IntoIterator<Item = O>,
    ) -> Self {
        let mut f = Self::new(id, label, FieldType::Select);
        f.options = Some(
            options
                .into_iter()
                .map(|o| FieldOption::Plain(o.into()))
                .collect(),
        );
        f
    }

    /// A choice of one of `options`, or a custom value.
    pub fn combobox<O: Into<String>>(
        id: impl Into<String>,
        label: impl Into<String>,
        options: impl IntoIterator<Item = O>,
    ) -> Self {
        let mut f = Self::select(id, label, options);
        f.r#type = Some(FieldType::Combobox);
        f
    }

    /// Marks the field as required.
    #[must_use]
    pub fn required(mut self) -> Self {
        self.required = Some(true);
        self
    }

    /// Sets the HTML autocomplete token.
    #[must_use]
    pub fn autocomplete(mut self, token: impl Into<String>) -> Self {
        self.autocomplete = Some(token.into());
        self
    }

    /// Sets the default value.
    #[must_use]
    pub fn default_value(mut self, value: impl Into<String>) -> Self {
        self.default_value = Some(value.into());
        self
    }

    /// Sets the help text.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// The input type (`text` when `type` is absent).
    pub fn kind(&self) -> FieldType {
        self.r#type.clone().unwrap_or_default()
    }

    /// Whether a value must be given (`false` when `required` is absent).
    pub fn is_required(&self) -> bool {
        self.required.unwrap_or(false)
    }

    /// Checks one answer against this field (the docs' rules), at the answer's path.
    fn check_value(&self, v: &mut Validator, raw: Option<&FieldValue>, value: &str) {
        if value.trim().is_empty() {
            if self.is_required() {
                v.field("value", |v| {
                    v.error(format!("field {:?} is required", self.id))
                });
            }
            return;
        }
        let problem = match self.kind() {
            FieldType::Email if !looks_like_email(value) => Some("must be an email address"),
            FieldType::Number
                if !matches!(raw, Some(FieldValue::Number(_))) && !looks_like_number(value) =>
            {
                Some("must be a number")
            }
            FieldType::Tel if !looks_like_phone(value) => Some("must be a telephone number"),
            FieldType::Select if !self.options.iter().flatten().any(|o| o.value() == value) => {
                Some("must be one of the field's options")
            }
            _ => None,
        };
        if let Some(p) = problem {
            v.field("value", |v| v.error(format!("{p}, got {value:?}")));
        }
    }
}

impl Validate for FormField {
    fn check(&self, v: &mut Validator) {
        if let Some(t) = &self.r#type {
            check_enum(v, "type", t.as_str(), FIELD_TYPES);
        }
        if let Some(options) = &self.options {
            v.field("options", |v| {
                for (i, o) in options.iter().enumerate() {
                    if let FieldOption::Labeled(_) = o {
                        v.index(i, |v| {
                            v.error(
                                "must be a string (the {label, value} form is a NEAR AI extension)",
                            )
                        });
                    }
                }
            });
        }
    }
}

/// An option of a `select` or `combobox` field: a string, as the schema says, or NEAR AI's
/// `{label, value}` object, read so its forms parse (and reported by [`Validate`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FieldOption {
    /// A plain string: both what is shown and the value.
    Plain(String),
    /// NEAR AI's labelled option.
    Labeled(LabeledOption),
}

impl FieldOption {
    /// The value an answer carries when this option is chosen.
    pub fn value(&self) -> &str {
        match self {
            Self::Plain(s) => s,
            Self::Labeled(o) => &o.value,
        }
    }

    /// What is shown for the option.
    pub fn label(&self) -> &str {
        match self {
            Self::Plain(s) => s,
            Self::Labeled(o) => &o.label,
        }
    }
}

impl From<&str> for FieldOption {
    fn from(s: &str) -> Self {
        Self::Plain(s.to_owned())
    }
}

impl From<String> for FieldOption {
    fn from(s: String) -> Self {
        Self::Plain(s)
    }
}

impl Serialize for FieldOption {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Plain(v) => s.serialize_str(v),
            Self::Labeled(o) => o.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for FieldOption {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = FieldOption;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string option (or a {label, value} object)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FieldOption, E> {
                Ok(FieldOption::Plain(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<FieldOption, E> {
                Ok(FieldOption::Plain(v))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<FieldOption, A::Error> {
                LabeledOption::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(FieldOption::Labeled)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for FieldOption {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FieldOption".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string" })
    }
}

/// NEAR AI's `{label, value}` option (not in the official schema).
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema)]
#[non_exhaustive]
pub struct LabeledOption {
    /// What is shown.
    pub label: String,
    /// What an answer carries.
    pub value: String,
    /// Other fields, kept as received.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl LabeledOption {
    /// An option showing `label` whose value is `value`.
    pub fn new(label: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            value: value.into(),
            extra: Map::new(),
        }
    }
}

/// `data`: the values filled in, answering a [`RequestData`].
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema, CapabilityMessage)]
#[aitp(
    capability = "https://aitp.dev/capabilities/aitp-03-data-request/v1.0.0/schema.json",
    key = "data",
    builtin,
    validate
)]
#[non_exhaustive]
#[schemars(title = "Data")]
pub struct Data {
    /// The `id` of the request answered. Optional in the schema, but how answers are
    /// correlated: the builders always set it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_data_id: Option<String>,
    /// The values (at least one).
    #[schemars(length(min = 1))]
    pub fields: Vec<DataField>,
    /// Fields the schema does not define, kept as received.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl Data {
    /// An answer to the request `request_data_id`.
    pub fn new(
        request_data_id: impl Into<String>,
        fields: impl IntoIterator<Item = DataField>,
    ) -> Self {
        Self {
            request_data_id: Some(request_data_id.into()),
            fields: fields.into_iter().collect(),
            extra: Map::new(),
        }
    }

    /// The value given for the field `id` (numbers in their JSON form).
    pub fn get(&self, id: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| f.id == id)
            .and_then(|f| f.value.as_ref())
            .map(FieldValue::as_str)
    }
}

impl Validate for Data {
    fn check(&self, v: &mut Validator) {
        v.min_items("fields", &self.fields, 1);
        v.field("fields", |v| {
            for (i, f) in self.fields.iter().enumerate() {
                if let Some(FieldValue::Number(_)) = f.value {
                    v.index(i, |v| v.field("value", |v| v.error("must be a string")));
                }
            }
        });
    }
}

/// One value of a [`Data`] answer.
#[derive(Debug, Clone, PartialEq, Serialize, OpenDeserialize, JsonSchema)]
#[non_exhaustive]
pub struct DataField {
    /// The id of the form field answered.
    pub id: String,
    /// The field's label, for people reading the thread.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The value: a string, even for number fields (`"7"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<FieldValue>,
    /// Fields the schema does not define, kept as received.
    #[serde(flatten)]
    #[schemars(skip)]
    pub extra: Map<String, Value>,
}

impl DataField {
    /// The value `value` for the field `id`.
    pub fn new(id: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            label: None,
            value: Some(FieldValue::String(value.into())),
            extra: Map::new(),
        }
    }

    /// Sets the label.
    #[must_use]
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }
}

/// A field value. The schema says string; a number some peers send is read and written back
/// exactly as received (and reported by [`Validate`]).
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum FieldValue {
    /// A string, as the schema demands.
    String(String),
    /// A JSON number, kept digit-exact.
    Number(Number),
}

impl FieldValue {
    /// The value as text (numbers in their JSON form).
    pub fn as_str(&self) -> &str {
        match self {
            Self::String(s) => s,
            Self::Number(n) => n.as_str(),
        }
    }
}

impl fmt::Debug for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::String(s) => fmt::Debug::fmt(s, f),
            Self::Number(n) => write!(f, "{n}"),
        }
    }
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for FieldValue {
    fn from(s: &str) -> Self {
        Self::String(s.to_owned())
    }
}

impl From<String> for FieldValue {
    fn from(s: String) -> Self {
        Self::String(s)
    }
}

impl Serialize for FieldValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::String(v) => s.serialize_str(v),
            Self::Number(n) => n.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for FieldValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(Self::String(s)),
            Value::Number(n) => Ok(Self::Number(n)),
            other => Err(de::Error::invalid_type(
                unexpected(&other),
                &"a string (or number) field value",
            )),
        }
    }
}

impl JsonSchema for FieldValue {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "FieldValue".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string" })
    }
}

/// The docs' email rule, `^[^\s@]+@[^\s@]+\.[^\s@]+$`, without a regex engine.
fn looks_like_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let clean = |p: &str| !p.is_empty() && !p.contains('@') && !p.chars().any(char::is_whitespace);
    clean(local)
        && clean(domain)
        && domain
            .char_indices()
            .any(|(i, c)| c == '.' && i > 0 && i + 1 < domain.len())
}

/// A decimal number as an HTML number input gives it: `-12`, `3.5`, `.5`, `1e3`.
fn looks_like_number(s: &str) -> bool {
    let s = s.trim();
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = digits(int)
        && frac.is_none_or(digits)
        && !(int.is_empty() && frac.is_none_or(str::is_empty));
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}

/// A telephone number: digits with the usual separators (space, `-`, `.`, parentheses), an
/// optional leading `+`, and 3 to 15 digits (E.164's maximum).
fn looks_like_phone(s: &str) -> bool {
    let s = s.trim();
    let body = s.strip_prefix('+').unwrap_or(s);
    let allowed = body
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')'));
    let digits = body.chars().filter(char::is_ascii_digit).count();
    allowed && (3..=15).contains(&digits)
}

/// DataRequest as a type (declared in the registry with the other built-in capabilities).
pub use super::registry::DataRequest;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::{AitpCapability, Body, Envelope};

    const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/spec/vectors");
    const SCHEMA: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/spec/aitp/schemas/capabilities/aitp-03-data-request/v1.0.0/schema.json"
    );

    fn vectors() -> Vec<(String, String)> {
        let mut out: Vec<_> = std::fs::read_dir(VECTORS)
            .expect("vector directory")
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let name = p.file_name().unwrap().to_str().unwrap();
                name.starts_with("aitp-03-") && name.ends_with(".json")
            })
            .map(|p| {
                let text = std::fs::read_to_string(&p).unwrap();
                (p.file_name().unwrap().to_str().unwrap().to_owned(), text)
            })
            .collect();
        out.sort();
        out
    }

    fn official() -> jsonschema::Validator {
        let schema: Value =
            serde_json::from_str(&std::fs::read_to_string(SCHEMA).unwrap()).unwrap();
        jsonschema::validator_for(&schema).unwrap()
    }

    fn generated<T: JsonSchema>() -> jsonschema::Validator {
        let schema = schemars::schema_for!(T);
        jsonschema::validator_for(&serde_json::to_value(&schema).unwrap()).unwrap()
    }

    fn parse(v: &Value) -> Envelope {
        Envelope::parse(&v.to_string()).unwrap()
    }

    #[test]
    fn every_vector_parses_round_trips_and_validates() {
        let vectors = vectors();
        assert!(vectors.len() >= 15, "found only {} vectors", vectors.len());
        let (req_schema, data_schema) = (generated::<RequestData>(), generated::<Data>());
        for (name, text) in vectors {
            let original: Value = serde_json::from_str(&text).unwrap();
            let m = Envelope::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            match m.body() {
                Body::RequestData(r) => {
                    assert!(req_schema.is_valid(&original["request_data"]), "{name}");
                    assert_eq!(
                        serde_json::to_value(r).unwrap(),
                        original["request_data"],
                        "{name}"
                    );
                }
                Body::Data(d) => {
                    assert!(data_schema.is_valid(&original["data"]), "{name}");
                    assert_eq!(serde_json::to_value(d).unwrap(), original["data"], "{name}");
                }
                other => panic!("{name}: parsed as {other:?}"),
            }
            assert_eq!(
                m.body().aitp_capability(),
                Some(AitpCapability::DataRequest)
            );
            assert_eq!(m.to_value(), original, "{name}: round trip");
            m.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn vector_answers_fit_their_requests() {
        let vectors = vectors();
        let find = |n: &str| {
            let (_, t) = vectors.iter().find(|(name, _)| name == n).unwrap();
            Envelope::parse(t).unwrap()
        };
        for (req, data) in [
            (
                "aitp-03-request_data-5aabab1d.json",
                "aitp-03-data-5aabab1d.json",
            ),
            (
                "aitp-03-request_data-registration-step1.json",
                "aitp-03-data-registration-step1.json",
            ),
            (
                "aitp-03-request_data-registration-step2.json",
                "aitp-03-data-registration-step2.json",
            ),
            (
                "aitp-03-request_data-user-preferences.json",
                "aitp-03-data-user-preferences.json",
            ),
        ] {
            let r = find(req).message::<RequestData>().unwrap().unwrap();
            let d = find(data).message::<Data>().unwrap().unwrap();
            r.check_response(&d)
                .unwrap_or_else(|e| panic!("{data}: {e}"));
        }
    }

    #[test]
    fn broken_requests_name_the_path() {
        let official = official();
        let base = serde_json::json!({
            "$schema": "https://aitp.dev/capabilities/aitp-03-data-request/v1.0.0/schema.json",
            "request_data": {
                "id": "f", "description": "d",
                "form": {"fields": [{"id": "a", "type": "select", "options": ["x", "y"]}]}
            }
        });
        assert!(parse(&base).validate().is_ok());
        let cases: [(&str, Value, &str, bool); 5] = [
            (
                "/request_data/form",
                serde_json::json!({}),
                "request_data.form",
                true,
            ),
            (
                "/request_data/form/fields",
                serde_json::json!([]),
                "request_data.form.fields",
                false,
            ),
            (
                "/request_data/form/fields/0/type",
                serde_json::json!("date"),
                "request_data.form.fields[0].type",
                false,
            ),
            (
                "/request_data/form/fields/0/options",
                serde_json::json!([{"label": "X", "value": "x"}, "y"]),
                "request_data.form.fields[0].options[0]",
                false,
            ),
            (
                "/request_data/form/json_url",
                serde_json::json!("not a url"),
                "request_data.form.json_url",
                true,
            ),
        ];
        let generated = generated::<RequestData>();
        for (pointer, value, path, schema_accepts) in cases {
            let mut broken = base.clone();
            match broken.pointer_mut(pointer) {
                Some(slot) => *slot = value,
                None => {
                    broken["request_data"]["form"]["json_url"] = value;
                }
            }
            let m = parse(&broken);
            assert_eq!(m.to_value(), broken, "{path}: lossless");
            let err = m.validate().unwrap_err();
            assert!(err.has_path(path), "{path}: {err}");
            // The JSON Schemas (official and generated) agree, except on the docs-only rule
            // and `format: uri`, which they do not assert.
            assert_eq!(
                official.is_valid(&broken),
                schema_accepts,
                "{path}: official"
            );
            assert_eq!(
                generated.is_valid(&broken["request_data"]),
                schema_accepts,
                "{path}: generated"
            );
        }
    }

    #[test]
    fn near_ai_labeled_options_are_read() {
        let f: FormField = serde_json::from_value(serde_json::json!({
            "id": "country", "type": "select",
            "options": [{"label": "United States", "value": "US", "flag": "us"}, "FR"]
        }))
        .unwrap();
        let options = f.options.as_ref().unwrap();
        assert_eq!(options[0].value(), "US");
        assert_eq!(options[0].label(), "United States");
        assert_eq!(options[1].value(), "FR");
        let r = RequestData::form("r", "d", [f.clone().required()]);
        assert!(r.check_response(&r.respond([("country", "US")])).is_ok());
        let err = r
            .check_response(&r.respond([("country", "United States")]))
            .unwrap_err();
        assert!(err.has_path("data.fields[0].value"), "{err}");
        assert!(
            serde_json::from_value::<FormField>(serde_json::json!({"id": "a", "options": [1]}))
                .is_err()
        );
    }

    #[test]
    fn data_numbers_and_extras_are_kept() {
        // Parsed from text: `json!` would turn 7.10 into an f64 (7.1).
        let text = r#"{"request_data_id": "r",
            "fields": [{"id": "n", "value": 7.10, "note": "typed"}], "submitted_at": 1}"#;
        let v: Value = serde_json::from_str(text).unwrap();
        let d: Data = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_value(&d).unwrap(), v);
        assert_eq!(d.get("n"), Some("7.10"));
        let err = d.validate().unwrap_err();
        assert_eq!(err.errors().len(), 1, "{err}");
        assert!(err.has_path("data.fields[0].value"), "{err}");
        let empty: Data = serde_json::from_value(serde_json::json!({"fields": []})).unwrap();
        assert!(empty.validate().unwrap_err().has_path("data.fields"));
    }

    #[test]
    fn builders_validate_against_the_official_schema() {
        let official = official();
        let form = RequestData::form(
            "signup",
            "Tell us about you",
            [
                FormField::text("name", "Name")
                    .required()
                    .autocomplete("name"),
                FormField::email("email", "Email").required(),
                FormField::number("age", "Age"),
                FormField::tel("phone", "Phone"),
                FormField::select("plan", "Plan", ["free", "pro"]).default_value("free"),
                FormField::combobox("colour", "Colour", ["red"]).description("Any colour"),
                FormField::textarea("notes", "Notes"),
            ],
        )
        .title("Sign up")
        .fill_button_label("Start");
        let external = RequestData::external("ship", "Where to?", "https://example.com/form.json");
        assert_eq!(external.button_label(), "Fill out form");
        let data = form.respond([("name", "Ada"), ("email", "ada@example.com"), ("age", "36")]);
        let by_hand = Data::new("signup", [DataField::new("name", "Ada").label("Name")]);
        for m in [
            Envelope::from(form.clone()),
            Envelope::from(external),
            Envelope::from(data.clone()),
            Envelope::from(by_hand),
        ] {
            m.validate().unwrap_or_else(|e| panic!("{m}: {e}"));
            assert!(official.is_valid(&m.to_value()), "{m}");
            assert_eq!(Envelope::parse(&m.to_json_string()).unwrap(), m);
        }
        assert_eq!(data.get("age"), Some("36"));
        assert!(form.check_response(&data).is_ok());
    }

    #[test]
    fn check_response_applies_the_docs_rules() {
        let r = RequestData::form(
            "f",
            "d",
            [
                FormField::text("name", "Name").required(),
                FormField::email("email", "Email"),
                FormField::number("n", "N"),
                FormField::tel("tel", "Tel"),
                FormField::select("s", "S", ["a", "b"]),
                FormField::combobox("c", "C", ["a"]),
            ],
        );
        let good = r.respond([
            ("name", "x"),
            ("email", "a.b@c.io"),
            ("n", "-1.5e3"),
            ("tel", "+1 (555) 123-4567"),
            ("s", "b"),
            ("c", "custom"),
        ]);
        assert!(r.check_response(&good).is_ok());
        let bad = r.respond([
            ("name", "  "),
            ("email", "a@b"),
            ("n", "1.2.3"),
            ("tel", "call me"),
            ("s", "z"),
        ]);
        let err = r.check_response(&bad).unwrap_err();
        let paths: Vec<_> = err.errors().iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "data.fields[0].value",
                "data.fields[1].value",
                "data.fields[2].value",
                "data.fields[3].value",
                "data.fields[4].value"
            ],
            "{err}"
        );
        let missing = Data::new("other", [DataField::new("email", "")]);
        let err = r.check_response(&missing).unwrap_err();
        assert!(err.has_path("data.request_data_id"), "{err}");
        assert!(
            err.errors()
                .iter()
                .any(|e| e.path == "data.fields" && e.message.contains("\"name\"")),
            "{err}"
        );
        assert_eq!(err.errors().len(), 2, "{err}");
    }

    #[test]
    fn format_helpers() {
        for ok in ["a@b.co", "x.y+z@sub.example.org"] {
            assert!(looks_like_email(ok), "{ok}");
        }
        for bad in ["a@b", "@b.co", "a@.co", "a@b.", "a b@c.d", "a@b@c.d"] {
            assert!(!looks_like_email(bad), "{bad}");
        }
        for ok in ["7", "-3", "+2.50", ".5", "5.", "1e9", "2.5E-3"] {
            assert!(looks_like_number(ok), "{ok}");
        }
        for bad in ["", ".", "-", "1e", "e5", "1.2.3", "seven", "0x10", "1 000"] {
            assert!(!looks_like_number(bad), "{bad}");
        }
        for ok in ["+1 555 123 4567", "(030) 1234-567", "112"] {
            assert!(looks_like_phone(ok), "{ok}");
        }
        for bad in ["12", "+", "phone", "1234567890123456", "++123"] {
            assert!(!looks_like_phone(bad), "{bad}");
        }
    }
}
