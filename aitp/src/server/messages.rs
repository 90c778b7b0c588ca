//! `/v1/threads/{id}/messages`: create, list, retrieve.

use axum::{
    Json,
    extract::{Path, Query, State},
};
use serde::Deserialize;

use super::{
    ApiError, App,
    body::{Caller, JsonBody},
    checks::{check_message, check_owner},
};
use crate::{
    store::{ListQuery, Order, ThreadStore},
    thread::{CreateMessage, List, Message},
};

pub(crate) async fn create<S: ThreadStore>(
    State(app): State<App<S>>,
    caller: Caller,
    Path(thread_id): Path<String>,
    JsonBody(req): JsonBody<CreateMessage>,
) -> Result<Json<Message>, ApiError> {
    check_owner(&app, &caller, &thread_id).await?;
    req.check()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let message = req.into_message(thread_id.clone());
    check_message(&app, &message)?;
    app.store
        .append_messages(&thread_id, vec![message.clone()])
        .await?;
    Ok(Json(message))
}

/// The query of list endpoints.
#[derive(Debug, Deserialize)]
pub(crate) struct ListParams {
    limit: Option<String>,
    order: Option<String>,
    after: Option<String>,
    before: Option<String>,
    run_id: Option<String>,
}

impl ListParams {
    pub(crate) fn into_query(self) -> Result<ListQuery, ApiError> {
        let limit = match self.limit.as_deref() {
            None | Some("") => 20,
            Some(s) => match s.parse::<usize>() {
                Ok(n) if (1..=100).contains(&n) => n,
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "Invalid 'limit': expected an integer from 1 to 100, got '{s}'."
                    ))
                    .param("limit"));
                }
            },
        };
        let order = match self.order.as_deref() {
            None | Some("") | Some("desc") => Order::Desc,
            Some("asc") => Order::Asc,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "Invalid 'order': expected 'asc' or 'desc', got '{other}'."
                ))
                .param("order"));
            }
        };
        let mut q = ListQuery::new(limit, order);
        q.after = self.after.filter(|s| !s.is_empty());
        q.before = self.before.filter(|s| !s.is_empty());
        q.run_id = self.run_id.filter(|s| !s.is_empty());
        Ok(q)
    }
}

pub(crate) async fn list<S: ThreadStore>(
    State(app): State<App<S>>,
    caller: Caller,
    Path(thread_id): Path<String>,
    Query(params): Query<ListParams>,
) -> Result<Json<List<Message>>, ApiError> {
    let query = params.into_query()?;
    check_owner(&app, &caller, &thread_id).await?;
    let page = app.store.list_messages(&thread_id, &query).await?;
    Ok(Json(List::new(page.data, page.has_more)))
}

pub(crate) async fn retrieve<S: ThreadStore>(
    State(app): State<App<S>>,
    caller: Caller,
    Path((thread_id, message_id)): Path<(String, String)>,
) -> Result<Json<Message>, ApiError> {
    check_owner(&app, &caller, &thread_id).await?;
    app.store
        .message(&thread_id, &message_id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("message", &message_id))
}
