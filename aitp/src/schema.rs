//! JSON Schema 2020-12 for capability messages, generated from the Rust types with schemars.
//!
//! The same types that parse and write messages describe them, so a published schema cannot
//! drift from the code. [`message_schema`] gives the schema of one message (envelope included);
//! [`CapabilitySchema`] assembles a capability's `schema.json` (`anyOf` over its messages,
//! `$id` = its URL); [`official`] does so for the AITP capabilities this crate implements.
//!
//! ```
//! use aitp::capability::decisions::{Decision, RequestDecision};
//! use aitp::schema::CapabilitySchema;
//!
//! let doc = CapabilitySchema::new("https://aitp.dev/capabilities/aitp-02-decisions/v1.0.0/schema.json")
//!     .title("AITP-02 Decisions")
//!     .message::<RequestDecision>()
//!     .message::<Decision>()
//!     .build();
//! assert_eq!(doc["anyOf"].as_array().unwrap().len(), 2);
//! assert_eq!(doc["$id"], "https://aitp.dev/capabilities/aitp-02-decisions/v1.0.0/schema.json");
//! ```

use schemars::{JsonSchema, SchemaGenerator, generate::SchemaSettings};
use serde_json::{Map, Value, json};

use crate::capability::{AitpCapability, CapabilityMessage};

/// The JSON Schema dialect of every generated document.
pub const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// A generator set up for message schemas (2020-12, describing what is *read*: the
/// wire form).
pub fn generator() -> SchemaGenerator {
    SchemaSettings::draft2020_12()
        .for_deserialize()
        .into_generator()
}

/// Whether a message's root object admits only `$schema` and the key (AITP-01, AITP-04,
/// AITP-05 and legacy Transactions close it; AITP-02/03 and custom capabilities do not).
fn closed_root<T: CapabilityMessage>() -> bool {
    T::capability()
        .aitp()
        .is_some_and(AitpCapability::closes_root)
}

fn envelope_for<T: CapabilityMessage + JsonSchema>(generator: &mut SchemaGenerator) -> Value {
    let body = generator.subschema_for::<T>();
    let mut root = json!({
        "type": "object",
        "title": T::KEY,
        "properties": {
            "$schema": { "type": "string", "format": "uri" },
            T::KEY: body,
        },
        "required": ["$schema", T::KEY],
    });
    if closed_root::<T>() {
        root["additionalProperties"] = Value::Bool(false);
    }
    root
}

/// The schema of one message type, envelope included: `{"$schema": url, "<key>": body}`.
pub fn message_schema<T: CapabilityMessage + JsonSchema>() -> Value {
    let mut generator = generator();
    let mut root = envelope_for::<T>(&mut generator);
    let defs = generator.take_definitions(true);
    let obj = root.as_object_mut().expect("envelope is an object");
    let mut out = Map::new();
    out.insert("$schema".into(), DIALECT.into());
    out.append(obj);
    if !defs.is_empty() {
        out.insert("$defs".into(), Value::Object(defs));
    }
    Value::Object(out)
}

/// Assembles the `schema.json` of a capability from its message types.
#[derive(Debug)]
#[must_use = "call .build() to get the schema document"]
pub struct CapabilitySchema {
    id: String,
    title: Option<String>,
    description: Option<String>,
    generator: SchemaGenerator,
    messages: Vec<Value>,
}

impl CapabilitySchema {
    /// A capability schema with this `$id` (the capability's URL).
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            title: None,
            description: None,
            generator: generator(),
            messages: Vec::new(),
        }
    }

    /// Sets the title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Adds a message type.
    pub fn message<T: CapabilityMessage + JsonSchema>(mut self) -> Self {
        let m = envelope_for::<T>(&mut self.generator);
        self.messages.push(m);
        self
    }

    /// The document: `anyOf` over the messages, shared definitions under `$defs`.
    pub fn build(mut self) -> Value {
        let mut out = Map::new();
        out.insert("$schema".into(), DIALECT.into());
        out.insert("$id".into(), Value::String(self.id));
        if let Some(t) = self.title {
            out.insert("title".into(), Value::String(t));
        }
        if let Some(d) = self.description {
            out.insert("description".into(), Value::String(d));
        }
        out.insert("anyOf".into(), Value::Array(self.messages));
        let defs = self.generator.take_definitions(true);
        if !defs.is_empty() {
            out.insert("$defs".into(), Value::Object(defs));
        }
        Value::Object(out)
    }
}

/// The generated `schema.json` of an AITP capability (v1.0.0): its capability enum's
/// [`Capability::schema`](crate::capability::Capability::schema), from the registry.
pub fn official(capability: AitpCapability) -> Value {
    capability.schema()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::decisions::{Decision, RequestDecision};

    #[test]
    fn message_schema_shape() {
        let s = message_schema::<RequestDecision>();
        assert_eq!(s["$schema"], DIALECT);
        assert_eq!(s["required"], json!(["$schema", "request_decision"]));
        let body_ref = s["properties"]["request_decision"]["$ref"]
            .as_str()
            .unwrap();
        let name = body_ref.rsplit('/').next().unwrap();
        let body = &s["$defs"][name];
        assert_eq!(body["required"], json!(["id", "options"]));
        assert_eq!(body["properties"]["options"]["minItems"], 1);
        assert!(s.get("additionalProperties").is_none());
    }

    #[test]
    fn decision_options_closed_in_schema() {
        let s = message_schema::<Decision>().to_string();
        assert!(s.contains("\"additionalProperties\":false"), "{s}");
    }
}
