// A handler answers one message type.
use aitp::agent::ThreadCtx;
use aitp::capability::decisions::{Decision, RequestDecision};

struct Agent;

#[aitp::agent]
impl Agent {
    #[aitp::handler]
    async fn both(&self, d: Decision, cx: ThreadCtx, r: RequestDecision) -> String {
        let _ = (d, r);
        cx.thread_id().to_owned()
    }
}

fn main() {}
