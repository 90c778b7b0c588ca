//! Request extractors: the caller's principal, JSON bodies with JSON errors.

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request},
    http::{StatusCode, request::Parts},
};
use serde::de::DeserializeOwned;

use super::{ApiError, App};
use crate::{store::ThreadStore, thread::Principal};

/// The authenticated caller.
pub(crate) struct Caller(pub Principal);

impl<S: ThreadStore> FromRequestParts<App<S>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App<S>) -> Result<Self, ApiError> {
        app.principal(parts).map(Caller)
    }
}

/// A JSON body. Any content type is accepted (clients differ); an empty body reads as `{}`.
/// Malformed JSON is a 400 and an oversize body a 413, both with OpenAI's error object.
pub(crate) struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            let status = rejection.status();
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(status, "The request body is too large.").code("body_too_large")
            } else {
                ApiError::new(
                    status,
                    format!("Could not read the request body: {rejection}"),
                )
            }
        })?;
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        serde_json::from_slice(bytes).map(JsonBody).map_err(|e| {
            ApiError::bad_request(format!(
                "The request body is not valid JSON for this endpoint: {e}"
            ))
            .code("invalid_json")
        })
    }
}
