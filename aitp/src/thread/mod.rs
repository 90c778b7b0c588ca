//! Threads, messages, runs and actors: the data model of the AITP-T01 transport.
//!
//! AITP-T01 is the OpenAI Assistants v2 Threads API, so these types are its wire objects
//! (`thread`, `thread.message`, `thread.run`, `list`, the request bodies and the streaming
//! events), with the AITP parts on top: the actors and their capabilities in
//! `metadata.actors`, and capability messages inside text content ([`Message::capability`]).
//!
//! The rule is *tolerant reader, strict writer*:
//!
//! - **Written** exactly as OpenAI's v2 reference has them, so strict clients (openai-python,
//!   openai-node) decode them: `object` on every resource, integer unix-second timestamps,
//!   every field present (`null` when unset), `metadata` as a map of strings, ids prefixed
//!   `thread_`, `msg_`, `run_` ([`new_thread_id`]).
//! - **Read** from what peers really send: float or missing timestamps, no `object`, missing
//!   optional fields, `attachments: null`, content as a string, as the AITP spec's list of
//!   bare strings, as request parts or as response parts, `metadata.actors` as a JSON string or
//!   an array, non-string metadata values, lists without `object` and bare arrays (NEAR AI's
//!   `GET /threads`). Unknown fields are kept in `extra` and written back unchanged.
//!
//! ```
//! use aitp::capability::{Envelope, decisions::RequestDecision};
//! use aitp::thread::{Content, Message, Role};
//!
//! let ask = RequestDecision::radio("size", ["S", "M"]).build();
//! let message = Message::new(
//!     "thread_abc",
//!     Role::Assistant,
//!     vec![Content::text("Pick one:"), Content::aitp(&Envelope::from(ask.clone()))],
//! );
//! let wire = serde_json::to_string(&message)?;
//! let read: Message = serde_json::from_str(&wire)?;
//! assert_eq!(read.capability::<RequestDecision>()?, Some(ask));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod actor;
mod api_error;
mod content;
mod endpoint;
pub mod event;
mod ids;
mod list;
mod message;
mod metadata;
mod object;
mod params;
mod principal;
mod query;
mod run;
mod step;
mod wire;

pub use actor::Actor;
pub use api_error::ApiError;
pub use content::{Content, ContentInput, ImageFile, ImageUrl, Text};
pub use endpoint::Endpoint;
pub use ids::{new_id, new_message_id, new_run_id, new_thread_id, unix_now};
pub use list::{List, Resource};
pub use message::{Attachment, IncompleteDetails, Message, MessageStatus, Role};
pub use metadata::{Metadata, MetadataError};
pub use object::{Deleted, Thread};
pub use params::{
    CreateMessage, CreateRun, CreateThread, CreateThreadAndRun, ModifyMessage, ModifyRun,
    ModifyThread, ParamsError,
};
pub use principal::Principal;
pub use query::{ListQuery, ListQueryError, Order};
pub use run::{Run, RunError, RunStatus, Usage};
pub use step::RunStep;

#[cfg(test)]
pub(crate) mod test_support {
    use std::path::PathBuf;

    use serde_json::Value;

    /// The shared test vectors.
    pub(crate) fn vector(name: &str) -> Value {
        let path = PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/spec/vectors"
        ))
        .join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        serde_json::from_str(&text).unwrap()
    }

    /// The sorted keys of a JSON object.
    pub(crate) fn keys(v: &Value) -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    }
}
