//! The run state machine: conditional transitions a store applies atomically.
//!
//! A run's status is only ever changed through a [`Transition`], which names the states it may
//! start from. The store checks the stored status and applies the change (with a completed
//! run's replies and the cursor move) in one atomic step, or refuses with
//! [`StoreError::RunState`](super::StoreError::RunState) and changes nothing. So two writers
//! racing on one run (a cancel and the executor's completion, or two replicas) can never
//! overwrite each other: exactly one of them wins, and the loser sees what won.
//!
//! ```text
//! queued ──start──▶ in_progress ──complete──▶ completed
//!   │                   │
//!   ├──request_cancel───┴──▶ cancelling ──cancelled──▶ cancelled
//!   │                   │        │
//!   └──fail / expire────┴────────┴──▶ failed | expired
//! ```

use super::{Holder, StoreError, StoreResult};
use crate::thread::{Message, Run, RunError, RunStatus, Thread, unix_now};

/// Where failing or expiring may start from: every non-terminal state but `requires_action`.
const LIVE: &[RunStatus] = &[
    RunStatus::Queued,
    RunStatus::InProgress,
    RunStatus::Cancelling,
];
const QUEUED: &[RunStatus] = &[RunStatus::Queued];
const STARTED: &[RunStatus] = &[RunStatus::InProgress];
const CANCELLABLE: &[RunStatus] = &[RunStatus::Queued, RunStatus::InProgress];
const CANCELLING: &[RunStatus] = &[RunStatus::Cancelling];

/// A conditional change of one run's status. Built only by its named constructors, so every
/// transition a store is asked to apply is an edge of the state machine.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "a transition does nothing until a store applies it"]
pub struct Transition {
    thread_id: String,
    run_id: String,
    from: &'static [RunStatus],
    to: RunStatus,
    last_error: Option<RunError>,
    replies: Vec<Message>,
    answered_up_to: Option<String>,
    at: i64,
    holder: Option<Holder>,
}

impl Transition {
    fn new(run: &Run, from: &'static [RunStatus], to: RunStatus) -> Self {
        Self {
            thread_id: run.thread_id.clone(),
            run_id: run.id.clone(),
            from,
            to,
            last_error: None,
            replies: Vec::new(),
            answered_up_to: None,
            at: unix_now(),
            holder: None,
        }
    }

    /// `queued → in_progress`: an executor took the run.
    pub fn start(run: &Run) -> Self {
        Self::new(run, QUEUED, RunStatus::InProgress)
    }

    /// `queued | in_progress → cancelling`: a client asked to cancel. Refused once the run
    /// is terminal (or already cancelling), which is how a late cancel learns it lost.
    pub fn request_cancel(run: &Run) -> Self {
        Self::new(run, CANCELLABLE, RunStatus::Cancelling)
    }

    /// `in_progress → completed`, storing `replies` (each should carry the run's id) and moving
    /// the agent's cursor to `answered_up_to` (the last message the run answered), all at
    /// once. Refused if a cancel got there first: then no reply is stored.
    pub fn complete(run: &Run, replies: Vec<Message>, answered_up_to: Option<String>) -> Self {
        let mut t = Self::new(run, STARTED, RunStatus::Completed);
        t.replies = replies;
        t.answered_up_to = answered_up_to;
        t
    }

    /// `cancelling → cancelled`: the executor honoured a cancel; no reply is stored.
    pub fn cancelled(run: &Run) -> Self {
        Self::new(run, CANCELLING, RunStatus::Cancelled)
    }

    /// `queued | in_progress | cancelling → failed` with `error` as `last_error`: the run
    /// cannot finish (its handler panicked, its replies could not be stored, its executor
    /// died).
    pub fn fail(run: &Run, error: RunError) -> Self {
        let mut t = Self::new(run, LIVE, RunStatus::Failed);
        t.last_error = Some(error);
        t
    }

    /// `queued | in_progress | cancelling → expired`: the run outlived its `expires_at`.
    pub fn expire(run: &Run) -> Self {
        Self::new(run, LIVE, RunStatus::Expired)
    }

    /// Stamps the transition with `at` (Unix seconds) instead of the time it was made.
    pub fn at(mut self, at: i64) -> Self {
        self.at = at;
        self
    }

    /// Makes the transition on behalf of `holder`, the replica executing the run. On a store
    /// that several processes share (see [`super::lease`]) a `start` claims the run's lease
    /// for it, and every other transition is fenced by that lease: refused with
    /// [`StoreError::LeaseLost`] if another replica holds it now. A terminal transition
    /// releases the lease. Single-process stores ignore the holder.
    pub fn by(mut self, holder: &Holder) -> Self {
        self.holder = Some(holder.clone());
        self
    }

    /// The replica the transition is made by, if any (see [`Transition::by`]).
    pub fn holder(&self) -> Option<&Holder> {
        self.holder.as_ref()
    }

    /// When the transition happens (Unix seconds): the time stamped on the run, the same on
    /// every store that applies it.
    pub fn time(&self) -> i64 {
        self.at
    }

    /// The run's thread.
    pub fn thread_id(&self) -> &str {
        &self.thread_id
    }

    /// The run.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The states the run must be in for the transition to apply.
    pub fn from(&self) -> &[RunStatus] {
        self.from
    }

    /// The state the run ends in.
    pub fn to(&self) -> &RunStatus {
        &self.to
    }

    /// The replies stored with the transition (only a completion has any).
    pub fn replies(&self) -> &[Message] {
        &self.replies
    }

    /// The message the agent's cursor moves to (only a completion moves it).
    pub fn answered_up_to(&self) -> Option<&str> {
        self.answered_up_to.as_deref()
    }

    /// Takes the replies and the cursor move out, for a store that moves them into storage.
    pub fn take_replies(&mut self) -> (Vec<Message>, Option<String>) {
        (
            std::mem::take(&mut self.replies),
            self.answered_up_to.take(),
        )
    }

    /// Checks `run`'s current status and changes it in place (status, its timestamp,
    /// `last_error`): what every store does with the stored run inside its atomic step.
    /// [`StoreError::RunState`] with the current status if the transition does not start
    /// there; `run` is then unchanged.
    pub fn apply(&self, run: &mut Run) -> StoreResult<()> {
        if !self.from.contains(&run.status) {
            return Err(StoreError::RunState(run.status.clone()));
        }
        if let Some(error) = &self.last_error {
            run.last_error = Some(error.clone());
        }
        let stamp = match self.to {
            RunStatus::InProgress => Some(&mut run.started_at),
            RunStatus::Completed => Some(&mut run.completed_at),
            RunStatus::Cancelled => Some(&mut run.cancelled_at),
            RunStatus::Failed => Some(&mut run.failed_at),
            _ => None,
        };
        if let Some(slot) = stamp {
            slot.get_or_insert(self.at);
        }
        run.status = self.to.clone();
        Ok(())
    }
}

/// What a store answers to an applied transition.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Transitioned {
    /// The run in its new state, as stored.
    pub run: Run,
    /// The replies as stored (a completion's; empty otherwise).
    pub replies: Vec<Message>,
}

impl Transitioned {
    /// A run's new state and its stored replies.
    pub fn new(run: Run, replies: Vec<Message>) -> Self {
        Self { run, replies }
    }
}

/// What a store answers to [`ThreadStore::start_run`](super::ThreadStore::start_run): the
/// started run with what its execution reads, as they were once the start was stored.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Started {
    /// The run, `in_progress`, as stored.
    pub run: Run,
    /// Its thread.
    pub thread: Thread,
    /// The messages the run answers: the thread's oldest unanswered ones, as
    /// [`ThreadStore::unanswered`](super::ThreadStore::unanswered) reads them.
    pub messages: Vec<Message>,
}

impl Started {
    /// A started run, its thread and the messages it answers.
    pub fn new(run: Run, thread: Thread, messages: Vec<Message>) -> Self {
        Self {
            run,
            thread,
            messages,
        }
    }
}
