//! The cases of the store contract, each generic over the store.

use std::sync::Arc;

use serde_json::json;

use crate::store::{Holder, Page, StoreError, ThreadStore, Transition, Transitioned};
use crate::thread::{
    Content, ListQuery, Message, Order, Principal, Role, Run, RunError, RunStatus, Thread,
};

/// No bound on [`ThreadStore::unanswered`]: every unanswered message.
const ALL: usize = usize::MAX;

fn me() -> Principal {
    Principal::new("me")
}

fn user(thread: &Thread, text: &str) -> Message {
    Message::new(thread.id.clone(), Role::User, vec![Content::text(text)])
}

fn reply(run: &Run, text: &str) -> Message {
    let mut m = Message::new(
        run.thread_id.clone(),
        Role::Assistant,
        vec![Content::text(text)],
    );
    m.run_id = Some(run.id.clone());
    m.assistant_id = Some(run.assistant_id.clone());
    m
}

fn ids<T>(page: &Page<T>, id: impl Fn(&T) -> &str) -> Vec<String> {
    page.data.iter().map(|t| id(t).to_owned()).collect()
}

fn msg_ids(page: &Page<Message>) -> Vec<String> {
    ids(page, |m| &m.id)
}

fn texts(messages: &[Message]) -> Vec<String> {
    messages.iter().map(Message::text).collect()
}

/// A thread of `me` holding messages "0" .. "n-1".
async fn thread_with<S: ThreadStore>(s: &S, n: usize) -> (Thread, Vec<Message>) {
    let thread = Thread::new();
    let messages: Vec<Message> = (0..n).map(|i| user(&thread, &i.to_string())).collect();
    s.create_thread(&me(), thread.clone(), messages.clone())
        .await
        .unwrap();
    (thread, messages)
}

/// Applies `t`, which must succeed; the run as stored.
async fn apply<S: ThreadStore>(s: &S, t: Transition) -> Run {
    s.transition_run(t).await.unwrap().run
}

/// Starts `run` and completes it answering up to `answered`, with `replies`; the run as stored.
async fn complete<S: ThreadStore>(s: &S, run: Run, replies: Vec<Message>, answered: &str) -> Run {
    apply(s, Transition::start(&run)).await;
    apply(
        s,
        Transition::complete(&run, replies, Some(answered.to_owned())),
    )
    .await
}

/// Whether `result` is the refusal of a transition from `status`.
fn refused(result: Result<Transitioned, StoreError>, status: RunStatus) -> bool {
    matches!(result, Err(StoreError::RunState(s)) if s == status)
}

/// Creating, reading, updating and deleting a thread (with its messages and runs); the id is free again after a delete.
pub async fn thread_crud<S: ThreadStore>(s: S) {
    let (mut thread, messages) = thread_with(&s, 2).await;
    assert_eq!(
        s.thread(&me(), &thread.id).await.unwrap(),
        Some(thread.clone())
    );
    assert!(matches!(
        s.create_thread(&me(), thread.clone(), Vec::new()).await,
        Err(StoreError::Conflict(_))
    ));

    thread.metadata.insert("topic", "shoes");
    thread.tool_resources = Some(json!({"code_interpreter": {"file_ids": []}}));
    s.update_thread(&me(), thread.clone()).await.unwrap();
    assert_eq!(
        s.thread(&me(), &thread.id).await.unwrap(),
        Some(thread.clone())
    );

    let run = Run::new(thread.id.clone(), "agent");
    s.create_run(run.clone()).await.unwrap();
    assert!(s.delete_thread(&me(), &thread.id).await.unwrap());
    assert_eq!(s.thread(&me(), &thread.id).await.unwrap(), None);
    assert!(!s.delete_thread(&me(), &thread.id).await.unwrap());
    assert_eq!(s.message(&thread.id, &messages[0].id).await.unwrap(), None);
    assert_eq!(s.run(&thread.id, &run.id).await.unwrap(), None);
    assert!(matches!(
        s.update_thread(&me(), thread.clone()).await,
        Err(StoreError::NotFound)
    ));

    // The id is free again, with nothing of the old thread left.
    s.create_thread(&me(), thread.clone(), Vec::new())
        .await
        .unwrap();
    let page = s
        .list_messages(&thread.id, &ListQuery::default())
        .await
        .unwrap();
    assert!(page.data.is_empty() && !page.has_more);
    let runs = s
        .list_runs(&thread.id, &ListQuery::default())
        .await
        .unwrap();
    assert!(runs.data.is_empty());
    assert!(s.unanswered(&thread.id, ALL).await.unwrap().is_empty());
}

/// Another principal neither sees, changes nor deletes a thread, before or after its owner read it.
pub async fn owner_isolation<S: ThreadStore>(s: S) {
    let (thread, _) = thread_with(&s, 1).await;
    let other = Principal::new("other");
    assert_eq!(s.thread(&other, &thread.id).await.unwrap(), None);
    let mut changed = thread.clone();
    changed.metadata.insert("k", "v");
    assert!(matches!(
        s.update_thread(&other, changed).await,
        Err(StoreError::NotFound)
    ));
    assert!(!s.delete_thread(&other, &thread.id).await.unwrap());
    // Still there, unchanged, for its owner.
    assert_eq!(
        s.thread(&me(), &thread.id).await.unwrap(),
        Some(thread.clone())
    );
    // And still invisible to the other principal once read (and cached) by its owner.
    assert_eq!(s.thread(&other, &thread.id).await.unwrap(), None);
    assert_eq!(s.thread(&me(), "thread_missing").await.unwrap(), None);
}

/// Every operation on a thread that does not exist answers `NotFound` (or `None`).
pub async fn missing_thread<S: ThreadStore>(s: S) {
    let ghost = Thread::new();
    let id = ghost.id.as_str();
    let q = ListQuery::default();
    assert!(matches!(
        s.append_messages(id, vec![user(&ghost, "x")]).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.list_messages(id, &q).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.list_runs(id, &q).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.unanswered(id, ALL).await,
        Err(StoreError::NotFound)
    ));
    let run = Run::new(id, "agent");
    assert!(matches!(
        s.create_run(run.clone()).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.transition_run(Transition::start(&run)).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.transition_run(Transition::complete(&run, Vec::new(), None))
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(s.message(id, "msg_x").await.unwrap(), None);
    assert_eq!(s.run(id, &run.id).await.unwrap(), None);
}

/// Message listing: insertion order across creation and appends, exact `has_more`, OpenAI's `after`/`before` in both orders, crossed bounds, unknown cursors and a zero limit.
pub async fn messages_pagination<S: ThreadStore>(s: S) {
    // Two at creation, three appended: the order is insertion order across both.
    let (thread, mut all) = thread_with(&s, 2).await;
    let more: Vec<Message> = (2..5).map(|i| user(&thread, &i.to_string())).collect();
    s.append_messages(&thread.id, more.clone()).await.unwrap();
    all.extend(more);
    let id: Vec<String> = all.iter().map(|m| m.id.clone()).collect();
    let list = |q: ListQuery| {
        let s = &s;
        let thread_id = thread.id.clone();
        async move { s.list_messages(&thread_id, &q).await.unwrap() }
    };

    let p = list(ListQuery::new(20, Order::Asc)).await;
    assert_eq!(p.data, all);
    assert!(!p.has_more);
    let p = list(ListQuery::default()).await;
    assert_eq!(msg_ids(&p), id.iter().rev().cloned().collect::<Vec<_>>());

    // has_more is exact: a page that ends exactly at the last item says so.
    let p = list(ListQuery::new(5, Order::Asc)).await;
    assert_eq!(p.data.len(), 5);
    assert!(!p.has_more);
    let p = list(ListQuery::new(4, Order::Asc)).await;
    assert_eq!(msg_ids(&p), id[..4]);
    assert!(p.has_more);
    let p = list(ListQuery::new(2, Order::Asc).after(id[2].clone())).await;
    assert_eq!(msg_ids(&p), id[3..5]);
    assert!(!p.has_more);
    let p = list(ListQuery::new(2, Order::Asc).after(id[1].clone())).await;
    assert_eq!(msg_ids(&p), id[2..4]);
    assert!(p.has_more);

    // Descending: `after` goes towards older items, `before` towards newer ones.
    let p = list(ListQuery::new(2, Order::Desc)).await;
    assert_eq!(msg_ids(&p), [id[4].clone(), id[3].clone()]);
    assert!(p.has_more);
    let p = list(ListQuery::new(10, Order::Desc).after(id[3].clone())).await;
    assert_eq!(msg_ids(&p), [id[2].clone(), id[1].clone(), id[0].clone()]);
    assert!(!p.has_more);
    let p = list(ListQuery::new(2, Order::Desc).after(id[3].clone())).await;
    assert_eq!(msg_ids(&p), [id[2].clone(), id[1].clone()]);
    assert!(p.has_more);
    let p = list(ListQuery::new(10, Order::Desc).before(id[2].clone())).await;
    assert_eq!(msg_ids(&p), [id[4].clone(), id[3].clone()]);
    assert!(!p.has_more);
    let p = list(ListQuery::new(1, Order::Desc).before(id[2].clone())).await;
    assert_eq!(msg_ids(&p), [id[4].clone()]);
    assert!(p.has_more);

    // Ascending `before`, and both bounds together.
    let p = list(ListQuery::new(10, Order::Asc).before(id[2].clone())).await;
    assert_eq!(msg_ids(&p), id[..2]);
    assert!(!p.has_more);
    let p = list(
        ListQuery::new(10, Order::Asc)
            .after(id[0].clone())
            .before(id[4].clone()),
    )
    .await;
    assert_eq!(msg_ids(&p), id[1..4]);
    let p = list(
        ListQuery::new(2, Order::Asc)
            .after(id[0].clone())
            .before(id[4].clone()),
    )
    .await;
    assert_eq!(msg_ids(&p), id[1..3]);
    assert!(p.has_more);
    let p = list(
        ListQuery::new(10, Order::Desc)
            .after(id[4].clone())
            .before(id[0].clone()),
    )
    .await;
    assert_eq!(msg_ids(&p), [id[3].clone(), id[2].clone(), id[1].clone()]);
    assert!(!p.has_more);
    // Bounds that cross leave nothing between them.
    let p = list(
        ListQuery::new(10, Order::Desc)
            .after(id[1].clone())
            .before(id[3].clone()),
    )
    .await;
    assert!(p.data.is_empty() && !p.has_more);
    let p = list(
        ListQuery::new(10, Order::Asc)
            .after(id[3].clone())
            .before(id[1].clone()),
    )
    .await;
    assert!(p.data.is_empty() && !p.has_more);

    // Past the end, an unknown cursor (ignored), a limit of 0 (read as 1).
    let p = list(ListQuery::new(10, Order::Asc).after(id[4].clone())).await;
    assert!(p.data.is_empty() && !p.has_more);
    let p = list(ListQuery::new(10, Order::Asc).after("msg_unknown")).await;
    assert_eq!(msg_ids(&p), id);
    let p = list(ListQuery::new(0, Order::Asc)).await;
    assert_eq!(msg_ids(&p), id[..1]);
    assert!(p.has_more);

    // A cursor from another thread is unknown here.
    let (other, other_messages) = thread_with(&s, 1).await;
    let p = list(ListQuery::new(10, Order::Asc).after(other_messages[0].id.clone())).await;
    assert_eq!(p.data.len(), 5);
    let p = s
        .list_messages(&other.id, &ListQuery::new(10, Order::Asc))
        .await
        .unwrap();
    assert_eq!(p.data, other_messages);
}

/// Looking up one message, and listing only a run's messages (the `run_id` filter) with cursors.
pub async fn message_lookup_and_run_filter<S: ThreadStore>(s: S) {
    let (thread, messages) = thread_with(&s, 2).await;
    let (other, _) = thread_with(&s, 0).await;
    assert_eq!(
        s.message(&thread.id, &messages[1].id).await.unwrap(),
        Some(messages[1].clone())
    );
    assert_eq!(s.message(&other.id, &messages[1].id).await.unwrap(), None);
    assert_eq!(s.message(&thread.id, "msg_unknown").await.unwrap(), None);

    let first = Run::new(thread.id.clone(), "agent");
    s.create_run(first.clone()).await.unwrap();
    let first_replies = vec![reply(&first, "a"), reply(&first, "b"), reply(&first, "c")];
    complete(&s, first.clone(), first_replies.clone(), &messages[1].id).await;
    s.append_messages(&thread.id, vec![user(&thread, "2")])
        .await
        .unwrap();
    let second = Run::new(thread.id.clone(), "agent");
    s.create_run(second.clone()).await.unwrap();
    let second_replies = vec![reply(&second, "d")];
    complete(&s, second.clone(), second_replies.clone(), &messages[0].id).await;

    assert_eq!(
        s.message(&thread.id, &first_replies[0].id).await.unwrap(),
        Some(first_replies[0].clone())
    );
    let of = |run: &Run, q: ListQuery| {
        let s = &s;
        let thread_id = thread.id.clone();
        let q = q.run_id(run.id.clone());
        async move { s.list_messages(&thread_id, &q).await.unwrap() }
    };
    let p = of(&first, ListQuery::new(10, Order::Asc)).await;
    assert_eq!(p.data, first_replies);
    assert!(!p.has_more);
    let p = of(&first, ListQuery::new(2, Order::Desc)).await;
    assert_eq!(texts(&p.data), ["c", "b"]);
    assert!(p.has_more);
    let p = of(
        &first,
        ListQuery::new(10, Order::Asc).after(first_replies[0].id.clone()),
    )
    .await;
    assert_eq!(texts(&p.data), ["b", "c"]);
    // A cursor outside the run's messages is ignored, as an unknown one is.
    let p = of(
        &first,
        ListQuery::new(10, Order::Asc).after(second_replies[0].id.clone()),
    )
    .await;
    assert_eq!(texts(&p.data), ["a", "b", "c"]);
    let p = of(&second, ListQuery::new(10, Order::Asc)).await;
    assert_eq!(p.data, second_replies);
    let p = s
        .list_messages(
            &thread.id,
            &ListQuery::new(10, Order::Asc).run_id("run_unknown"),
        )
        .await
        .unwrap();
    assert!(p.data.is_empty() && !p.has_more);
    // Unfiltered, everything in insertion order.
    let p = s
        .list_messages(&thread.id, &ListQuery::new(20, Order::Asc))
        .await
        .unwrap();
    assert_eq!(texts(&p.data), ["0", "1", "a", "b", "c", "2", "d"]);
}

/// [`ThreadStore::begin_run`] stores the run started, leased to its holder where the store
/// leases, and answers it with its thread and the messages it answers; it refuses a thread
/// with an active run, or none, storing nothing.
pub async fn begin_creates_and_starts<S: ThreadStore>(s: S) {
    let holder = Holder::new("replica-a", std::time::Duration::from_secs(30));
    let (thread, messages) = thread_with(&s, 3).await;
    let run = Run::new(thread.id.clone(), "agent");
    let started = s.begin_run(&me(), run.clone(), &holder, 2).await.unwrap();
    assert_eq!(started.run.id, run.id);
    assert_eq!(started.run.status, RunStatus::InProgress);
    assert!(started.run.started_at.is_some());
    assert_eq!(
        s.run(&thread.id, &run.id).await.unwrap(),
        Some(started.run.clone())
    );
    assert_eq!(
        Some(started.thread.clone()),
        s.thread(&me(), &thread.id).await.unwrap()
    );
    assert_eq!(started.messages, messages[..2]);
    // One active run per thread.
    let second = Run::new(thread.id.clone(), "agent");
    assert!(matches!(
        s.begin_run(&me(), second.clone(), &holder, 2).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(s.run(&thread.id, &second.id).await.unwrap(), None);
    // The holder completes it (a store that leases checks that it holds the lease).
    let done = s
        .transition_run(
            Transition::complete(
                &started.run,
                vec![reply(&run, "a")],
                Some(messages[1].id.clone()),
            )
            .by(&holder),
        )
        .await
        .unwrap();
    assert_eq!(done.run.status, RunStatus::Completed);
    let next = s.begin_run(&me(), second, &holder, 10).await.unwrap();
    assert_eq!(next.messages, messages[2..]);
    assert!(matches!(
        s.begin_run(&me(), Run::new("thread_missing", "agent"), &holder, 10)
            .await,
        Err(StoreError::NotFound)
    ));
}

/// [`ThreadStore::start_run`] stores the start and answers the run as stored, its thread
/// and the oldest unanswered messages up to the limit (never a reply, never one the cursor
/// passed); it refuses a run that is not `queued`, changing nothing.
pub async fn start_reads_thread_and_messages<S: ThreadStore>(s: S) {
    let (thread, messages) = thread_with(&s, 3).await;
    let run = Run::new(thread.id.clone(), "agent");
    s.create_run(run.clone()).await.unwrap();
    let started = s
        .start_run(&me(), Transition::start(&run), 2)
        .await
        .unwrap();
    assert_eq!(started.run.status, RunStatus::InProgress);
    assert_eq!(
        s.run(&thread.id, &run.id).await.unwrap(),
        Some(started.run.clone())
    );
    assert_eq!(
        Some(started.thread),
        s.thread(&me(), &thread.id).await.unwrap()
    );
    assert_eq!(started.messages, messages[..2]);
    // Only a queued run starts.
    assert!(matches!(
        s.start_run(&me(), Transition::start(&run), 2).await,
        Err(StoreError::RunState(RunStatus::InProgress))
    ));
    assert_eq!(
        s.run(&thread.id, &run.id).await.unwrap(),
        Some(started.run.clone())
    );
    apply(
        &s,
        Transition::complete(
            &started.run,
            vec![reply(&run, "answer")],
            Some(messages[1].id.clone()),
        ),
    )
    .await;
    // The next run reads what the cursor left: the third message, not the reply.
    let next = Run::new(thread.id.clone(), "agent");
    s.create_run(next.clone()).await.unwrap();
    let started = s
        .start_run(&me(), Transition::start(&next), 10)
        .await
        .unwrap();
    assert_eq!(started.messages, messages[2..]);
    apply(&s, Transition::request_cancel(&started.run)).await;
    // A cancelled run before its start is refused as a start.
    let last = Run::new(thread.id.clone(), "agent");
    apply(&s, Transition::cancelled(&started.run)).await;
    s.create_run(last.clone()).await.unwrap();
    apply(&s, Transition::request_cancel(&last)).await;
    assert!(matches!(
        s.start_run(&me(), Transition::start(&last), 10).await,
        Err(StoreError::RunState(RunStatus::Cancelling))
    ));
}

/// A started run is seen by reads and blocks new messages; the finished state wins over it.
pub async fn started_runs<S: ThreadStore>(s: S) {
    let (thread, messages) = thread_with(&s, 1).await;
    let run = Run::new(thread.id.clone(), "agent");
    s.create_run(run.clone()).await.unwrap();
    let started = apply(&s, Transition::start(&run)).await;
    assert_eq!(started.status, RunStatus::InProgress);
    assert!(started.started_at.is_some());
    // Reads see the started run, one by one and in lists; it still blocks new messages.
    assert_eq!(
        s.run(&thread.id, &run.id).await.unwrap(),
        Some(started.clone())
    );
    let runs = s
        .list_runs(&thread.id, &ListQuery::default())
        .await
        .unwrap();
    assert_eq!(runs.data, vec![started.clone()]);
    assert!(matches!(
        s.append_messages(&thread.id, vec![user(&thread, "late")])
            .await,
        Err(StoreError::Conflict(_))
    ));
    // The finished state wins, even right after the start.
    let done = apply(
        &s,
        Transition::complete(&run, Vec::new(), Some(messages[0].id.clone())),
    )
    .await;
    assert_eq!(done.status, RunStatus::Completed);
    assert_eq!(done.started_at, started.started_at);
    assert_eq!(
        s.run(&thread.id, &run.id).await.unwrap(),
        Some(done.clone())
    );
    let runs = s
        .list_runs(&thread.id, &ListQuery::default())
        .await
        .unwrap();
    assert_eq!(runs.data, vec![done]);
    let second = Run::new(thread.id.clone(), "agent");
    s.create_run(second.clone()).await.unwrap();
    complete(&s, second.clone(), Vec::new(), &messages[0].id).await;
    assert_eq!(
        s.run(&thread.id, &second.id)
            .await
            .expect("the store answers")
            .expect("the run is stored")
            .status,
        RunStatus::Completed
    );
}

/// The run state machine: each transition applies only from its states, atomically with its
/// replies; a refused one (a late cancel, a completion after a cancel) changes nothing.
pub async fn run_transitions<S: ThreadStore>(s: S) {
    let (thread, messages) = thread_with(&s, 1).await;
    let unanswered = s.unanswered(&thread.id, ALL).await.unwrap();

    // queued: cannot complete or be cancelled-without-cancelling; a second start is refused.
    let run = Run::new(thread.id.clone(), "agent");
    s.create_run(run.clone()).await.unwrap();
    let answered = Some(messages[0].id.clone());
    assert!(refused(
        s.transition_run(Transition::complete(
            &run,
            vec![reply(&run, "early")],
            answered.clone()
        ))
        .await,
        RunStatus::Queued
    ));
    assert!(refused(
        s.transition_run(Transition::cancelled(&run)).await,
        RunStatus::Queued
    ));
    apply(&s, Transition::start(&run)).await;
    assert!(refused(
        s.transition_run(Transition::start(&run)).await,
        RunStatus::InProgress
    ));

    // A cancel stored first wins over the completion: no reply, the cursor stays.
    let cancelling = apply(&s, Transition::request_cancel(&run)).await;
    assert_eq!(cancelling.status, RunStatus::Cancelling);
    assert!(refused(
        s.transition_run(Transition::request_cancel(&run)).await,
        RunStatus::Cancelling
    ));
    assert!(refused(
        s.transition_run(Transition::complete(
            &run,
            vec![reply(&run, "late")],
            answered.clone()
        ))
        .await,
        RunStatus::Cancelling
    ));
    assert_eq!(s.run(&thread.id, &run.id).await.unwrap(), Some(cancelling));
    let cancelled = apply(&s, Transition::cancelled(&run)).await;
    assert_eq!(cancelled.status, RunStatus::Cancelled);
    assert!(cancelled.cancelled_at.is_some());
    let of_run = ListQuery::new(10, Order::Asc).run_id(run.id.clone());
    assert!(
        s.list_messages(&thread.id, &of_run)
            .await
            .unwrap()
            .data
            .is_empty()
    );
    assert_eq!(s.unanswered(&thread.id, ALL).await.unwrap(), unanswered);

    // Terminal is final: a late cancel, a fail, an expiry or a restart change nothing.
    for t in [
        Transition::request_cancel(&run),
        Transition::fail(&run, RunError::server_error("late")),
        Transition::expire(&run),
        Transition::start(&run),
    ] {
        assert!(refused(s.transition_run(t).await, RunStatus::Cancelled));
    }
    assert_eq!(s.fail_interrupted_runs(1).await.unwrap(), 0);
    assert_eq!(s.run(&thread.id, &run.id).await.unwrap(), Some(cancelled));

    // A cancel of a completed run is refused and changes nothing.
    let run = Run::new(thread.id.clone(), "agent");
    s.create_run(run.clone()).await.unwrap();
    let replies = vec![reply(&run, "done")];
    let done = complete(&s, run.clone(), replies.clone(), &messages[0].id).await;
    assert!(refused(
        s.transition_run(Transition::request_cancel(&run)).await,
        RunStatus::Completed
    ));
    assert_eq!(s.run(&thread.id, &run.id).await.unwrap(), Some(done));
    let of_run = ListQuery::new(10, Order::Asc).run_id(run.id.clone());
    assert_eq!(
        s.list_messages(&thread.id, &of_run).await.unwrap().data,
        replies
    );
    assert!(s.unanswered(&thread.id, ALL).await.unwrap().is_empty());

    // A cancel of a queued run; failing from cancelling keeps the error; expiring.
    let run = Run::new(thread.id.clone(), "agent");
    s.create_run(run.clone()).await.unwrap();
    apply(&s, Transition::request_cancel(&run)).await;
    assert!(refused(
        s.transition_run(Transition::start(&run)).await,
        RunStatus::Cancelling
    ));
    let failed = apply(&s, Transition::fail(&run, RunError::server_error("boom"))).await;
    assert_eq!(failed.status, RunStatus::Failed);
    assert_eq!(failed.last_error.unwrap().message, "boom");
    assert!(failed.failed_at.is_some());
    let run = Run::new(thread.id.clone(), "agent");
    s.create_run(run.clone()).await.unwrap();
    assert_eq!(
        apply(&s, Transition::expire(&run)).await.status,
        RunStatus::Expired
    );
    // The thread is free again.
    s.append_messages(&thread.id, vec![user(&thread, "again")])
        .await
        .unwrap();

    // A run under the wrong thread is not found.
    let (other, _) = thread_with(&s, 0).await;
    let mut misplaced = Run::new(thread.id.clone(), "agent");
    s.create_run(misplaced.clone()).await.unwrap();
    misplaced.thread_id = other.id.clone();
    assert!(matches!(
        s.transition_run(Transition::start(&misplaced)).await,
        Err(StoreError::NotFound)
    ));
}

/// A cancel racing a completion, from two tasks, many times: exactly one wins each time, and
/// the run's replies are stored if and only if it completed. Spawns tasks: call it inside a
/// tokio runtime.
pub async fn cancel_races_completion<S: ThreadStore>(s: S) {
    let s = Arc::new(s);
    let (thread, _) = thread_with(&*s, 0).await;
    let (mut completed, mut cancelled) = (0, 0);
    for i in 0..40 {
        let m = user(&thread, &i.to_string());
        s.append_messages(&thread.id, vec![m.clone()])
            .await
            .unwrap();
        let run = Run::new(thread.id.clone(), "agent");
        s.create_run(run.clone()).await.unwrap();
        apply(&*s, Transition::start(&run)).await;
        let canceller = {
            let (s, run) = (Arc::clone(&s), run.clone());
            tokio::spawn(async move { s.transition_run(Transition::request_cancel(&run)).await })
        };
        let completion = Transition::complete(&run, vec![reply(&run, "re")], Some(m.id.clone()));
        let completer = {
            let s = Arc::clone(&s);
            tokio::spawn(async move { s.transition_run(completion).await })
        };
        let (cancel, complete) = (canceller.await.unwrap(), completer.await.unwrap());
        assert!(
            cancel.is_ok() != complete.is_ok(),
            "exactly one wins: {cancel:?} / {complete:?}"
        );
        if cancel.is_ok() {
            assert!(refused(complete, RunStatus::Cancelling));
            apply(&*s, Transition::cancelled(&run)).await;
        } else {
            assert!(refused(cancel, RunStatus::Completed));
        }
        let stored = s.run(&thread.id, &run.id).await.unwrap().unwrap();
        let of_run = ListQuery::new(10, Order::Asc).run_id(run.id.clone());
        let replies = s.list_messages(&thread.id, &of_run).await.unwrap().data;
        let unanswered = s.unanswered(&thread.id, ALL).await.unwrap();
        match stored.status {
            RunStatus::Completed => {
                completed += 1;
                assert_eq!(texts(&replies), ["re"]);
                assert!(unanswered.is_empty());
            }
            RunStatus::Cancelled => {
                cancelled += 1;
                assert!(replies.is_empty());
                assert!(unanswered.contains(&m));
            }
            other => panic!("run left {other:?}"),
        }
    }
    assert_eq!(completed + cancelled, 40);
}

/// One active run per thread: every non-terminal status blocks a second run and new messages; runs list in creation order.
pub async fn run_conflicts<S: ThreadStore>(s: S) {
    let (thread, messages) = thread_with(&s, 1).await;
    let run = Run::new(thread.id.clone(), "agent");
    s.create_run(run.clone()).await.unwrap();
    assert_eq!(s.run(&thread.id, &run.id).await.unwrap(), Some(run.clone()));

    let blocked = |thread: Thread| {
        let s = &s;
        async move {
            assert!(matches!(
                s.create_run(Run::new(thread.id.clone(), "agent")).await,
                Err(StoreError::Conflict(_))
            ));
            assert!(matches!(
                s.append_messages(&thread.id, vec![user(&thread, "late")])
                    .await,
                Err(StoreError::Conflict(_))
            ));
        }
    };
    // Every non-terminal status blocks a second run and new messages: those the state
    // machine reaches, and those a run can be created with (a status of a later version).
    blocked(thread.clone()).await;
    apply(&s, Transition::start(&run)).await;
    blocked(thread.clone()).await;
    apply(&s, Transition::request_cancel(&run)).await;
    blocked(thread.clone()).await;
    for status in [RunStatus::RequiresAction, RunStatus::from("thinking_hard")] {
        let (t, _) = thread_with(&s, 0).await;
        let mut r = Run::new(t.id.clone(), "agent");
        r.status = status;
        s.create_run(r.clone()).await.unwrap();
        assert_eq!(s.run(&t.id, &r.id).await.unwrap(), Some(r));
        blocked(t).await;
    }
    // A run of another thread changes nothing here.
    let (other, _) = thread_with(&s, 0).await;
    s.create_run(Run::new(other.id.clone(), "agent"))
        .await
        .unwrap();
    // A transition of an unknown run is NotFound.
    assert!(matches!(
        s.transition_run(Transition::start(&Run::new(thread.id.clone(), "agent")))
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(s.run(&other.id, &run.id).await.unwrap(), None);

    // Terminal: new messages and a new run are accepted again.
    let ended = apply(&s, Transition::cancelled(&run)).await;
    assert_eq!(s.run(&thread.id, &run.id).await.unwrap(), Some(ended));
    s.append_messages(&thread.id, vec![user(&thread, "now")])
        .await
        .unwrap();
    let second = Run::new(thread.id.clone(), "agent");
    s.create_run(second.clone()).await.unwrap();
    complete(&s, second.clone(), Vec::new(), &messages[0].id).await;
    let third = Run::new(thread.id.clone(), "agent");
    s.create_run(third.clone()).await.unwrap();

    // Runs list in creation order.
    let p = s
        .list_runs(&thread.id, &ListQuery::new(10, Order::Asc))
        .await
        .unwrap();
    assert_eq!(
        ids(&p, |r| &r.id),
        [run.id.clone(), second.id.clone(), third.id.clone()]
    );
    assert!(!p.has_more);
    let p = s
        .list_runs(&thread.id, &ListQuery::new(2, Order::Desc))
        .await
        .unwrap();
    assert_eq!(ids(&p, |r| &r.id), [third.id.clone(), second.id.clone()]);
    assert!(p.has_more);
    let p = s
        .list_runs(
            &thread.id,
            &ListQuery::new(2, Order::Desc).after(second.id.clone()),
        )
        .await
        .unwrap();
    assert_eq!(ids(&p, |r| &r.id), std::slice::from_ref(&run.id));
    assert!(!p.has_more);
    let p = s
        .list_runs(
            &thread.id,
            &ListQuery::new(5, Order::Asc).before(third.id.clone()),
        )
        .await
        .unwrap();
    assert_eq!(ids(&p, |r| &r.id), [run.id.clone(), second.id.clone()]);
    // The run_id filter is for messages; runs ignore it.
    let p = s
        .list_runs(&thread.id, &ListQuery::new(5, Order::Asc).run_id("run_x"))
        .await
        .unwrap();
    assert_eq!(p.data.len(), 3);
}

/// The agent's cursor: what is unanswered, moved atomically by a run's completion, never backwards, never by failed runs or unknown ids, per thread.
pub async fn unanswered_and_cursor<S: ThreadStore>(s: S) {
    let (thread, messages) = thread_with(&s, 2).await;
    assert_eq!(s.unanswered(&thread.id, ALL).await.unwrap(), messages);

    let run = Run::new(thread.id.clone(), "agent");
    s.create_run(run.clone()).await.unwrap();
    apply(&s, Transition::start(&run)).await;
    let done = s
        .transition_run(Transition::complete(
            &run,
            vec![reply(&run, "hello")],
            Some(messages[1].id.clone()),
        ))
        .await
        .unwrap();
    assert_eq!(texts(&done.replies), ["hello"]);
    let done = done.run;
    // One atomic step: run state, replies, cursor.
    assert_eq!(s.run(&thread.id, &run.id).await.unwrap(), Some(done));
    assert!(s.unanswered(&thread.id, ALL).await.unwrap().is_empty());

    // Replies are never unanswered, even when after the cursor.
    let m2 = user(&thread, "2");
    let m3 = user(&thread, "3");
    s.append_messages(&thread.id, vec![m2.clone(), m3.clone()])
        .await
        .unwrap();
    assert_eq!(
        s.unanswered(&thread.id, ALL).await.unwrap(),
        vec![m2.clone(), m3.clone()]
    );

    // A failed run answers nothing: the cursor stays.
    let failed = Run::new(thread.id.clone(), "agent");
    s.create_run(failed.clone()).await.unwrap();
    apply(&s, Transition::start(&failed)).await;
    apply(
        &s,
        Transition::fail(&failed, RunError::server_error("boom")),
    )
    .await;
    assert_eq!(
        s.unanswered(&thread.id, ALL).await.unwrap(),
        vec![m2.clone(), m3.clone()]
    );

    // A cursor that names no message of the thread leaves it where it is.
    let run = Run::new(thread.id.clone(), "agent");
    s.create_run(run.clone()).await.unwrap();
    complete(&s, run, Vec::new(), "msg_unknown").await;
    assert_eq!(s.unanswered(&thread.id, ALL).await.unwrap().len(), 2);

    // Answering only the first leaves the second.
    let run = Run::new(thread.id.clone(), "agent");
    s.create_run(run.clone()).await.unwrap();
    complete(&s, run.clone(), vec![reply(&run, "re 2")], &m2.id).await;
    assert_eq!(
        s.unanswered(&thread.id, ALL).await.unwrap(),
        vec![m3.clone()]
    );

    // The cursor never moves back.
    let run = Run::new(thread.id.clone(), "agent");
    s.create_run(run.clone()).await.unwrap();
    complete(&s, run, Vec::new(), &messages[0].id).await;
    assert_eq!(
        s.unanswered(&thread.id, ALL).await.unwrap(),
        vec![m3.clone()]
    );
    let run = Run::new(thread.id.clone(), "agent");
    s.create_run(run.clone()).await.unwrap();
    complete(&s, run, Vec::new(), &m3.id).await;
    assert!(s.unanswered(&thread.id, ALL).await.unwrap().is_empty());

    // Cursors are per thread.
    let (other, other_messages) = thread_with(&s, 1).await;
    assert_eq!(s.unanswered(&other.id, ALL).await.unwrap(), other_messages);
}

/// `unanswered` returns at most its limit, the oldest first, bounded in the store: replies
/// piled up after the cursor (more of them than the limit) never hide the messages behind them,
/// and answering a bounded batch leaves the rest for the next run, in order.
pub async fn unanswered_is_bounded<S: ThreadStore>(s: S) {
    let (thread, messages) = thread_with(&s, 5).await;
    assert_eq!(s.unanswered(&thread.id, 2).await.unwrap(), messages[..2]);
    assert_eq!(s.unanswered(&thread.id, 5).await.unwrap(), messages);
    assert_eq!(s.unanswered(&thread.id, 6).await.unwrap(), messages);
    assert!(s.unanswered(&thread.id, 0).await.unwrap().is_empty());
    assert!(matches!(
        s.unanswered("thread_missing", 1).await,
        Err(StoreError::NotFound)
    ));

    // A run answers the first two, with three replies each (six after the backlog).
    let run = Run::new(thread.id.clone(), "agent");
    s.create_run(run.clone()).await.unwrap();
    let replies: Vec<Message> = (0..6).map(|i| reply(&run, &format!("re {i}"))).collect();
    complete(&s, run, replies, &messages[1].id).await;
    assert_eq!(s.unanswered(&thread.id, 2).await.unwrap(), messages[2..4]);
    assert_eq!(s.unanswered(&thread.id, ALL).await.unwrap(), messages[2..]);

    // The rest answered: only replies follow the cursor, then one new message.
    let run = Run::new(thread.id.clone(), "agent");
    s.create_run(run.clone()).await.unwrap();
    let replies: Vec<Message> = (0..6).map(|i| reply(&run, &format!("re {i}"))).collect();
    complete(&s, run, replies, &messages[4].id).await;
    assert!(s.unanswered(&thread.id, 2).await.unwrap().is_empty());
    let late = user(&thread, "late");
    let later = user(&thread, "later");
    s.append_messages(&thread.id, vec![late.clone(), later.clone()])
        .await
        .unwrap();
    // Six replies between the cursor and the new messages, a limit of one.
    assert_eq!(
        s.unanswered(&thread.id, 1).await.unwrap(),
        vec![late.clone()]
    );
    assert_eq!(
        s.unanswered(&thread.id, 2).await.unwrap(),
        vec![late, later]
    );
}

/// `fail_interrupted_runs` fails exactly the queued and in-progress runs, with a `last_error`, once.
pub async fn fail_interrupted_runs<S: ThreadStore>(s: S) {
    let (a, _) = thread_with(&s, 1).await;
    let (b, _) = thread_with(&s, 1).await;
    let (c, _) = thread_with(&s, 1).await;
    let queued = Run::new(a.id.clone(), "agent");
    s.create_run(queued.clone()).await.unwrap();
    let working = Run::new(b.id.clone(), "agent");
    s.create_run(working.clone()).await.unwrap();
    let working = apply(&s, Transition::start(&working)).await;
    let done = Run::new(c.id.clone(), "agent");
    s.create_run(done.clone()).await.unwrap();
    let done = complete(&s, done, Vec::new(), "msg_none").await;

    let now = 1_900_000_000;
    assert_eq!(s.fail_interrupted_runs(now).await.unwrap(), 2);
    for (thread, run) in [(&a, &queued), (&b, &working)] {
        let stored = s
            .run(&thread.id, &run.id)
            .await
            .expect("the store answers")
            .expect("the run is stored");
        assert_eq!(stored.status, RunStatus::Failed);
        assert_eq!(stored.failed_at, Some(now));
        let error = stored.last_error.unwrap();
        assert_eq!(error.code, "server_error");
        assert!(!error.message.is_empty());
        assert_eq!(stored.started_at, run.started_at);
    }
    assert_eq!(s.run(&c.id, &done.id).await.unwrap(), Some(done));
    assert_eq!(s.fail_interrupted_runs(now).await.unwrap(), 0);
    // The threads take new runs again.
    s.create_run(Run::new(a.id.clone(), "agent")).await.unwrap();
}

/// Unknown fields and the exact text of numbers survive storage of threads, messages and runs.
pub async fn unknown_fields_survive<S: ThreadStore>(s: S) {
    // Numbers keep their exact text (`1.10`, `0.70`), unknown fields their place.
    let thread: Thread = serde_json::from_str(
        r#"{"id": "thread_lossless", "object": "thread", "created_at": 1700000000,
            "metadata": {"actors": "[]", "k": "v"}, "tool_resources": null,
            "x_vendor": {"exact": 1.10, "big": 123456789012345678901234567890}}"#,
    )
    .unwrap();
    let message: Message = serde_json::from_str(
        r#"{"id": "msg_lossless", "object": "thread.message", "created_at": 1700000001,
            "thread_id": "thread_lossless", "role": "user",
            "content": [{"type": "text", "text": {"value": "hi", "annotations": []}}],
            "x_trace": [1, 2.50, "three"]}"#,
    )
    .unwrap();
    let run: Run = serde_json::from_str(
        r#"{"id": "run_lossless", "object": "thread.run", "created_at": 1700000002,
            "assistant_id": "agent", "thread_id": "thread_lossless", "status": "queued",
            "temperature": 0.70, "x_budget": "12.500"}"#,
    )
    .unwrap();
    s.create_thread(&me(), thread.clone(), vec![message.clone()])
        .await
        .unwrap();
    s.create_run(run.clone()).await.unwrap();
    let back = s
        .thread(&me(), &thread.id)
        .await
        .expect("the store answers")
        .expect("the thread is stored");
    assert_eq!(
        serde_json::to_value(&back).unwrap(),
        serde_json::to_value(&thread).unwrap()
    );
    assert_eq!(back, thread);
    assert_eq!(
        s.message(&thread.id, &message.id).await.unwrap(),
        Some(message)
    );
    assert_eq!(s.run(&thread.id, &run.id).await.unwrap(), Some(run));
}

/// Writes from several tasks at once, reads in between: the writes all land, in order per
/// thread, and reads see only whole writes. Spawns tasks: call it inside a tokio runtime.
pub async fn concurrent_use<S: ThreadStore>(s: S) {
    let s = Arc::new(s);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            let (thread, _) = thread_with(&*s, 1).await;
            for i in 0..10 {
                s.append_messages(&thread.id, vec![user(&thread, &i.to_string())])
                    .await
                    .unwrap();
                let p = s
                    .list_messages(&thread.id, &ListQuery::new(100, Order::Asc))
                    .await
                    .unwrap();
                assert_eq!(p.data.len(), i + 2);
                assert!(s.thread(&me(), &thread.id).await.unwrap().is_some());
            }
            thread
        }));
    }
    for t in tasks {
        let thread = t.await.unwrap();
        let p = s
            .list_messages(&thread.id, &ListQuery::new(100, Order::Asc))
            .await
            .unwrap();
        let expected: Vec<String> = std::iter::once("0".to_owned())
            .chain((0..10).map(|i| i.to_string()))
            .collect();
        assert_eq!(texts(&p.data), expected);
    }
}

/// Message metadata updates and deletes, run metadata updates: the rest of the state stays,
/// pages and the agent's cursor see the change.
pub async fn modify_and_delete<S: ThreadStore>(s: S) {
    let (thread, messages) = thread_with(&s, 4).await;
    let mut tags = crate::thread::Metadata::new();
    tags.insert("tag", "x");
    let updated = s
        .set_message_metadata(&thread.id, &messages[1].id, tags.clone())
        .await
        .unwrap()
        .expect("the message exists");
    assert_eq!(updated.metadata, tags);
    assert_eq!(updated.text(), "1");
    let read = s
        .message(&thread.id, &messages[1].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.metadata.get("tag"), Some("x"));
    assert!(
        s.set_message_metadata(&thread.id, "msg_none", tags.clone())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.set_message_metadata("thread_none", &messages[1].id, tags.clone())
            .await
            .unwrap()
            .is_none()
    );

    // The agent answered "0" and "1"; deleting "0" leaves "2" and "3" unanswered.
    let run = Run::new(thread.id.clone(), "agent");
    s.create_run(run.clone()).await.unwrap();
    complete(&s, run.clone(), vec![reply(&run, "r")], &messages[1].id).await;
    assert!(s.delete_message(&thread.id, &messages[0].id).await.unwrap());
    assert!(!s.delete_message(&thread.id, &messages[0].id).await.unwrap());
    assert!(
        !s.delete_message("thread_none", &messages[1].id)
            .await
            .unwrap()
    );
    assert!(
        s.message(&thread.id, &messages[0].id)
            .await
            .unwrap()
            .is_none()
    );
    let all = s
        .list_messages(&thread.id, &ListQuery::new(10, Order::Asc))
        .await
        .unwrap();
    assert_eq!(texts(&all.data), ["1", "2", "3", "r"]);
    let after = s
        .list_messages(
            &thread.id,
            &ListQuery::new(1, Order::Asc).after(messages[1].id.clone()),
        )
        .await
        .unwrap();
    assert_eq!(texts(&after.data), ["2"]);
    assert!(after.has_more);
    assert_eq!(
        texts(&s.unanswered(&thread.id, ALL).await.unwrap()),
        ["2", "3"]
    );
    s.append_messages(&thread.id, vec![user(&thread, "4")])
        .await
        .unwrap();
    assert_eq!(
        texts(&s.unanswered(&thread.id, ALL).await.unwrap()),
        ["2", "3", "4"]
    );

    let run = s
        .set_run_metadata(&thread.id, &run.id, tags.clone())
        .await
        .unwrap()
        .expect("the run exists");
    assert_eq!(run.metadata, tags);
    assert_eq!(run.status, RunStatus::Completed);
    let read = s.run(&thread.id, &run.id).await.unwrap().unwrap();
    assert_eq!(
        (read.metadata, read.status),
        (tags.clone(), RunStatus::Completed)
    );
    assert!(
        s.set_run_metadata(&thread.id, "run_none", tags)
            .await
            .unwrap()
            .is_none()
    );
}
