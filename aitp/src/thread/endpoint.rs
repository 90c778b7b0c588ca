//! The paths of the Threads API, one list for the server that routes them and the client that
//! requests them.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// An endpoint of the Threads API: a path under the base URL (`http://host/v1`).
///
/// [`Endpoint::template`] is the path as OpenAI's OpenAPI document writes it
/// (`/threads/{thread_id}/runs/{run_id}`), which is also axum's route syntax;
/// [`Endpoint::path`] fills it with ids for a request.
///
/// ```
/// use aitp::thread::Endpoint;
/// assert_eq!(Endpoint::Run.template(), "/threads/{thread_id}/runs/{run_id}");
/// assert_eq!(Endpoint::Run.path(&["thread_1", "run_2"]), "/threads/thread_1/runs/run_2");
/// // An id cannot leave its path segment.
/// assert_eq!(Endpoint::Thread.path(&["a/../b"]), "/threads/a%2F..%2Fb");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Endpoint {
    /// `/threads`: create a thread (NEAR AI also lists them here).
    Threads,
    /// `/threads/runs`: create a thread and run it.
    ThreadsRuns,
    /// `/threads/{thread_id}`: retrieve, modify, delete a thread.
    Thread,
    /// `/threads/{thread_id}/messages`: create, list messages.
    Messages,
    /// `/threads/{thread_id}/messages/{message_id}`: retrieve, modify, delete a message.
    Message,
    /// `/threads/{thread_id}/runs`: create, list runs.
    Runs,
    /// `/threads/{thread_id}/runs/{run_id}`: retrieve, modify a run.
    Run,
    /// `/threads/{thread_id}/runs/{run_id}/cancel`: cancel a run.
    CancelRun,
    /// `/threads/{thread_id}/runs/{run_id}/submit_tool_outputs`: answer a run's tool calls.
    SubmitToolOutputs,
    /// `/threads/{thread_id}/runs/{run_id}/steps`: list a run's steps.
    RunSteps,
    /// `/threads/{thread_id}/runs/{run_id}/steps/{step_id}`: retrieve a run step.
    RunStep,
}

/// Everything but the characters an id may keep as they are in a path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

impl Endpoint {
    /// Every endpoint, in the order of OpenAI's document.
    pub const ALL: [Endpoint; 11] = [
        Self::Threads,
        Self::ThreadsRuns,
        Self::Thread,
        Self::Messages,
        Self::Message,
        Self::Runs,
        Self::Run,
        Self::CancelRun,
        Self::RunSteps,
        Self::RunStep,
        Self::SubmitToolOutputs,
    ];

    /// The path template, with `{thread_id}`-style placeholders.
    pub const fn template(self) -> &'static str {
        match self {
            Self::Threads => "/threads",
            Self::ThreadsRuns => "/threads/runs",
            Self::Thread => "/threads/{thread_id}",
            Self::Messages => "/threads/{thread_id}/messages",
            Self::Message => "/threads/{thread_id}/messages/{message_id}",
            Self::Runs => "/threads/{thread_id}/runs",
            Self::Run => "/threads/{thread_id}/runs/{run_id}",
            Self::CancelRun => "/threads/{thread_id}/runs/{run_id}/cancel",
            Self::SubmitToolOutputs => "/threads/{thread_id}/runs/{run_id}/submit_tool_outputs",
            Self::RunSteps => "/threads/{thread_id}/runs/{run_id}/steps",
            Self::RunStep => "/threads/{thread_id}/runs/{run_id}/steps/{step_id}",
        }
    }

    /// The path with its placeholders filled by `ids`, in order, each percent-encoded as one
    /// path segment. Placeholders without an id are left as they are.
    pub fn path(self, ids: &[&str]) -> String {
        let mut ids = ids.iter();
        self.template()
            .split('/')
            .map(|segment| {
                let id = segment.starts_with('{').then(|| ids.next()).flatten();
                match id {
                    Some(id) => utf8_percent_encode(id, SEGMENT).to_string(),
                    None => segment.to_owned(),
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_fill_in_order() {
        assert_eq!(
            Endpoint::RunStep.path(&["t", "r", "s p"]),
            "/threads/t/runs/r/steps/s%20p"
        );
        assert_eq!(Endpoint::Threads.path(&[]), "/threads");
        assert_eq!(
            Endpoint::Messages.path(&[]),
            "/threads/{thread_id}/messages"
        );
        let templates: std::collections::HashSet<_> =
            Endpoint::ALL.iter().map(|e| e.template()).collect();
        assert_eq!(templates.len(), Endpoint::ALL.len());
    }
}
