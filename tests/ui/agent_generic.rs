// An agent is one concrete type.
use aitp::capability::decisions::Decision;

struct Agent<T> {
    inner: T,
}

#[aitp::agent]
impl<T: Send + Sync + 'static> Agent<T> {
    #[aitp::handler]
    async fn chosen(&self, d: Decision) -> String {
        format!("{d:?}")
    }
}

// Both an `actor_id` argument and an `actor_id` method.
struct Named;

#[aitp::agent(actor_id = "named")]
impl Named {
    fn actor_id(&self) -> &str {
        "also-named"
    }
}

fn main() {}
