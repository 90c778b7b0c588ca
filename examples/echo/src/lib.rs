//! The echo agent: answers text with `echo: <text>`, and any capability message with a
//! one-line description of it, which makes it a handy peer for trying a client.
//!
//! `cargo run -p example-echo` (`src/main.rs`) serves it on the Threads API; tests and
//! benches serve [`echo_agent`] in-process.

use aitp::{
    agent::Router,
    capability::{AitpCapability, Envelope},
};
use aitp_examples::describe;

/// The echo agent: answers text with `echo: <text>`, and any capability message with a text
/// summary of it ([`describe`]), including whether it passes its schema's validation.
///
/// It declares every AITP v1 capability, so clients that negotiate see that it takes them
/// all; nothing is handled by type, everything goes to the fallback.
pub fn echo_agent() -> Router {
    let mut router = Router::new()
        .actor_id("aitp-rs-echo")
        .on_text(echo_text)
        .fallback(echo_message);
    for capability in AitpCapability::ALL {
        router = router.declare(capability.v1());
    }
    router
}

async fn echo_text(text: String) -> String {
    tracing::info!(%text, "echoing text");
    format!("echo: {text}")
}

async fn echo_message(message: Envelope) -> String {
    tracing::info!(
        key = message.key(),
        schema = message.schema(),
        "describing a capability message"
    );
    format!("echo: {}", describe(&message))
}

#[cfg(test)]
mod tests {
    use aitp::{
        agent::Reply,
        capability::decisions::RequestDecision,
        thread::{Content, Message, Role, Thread},
    };

    use super::*;

    #[tokio::test]
    async fn echo_answers_text_and_describes_messages() {
        let agent = echo_agent();
        assert_eq!(agent.capabilities().len(), AitpCapability::ALL.len());
        let thread = Thread::new();

        let hello = Message::new(&thread.id, Role::User, vec![Content::text("hello")]);
        let replies = agent.dispatch_one(thread.clone(), hello).await;
        assert_eq!(replies, vec![Reply::Text("echo: hello".into())]);

        let ask = Envelope::from(RequestDecision::radio("size", ["S", "M"]).build());
        let message = Message::new(&thread.id, Role::User, vec![Content::aitp(&ask)]);
        let replies = agent.dispatch_one(thread, message).await;
        let [Reply::Text(text)] = replies.as_slice() else {
            panic!("one text reply expected: {replies:?}");
        };
        assert!(
            text.starts_with("echo: aitp-02-decisions `request_decision` size"),
            "{text}"
        );
        assert!(text.ends_with("(valid)"), "{text}");
    }
}
