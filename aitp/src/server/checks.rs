//! Checks shared by the thread, message and run endpoints: ownership, content and metadata limits.

use super::{App, HttpError, body::Caller};
use crate::{
    store::ThreadStore,
    thread::{Content, Message, Metadata, Role},
};

/// Checks that the thread exists and is the caller's (404 otherwise), without reading it.
pub(crate) async fn check_owner<S: ThreadStore>(
    app: &App<S>,
    caller: &Caller,
    id: &str,
) -> Result<(), HttpError> {
    if app.store.owns(&caller.0, id).await? {
        Ok(())
    } else {
        Err(HttpError::not_found("thread", id))
    }
}

/// Checks a message against the content limits.
pub(crate) fn check_message<S>(app: &App<S>, m: &Message) -> Result<(), HttpError> {
    let limits = &app.limits;
    if !matches!(m.role, Role::User | Role::Assistant) {
        return Err(HttpError::bad_request(format!(
            "Invalid role '{}': expected 'user' or 'assistant'.",
            m.role.as_str()
        ))
        .param("role"));
    }
    if m.content.len() > limits.content_parts {
        return Err(HttpError::bad_request(format!(
            "Too many content parts: at most {}.",
            limits.content_parts
        ))
        .param("content"));
    }
    for part in &m.content {
        if let Content::Text(t) = part {
            if t.value.len() > limits.text_bytes {
                return Err(HttpError::bad_request(format!(
                    "A text content part is too long: at most {} bytes.",
                    limits.text_bytes
                ))
                .param("content"));
            }
        }
    }
    Ok(())
}

/// Checks client-set metadata against OpenAI's limits (keys, values, count): one 400 naming
/// `metadata` for every endpoint that takes it.
pub(crate) fn check_metadata(metadata: &Metadata) -> Result<(), HttpError> {
    metadata
        .check_limits()
        .map_err(|e| HttpError::bad_request(e.to_string()).param("metadata"))
}
