// The payload is the last argument (axum's rule), whatever the kind of method.
use aitp::agent::ThreadCtx;
use aitp::capability::decisions::Decision;

struct Agent;

#[aitp::agent]
impl Agent {
    #[aitp::handler]
    async fn chosen(&self, d: Decision, cx: ThreadCtx) -> String {
        format!("{d:?} in {}", cx.thread_id())
    }

    #[aitp::on_text]
    fn said(&self, text: String, cx: ThreadCtx) -> String {
        format!("{text} in {}", cx.thread_id())
    }
}

fn main() {}
