// Where the agent attributes go, and what they take.
use aitp::agent::ThreadCtx;
use aitp::capability::decisions::Decision;

struct Agent;

#[aitp::agent(name = "shop")]
impl Agent {
    #[aitp::handler(decision)]
    async fn with_args(&self, d: Decision) -> String {
        format!("{d:?}")
    }

    #[aitp::handler]
    const NOT_A_METHOD: u32 = 1;

    #[aitp::handler]
    async fn by_value(self, d: Decision) -> String {
        format!("{d:?}")
    }

    #[aitp::handler]
    async fn mutable(&mut self, d: Decision) -> String {
        format!("{d:?}")
    }

    #[aitp::handler]
    async fn generic<T: Send>(&self, d: Decision) -> String {
        format!("{d:?}")
    }

    #[aitp::handler]
    fn by_reference(&self, cx: &ThreadCtx, d: Decision) -> String {
        format!("{d:?} {cx:?}")
    }

    #[aitp::handler]
    fn opaque(&self, _x: impl Send, d: Decision) -> String {
        format!("{d:?}")
    }

    #[aitp::fallback]
    fn no_arguments(&self) -> String {
        "nothing to answer".to_owned()
    }

    #[aitp::on_text]
    #[aitp::fallback]
    async fn two_roles(&self, text: String) -> String {
        text
    }

    #[aitp::on_text]
    async fn first_text(&self, text: String) -> String {
        text
    }

    #[aitp::on_text]
    async fn second_text(&self, text: String) -> String {
        text
    }
}

// Outside an #[aitp::agent] block.
struct Other;

impl Other {
    #[aitp::handler]
    async fn stray(&self, d: Decision) -> String {
        format!("{d:?}")
    }
}

// On the struct instead of the impl block.
#[aitp::agent]
struct Misplaced;

// On a trait implementation.
struct Displayed;

#[aitp::agent]
impl std::fmt::Display for Displayed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("displayed")
    }
}

fn main() {}
