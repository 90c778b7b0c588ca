//! Server-sent events of a run, read tolerantly.

use std::{
    collections::VecDeque,
    fmt,
    pin::Pin,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use aitp::thread::{
    ListQuery, Message, Order, Run, RunStatus,
    event::{Event, EventName},
};
use futures_util::{Stream, StreamExt, TryStreamExt, stream::BoxStream};
use reqwest::Response;

use crate::{Client, Error, Result};

/// The events of a streamed run, typed ([`Event`]: name and data, with [`Event::run`],
/// [`Event::message`] and [`Event::message_delta`]).
///
/// Reads OpenAI's `event:`/`data:` frames, NEAR AI's data-only `{"event", "data"}` frames,
/// comments, `\r\n` line ends and events this crate does not know (yielded with
/// [`EventName::Other`]); skips frames whose data is not JSON. Ends after the event that ends
/// the run (a terminal or `requires_action` run status, `error`, `done`), so servers that
/// never close the stream do not hang it; a silence longer than the client's timeout is an
/// [`Error::WaitTimeout`], a stream that closes before the run's end an [`Error::Stream`].
pub struct EventStream {
    inner: BoxStream<'static, Result<Event>>,
}

impl fmt::Debug for EventStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EventStream")
    }
}

/// What a finished stream produced.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct StreamOutcome {
    /// The last run the stream described.
    pub run: Option<Run>,
    /// The completed messages, in order.
    pub messages: Vec<Message>,
    /// The text of every `thread.message.delta`, concatenated.
    pub text: String,
    /// How many events were read.
    pub events: usize,
}

struct State {
    bytes: BoxStream<'static, reqwest::Result<Vec<u8>>>,
    buffer: Vec<u8>,
    idle: Duration,
    url: String,
    ended: bool,
}

impl EventStream {
    pub(crate) fn new(resp: Response, url: String, idle: Duration) -> Self {
        let bytes = resp.bytes_stream().map(|r| r.map(|b| b.to_vec())).boxed();
        Self::from_bytes(bytes, url, idle)
    }

    pub(crate) fn from_bytes(
        bytes: BoxStream<'static, reqwest::Result<Vec<u8>>>,
        url: String,
        idle: Duration,
    ) -> Self {
        let state = State {
            bytes,
            buffer: Vec::new(),
            idle,
            url,
            ended: false,
        };
        let inner = futures_util::stream::unfold(state, |mut s| async move {
            if s.ended {
                return None;
            }
            loop {
                if let Some(frame) = take_frame(&mut s.buffer) {
                    match parse_frame(&frame) {
                        Some(event) => {
                            if event.name.ends_run() {
                                s.ended = true;
                            }
                            return Some((Ok(event), s));
                        }
                        None => continue,
                    }
                }
                match tokio::time::timeout(s.idle, s.bytes.next()).await {
                    Err(_) => {
                        s.ended = true;
                        let e = Error::WaitTimeout {
                            what: format!("the next event of {}", s.url),
                            after: s.idle,
                        };
                        return Some((Err(e), s));
                    }
                    Ok(Some(Ok(chunk))) => s.buffer.extend_from_slice(&chunk),
                    Ok(Some(Err(e))) => {
                        s.ended = true;
                        return Some((Err(Error::Stream(format!("{}: {e}", s.url))), s));
                    }
                    Ok(None) => {
                        s.ended = true;
                        // A last frame without its blank line.
                        if !s.buffer.iter().all(u8::is_ascii_whitespace) {
                            let frame = std::mem::take(&mut s.buffer);
                            if let Some(event) = parse_frame(&frame) {
                                return Some((Ok(event), s));
                            }
                        }
                        let e = Error::Stream(format!(
                            "{} closed the stream before the run ended",
                            s.url
                        ));
                        return Some((Err(e), s));
                    }
                }
            }
        })
        .boxed();
        Self { inner }
    }

    /// The events of a run read by polling, for servers that answer a streamed run with its
    /// JSON (they ignore `stream: true`): the run's status as first answered and each change
    /// of it, then, once it completed, each message it posted (`thread.message.completed`)
    /// before the final status, then `done`. Polls as the client's wait policy says and gives
    /// up after its run timeout.
    pub(crate) fn polling(client: Client, run: Run) -> Self {
        struct Poll {
            client: Client,
            run: Run,
            interval: Duration,
            started: Instant,
            queue: VecDeque<Event>,
            ended: bool,
        }
        let policy = client.inner.wait.clone();
        let mut queue = VecDeque::new();
        queue.push_back(Event::run_status(&run));
        let state = Poll {
            interval: policy.initial_interval,
            started: Instant::now(),
            client,
            run,
            queue,
            ended: false,
        };
        let inner = futures_util::stream::unfold(state, move |mut s| {
            let policy = policy.clone();
            async move {
                loop {
                    if let Some(event) = s.queue.pop_front() {
                        return Some((Ok(event), s));
                    }
                    if s.ended {
                        return None;
                    }
                    if s.run.status.is_terminal() || s.run.status == RunStatus::RequiresAction {
                        s.ended = true;
                        let last = Event::run_status(&s.run);
                        if s.run.status == RunStatus::Completed {
                            let query = ListQuery::new(ListQuery::MAX_LIMIT, Order::Asc)
                                .run_id(s.run.id.clone());
                            let posted: Result<Vec<Message>> = s
                                .client
                                .messages(&s.run.thread_id)
                                .list(query)
                                .try_collect()
                                .await;
                            let posted = match posted {
                                Ok(p) => p,
                                Err(e) => return Some((Err(e), s)),
                            };
                            // A server that ignores `run_id` lists every message: keep the run's.
                            for m in posted
                                .iter()
                                .filter(|m| m.run_id.as_deref() == Some(&s.run.id))
                            {
                                s.queue
                                    .push_back(Event::new(EventName::MessageCompleted, m));
                            }
                        }
                        s.queue.push_back(last);
                        s.queue.push_back(Event::done());
                        continue;
                    }
                    if s.started.elapsed() > policy.run_timeout {
                        s.ended = true;
                        let e = Error::WaitTimeout {
                            what: format!(
                                "run {} to end (polled: the server does not stream)",
                                s.run.id
                            ),
                            after: policy.run_timeout,
                        };
                        return Some((Err(e), s));
                    }
                    tokio::time::sleep(s.interval).await;
                    s.interval = policy.next(s.interval);
                    let run = match s.client.runs(&s.run.thread_id).retrieve(&s.run.id).await {
                        Ok(r) => r,
                        Err(e) => {
                            s.ended = true;
                            return Some((Err(e), s));
                        }
                    };
                    let changed = run.status != s.run.status;
                    s.run = run;
                    if changed && !s.run.status.is_terminal() {
                        s.queue.push_back(Event::run_status(&s.run));
                    }
                }
            }
        })
        .boxed();
        Self { inner }
    }

    /// Reads the stream to its end: the last run, the completed messages, the streamed text.
    /// A run that did not complete is [`Error::RunNotCompleted`].
    pub async fn finish(mut self) -> Result<StreamOutcome> {
        let mut out = StreamOutcome::default();
        while let Some(event) = self.next().await {
            let event = event?;
            out.events += 1;
            if let Some(Ok(run)) = event.run() {
                out.run = Some(run);
            } else if event.name == EventName::MessageCompleted {
                if let Some(Ok(m)) = event.message() {
                    out.messages.push(m);
                }
            } else if let Some(Ok(delta)) = event.message_delta() {
                out.text.push_str(&delta.text());
            } else if event.name == EventName::Error {
                let message = event
                    .data
                    .get("message")
                    .and_then(|m| m.as_str())
                    .unwrap_or("an error event")
                    .to_owned();
                return Err(Error::Stream(message));
            }
        }
        match &out.run {
            Some(run) if run.status != aitp::thread::RunStatus::Completed => {
                Err(Error::RunNotCompleted(Box::new(run.clone())))
            }
            _ => Ok(out),
        }
    }
}

impl Stream for EventStream {
    type Item = Result<Event>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

/// Removes the first complete frame (up to a blank line) from `buffer`.
fn take_frame(buffer: &mut Vec<u8>) -> Option<Vec<u8>> {
    let mut i = 0;
    while i < buffer.len() {
        if buffer[i] == b'\n' {
            let rest = &buffer[i + 1..];
            let blank = match rest.first() {
                Some(b'\n') => Some(1),
                Some(b'\r') if rest.get(1) == Some(&b'\n') => Some(2),
                _ => None,
            };
            if let Some(n) = blank {
                let frame = buffer[..i].to_vec();
                buffer.drain(..i + 1 + n);
                return Some(frame);
            }
        }
        i += 1;
    }
    None
}

/// Parses one frame; `None` for frames without data or whose data is not JSON.
fn parse_frame(frame: &[u8]) -> Option<Event> {
    let text = String::from_utf8_lossy(frame);
    let mut name: Option<String> = None;
    let mut data: Vec<&str> = Vec::new();
    for line in text.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => name = Some(value.to_owned()),
            "data" => data.push(value),
            _ => {}
        }
    }
    if data.is_empty() {
        return None;
    }
    let data = data.join("\n");
    match Event::from_sse(name.as_deref(), &data) {
        Ok(e) => Some(e),
        Err(error) => {
            tracing::warn!(%error, data = %data, "skipping a stream frame that is not JSON");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(chunks: &[&str]) -> Vec<Result<Event>> {
        let chunks: Vec<reqwest::Result<Vec<u8>>> =
            chunks.iter().map(|c| Ok(c.as_bytes().to_vec())).collect();
        let s = EventStream::from_bytes(
            futures_util::stream::iter(chunks).boxed(),
            "test".into(),
            Duration::from_secs(1),
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(s.collect())
    }

    #[test]
    fn reads_openai_and_near_framing() {
        let run = r#"{"id":"run_1","object":"thread.run","thread_id":"t","assistant_id":"a","status":"completed","created_at":1}"#;
        let got = events(&[
            ": keep-alive\r\n\r\nevent: thread.run.created\ndata: {\"id\":\"run_1\",\"status\":\"queued\"}\n\n",
            "data: {\"event\": \"thread.custom\", \"data\": {}}\n\nevent: x\ndata: not json\n\n",
            &format!(
                "data: {{\"event\":\"thread.run.completed\",\"data\":{{\"id\":null,\"object\":\"thread.run.completed\",\"delta\":{run}}}}}\n\n"
            ),
            "data: {\"event\":\"thread.message.delta\",\"data\":{}}\n\n",
        ]);
        let names: Vec<String> = got
            .iter()
            .map(|e| e.as_ref().unwrap().name.to_string())
            .collect();
        assert_eq!(
            names,
            [
                "thread.run.created",
                "thread.custom",
                "thread.run.completed"
            ]
        );
        let run = got[2]
            .as_ref()
            .unwrap()
            .run()
            .expect("a run event")
            .expect("its run parses");
        assert_eq!(run.id, "run_1");
    }

    #[test]
    fn done_ends_and_early_close_is_an_error() {
        let got = events(&["event: done\ndata: [DONE]\n\n", "event: y\ndata: {}\n\n"]);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].as_ref().unwrap().name, EventName::Done);
        let got = events(&["event: thread.run.created\ndata: {}\n\n"]);
        assert!(matches!(got.last(), Some(Err(Error::Stream(_)))), "{got:?}");
    }
}
