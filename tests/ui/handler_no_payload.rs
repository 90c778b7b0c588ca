// A handler needs the message it answers, as its last argument.
use aitp::agent::ThreadCtx;

struct Agent;

#[aitp::agent]
impl Agent {
    #[aitp::handler]
    async fn nothing(&self, cx: ThreadCtx) -> String {
        cx.thread_id().to_owned()
    }
}

fn main() {}
