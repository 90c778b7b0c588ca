//! Request extractors: the caller's principal, JSON bodies and list queries, with JSON errors.

use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request},
    http::{StatusCode, request::Parts},
};
use serde::de::DeserializeOwned;

use super::{App, HttpError};
use crate::{
    store::ThreadStore,
    thread::{ListQuery, Principal},
};

/// The authenticated caller.
pub(crate) struct Caller(pub Principal);

impl<S: ThreadStore> FromRequestParts<App<S>> for Caller {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, app: &App<S>) -> Result<Self, HttpError> {
        app.principal(parts).map(Caller)
    }
}

/// A JSON body. Any content type is accepted (clients differ); an empty body reads as `{}`.
/// Malformed JSON is a 400 and an oversize body a 413, both with OpenAI's error object.
pub(crate) struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &S) -> Result<Self, HttpError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            let status = rejection.status();
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                HttpError::new(status, "The request body is too large.").code("body_too_large")
            } else {
                HttpError::new(
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
            HttpError::bad_request(format!(
                "The request body is not valid JSON for this endpoint: {e}"
            ))
            .code("invalid_json")
        })
    }
}

/// The query of a list endpoint; a 400 naming the parameter when `limit` or `order` is not
/// valid.
pub(crate) struct ListParams(pub ListQuery);

impl<S: Send + Sync> FromRequestParts<S> for ListParams {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, HttpError> {
        let query = parts.uri.query().unwrap_or_default();
        ListQuery::from_pairs(url::form_urlencoded::parse(query.as_bytes()))
            .map(ListParams)
            .map_err(|e| HttpError::bad_request(e.to_string()).param(e.param))
    }
}
