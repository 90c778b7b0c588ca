//! `request_data`: the form, its fields and their types.

#[allow(unused_imports)]
use super::*;

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
