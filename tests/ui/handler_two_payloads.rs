// A handler answers one message type: its last argument; the arguments before it are extractors.
use aitp::agent::ThreadCtx;
use aitp::capability::decisions::{Decision, RequestDecision};

struct Agent;

#[aitp::agent]
impl Agent {
    #[aitp::handler]
    async fn both(&self, cx: ThreadCtx, d: Decision, r: RequestDecision) -> String {
        let _ = (d, r);
        cx.thread_id().to_owned()
    }
}

fn main() {}
