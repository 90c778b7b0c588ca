//! `/v1/threads`: create, retrieve, modify, delete.

use axum::{
    Json,
    extract::{Path, State},
};

use super::{
    App, HttpError,
    body::{Caller, JsonBody},
    checks::{check_message, check_metadata},
};
use crate::{
    store::ThreadStore,
    thread::{CreateThread, Deleted, Metadata, ModifyThread, Thread},
};

/// Adds the agent's actor (with its declared capabilities) to the creator's actors, so the
/// create response tells the client what the agent supports.
pub(crate) fn with_agent_actor<S>(app: &App<S>, metadata: &mut Metadata) -> Result<(), HttpError> {
    let mut actors = metadata.actors().map_err(|e| {
        HttpError::bad_request(format!("metadata.actors: {e}")).param("metadata.actors")
    })?;
    actors.retain(|a| a.id != app.actor.id);
    actors.push(app.actor.clone());
    metadata.set_actors(&actors);
    Ok(())
}

pub(crate) async fn create_thread<S: ThreadStore>(
    app: &App<S>,
    caller: &Caller,
    req: CreateThread,
) -> Result<Thread, HttpError> {
    req.check()
        .map_err(|e| HttpError::bad_request(e.to_string()))?;
    if req.messages.len() > app.limits.messages {
        return Err(HttpError::bad_request(format!(
            "Too many messages: at most {} per request.",
            app.limits.messages
        ))
        .param("messages"));
    }
    let (mut thread, messages) = req.into_thread();
    with_agent_actor(app, &mut thread.metadata)?;
    let mut stored = Vec::with_capacity(messages.len());
    for m in messages {
        let m = m.into_message(thread.id.clone());
        check_message(app, &m)?;
        stored.push(m);
    }
    app.store
        .create_thread(&caller.0, thread.clone(), stored)
        .await?;
    tracing::debug!(thread = %thread.id, principal = %caller.0, "thread created");
    Ok(thread)
}

pub(crate) async fn create<S: ThreadStore>(
    State(app): State<App<S>>,
    caller: Caller,
    JsonBody(req): JsonBody<CreateThread>,
) -> Result<Json<Thread>, HttpError> {
    create_thread(&app, &caller, req).await.map(Json)
}

pub(crate) async fn owned_thread<S: ThreadStore>(
    app: &App<S>,
    caller: &Caller,
    id: &str,
) -> Result<Thread, HttpError> {
    app.store
        .thread(&caller.0, id)
        .await?
        .ok_or_else(|| HttpError::not_found("thread", id))
}

pub(crate) async fn retrieve<S: ThreadStore>(
    State(app): State<App<S>>,
    caller: Caller,
    Path(thread_id): Path<String>,
) -> Result<Json<Thread>, HttpError> {
    owned_thread(&app, &caller, &thread_id).await.map(Json)
}

pub(crate) async fn modify<S: ThreadStore>(
    State(app): State<App<S>>,
    caller: Caller,
    Path(thread_id): Path<String>,
    JsonBody(req): JsonBody<ModifyThread>,
) -> Result<Json<Thread>, HttpError> {
    let mut thread = owned_thread(&app, &caller, &thread_id).await?;
    if let Some(mut metadata) = req.metadata {
        // The agent's capability declaration survives metadata updates that omit actors.
        if !metadata.contains_key(Metadata::ACTORS) {
            if let Some(actors) = thread.metadata.get(Metadata::ACTORS) {
                metadata.insert(Metadata::ACTORS, actors.to_owned());
            }
        } else {
            with_agent_actor(&app, &mut metadata)?;
        }
        check_metadata(&metadata)?;
        thread.metadata = metadata;
    }
    if req.tool_resources.is_some() {
        thread.tool_resources = req.tool_resources;
    }
    app.store.update_thread(&caller.0, thread.clone()).await?;
    Ok(Json(thread))
}

pub(crate) async fn delete<S: ThreadStore>(
    State(app): State<App<S>>,
    caller: Caller,
    Path(thread_id): Path<String>,
) -> Result<Json<Deleted>, HttpError> {
    if app.store.delete_thread(&caller.0, &thread_id).await? {
        Ok(Json(Deleted::thread(thread_id)))
    } else {
        Err(HttpError::not_found("thread", &thread_id))
    }
}
