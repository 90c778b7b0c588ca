//! Error answers: an HTTP status with OpenAI's error body ([`thread::ApiError`]).

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};

use crate::{store::StoreError, thread::ApiError};

/// An error answer: the status, and the body every OpenAI client reads (boxed: handlers
/// return it in every `Result`, which stays small).
#[derive(Debug, Clone)]
pub(crate) struct HttpError {
    status: StatusCode,
    body: Box<ApiError>,
}

impl HttpError {
    /// An error of `status` with a message for the caller; OpenAI's error type follows from
    /// the status.
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        let kind = match status.as_u16() {
            401 | 403 => "authentication_error",
            429 => "rate_limit_error",
            500..=599 => "server_error",
            _ => "invalid_request_error",
        };
        Self {
            status,
            body: Box::new(ApiError::new(kind, message)),
        }
    }

    /// 400 Bad Request.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404 Not Found, naming what was looked for.
    pub(crate) fn not_found(what: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            format!("No {what} found with id '{id}'."),
        )
        .code("not_found")
    }

    /// Sets the machine-readable code.
    pub(crate) fn code(mut self, code: &'static str) -> Self {
        self.body.code = Some(code.to_owned());
        self
    }

    /// Sets the offending parameter.
    pub(crate) fn param(mut self, param: impl Into<String>) -> Self {
        self.body.param = Some(param.into());
        self
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

impl From<StoreError> for HttpError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => {
                HttpError::new(StatusCode::NOT_FOUND, "Not found.").code("not_found")
            }
            StoreError::Conflict(m) => HttpError::bad_request(m).code("conflict"),
            StoreError::RunState(status) => HttpError::bad_request(format!(
                "The run's status is '{}'; it cannot change that way.",
                status.as_str()
            ))
            .code("run_state"),
            other => {
                crate::server::log_error(&other);
                HttpError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The store failed; try again.",
                )
                .code("store_error")
            }
        }
    }
}
