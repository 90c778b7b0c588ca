//! `data`: the values filled in.

#[allow(unused_imports)]
use super::*;

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
