//! `/v1/threads/{id}/messages`: create, list, retrieve, modify, delete.

use axum::{
    Json,
    extract::{Path, State},
};

use super::{
    App, HttpError,
    body::{Caller, JsonBody, ListParams},
    checks::{check_message, check_metadata, check_owner},
};
use crate::{
    store::ThreadStore,
    thread::{CreateMessage, Deleted, List, Message, ModifyMessage},
};

pub(crate) async fn create<S: ThreadStore>(
    State(app): State<App<S>>,
    caller: Caller,
    Path(thread_id): Path<String>,
    JsonBody(req): JsonBody<CreateMessage>,
) -> Result<Json<Message>, HttpError> {
    check_owner(&app, &caller, &thread_id).await?;
    req.check()
        .map_err(|e| HttpError::bad_request(e.to_string()))?;
    let message = req.into_message(thread_id.clone());
    check_message(&app, &message)?;
    app.store
        .append_messages(&thread_id, vec![message.clone()])
        .await?;
    Ok(Json(message))
}

pub(crate) async fn list<S: ThreadStore>(
    State(app): State<App<S>>,
    caller: Caller,
    Path(thread_id): Path<String>,
    ListParams(query): ListParams,
) -> Result<Json<List<Message>>, HttpError> {
    check_owner(&app, &caller, &thread_id).await?;
    let page = app.store.list_messages(&thread_id, &query).await?;
    Ok(Json(List::new(page.data, page.has_more)))
}

pub(crate) async fn retrieve<S: ThreadStore>(
    State(app): State<App<S>>,
    caller: Caller,
    Path((thread_id, message_id)): Path<(String, String)>,
) -> Result<Json<Message>, HttpError> {
    check_owner(&app, &caller, &thread_id).await?;
    app.store
        .message(&thread_id, &message_id)
        .await?
        .map(Json)
        .ok_or_else(|| HttpError::not_found("message", &message_id))
}

pub(crate) async fn modify<S: ThreadStore>(
    State(app): State<App<S>>,
    caller: Caller,
    Path((thread_id, message_id)): Path<(String, String)>,
    JsonBody(req): JsonBody<ModifyMessage>,
) -> Result<Json<Message>, HttpError> {
    check_owner(&app, &caller, &thread_id).await?;
    let updated = match req.metadata {
        Some(metadata) => {
            check_metadata(&metadata)?;
            app.store
                .set_message_metadata(&thread_id, &message_id, metadata)
                .await?
        }
        None => app.store.message(&thread_id, &message_id).await?,
    };
    updated
        .map(Json)
        .ok_or_else(|| HttpError::not_found("message", &message_id))
}

pub(crate) async fn delete<S: ThreadStore>(
    State(app): State<App<S>>,
    caller: Caller,
    Path((thread_id, message_id)): Path<(String, String)>,
) -> Result<Json<Deleted>, HttpError> {
    check_owner(&app, &caller, &thread_id).await?;
    if app.store.delete_message(&thread_id, &message_id).await? {
        Ok(Json(Deleted::message(message_id)))
    } else {
        Err(HttpError::not_found("message", &message_id))
    }
}
