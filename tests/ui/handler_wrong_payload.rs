// Each kind of method takes its kind of payload, last; the arguments before it are extractors.
use aitp::capability::decisions::Decision;

struct Agent;

#[aitp::agent]
impl Agent {
    #[aitp::handler]
    async fn text_as_handler(&self, text: String) -> String {
        text
    }

    #[aitp::on_text]
    async fn decision_as_text(&self, d: Decision) -> String {
        format!("{d:?}")
    }

    #[aitp::fallback]
    fn text_as_fallback(&self, text: String) -> String {
        text
    }

    #[aitp::handler]
    fn not_an_extractor(&self, n: u32, d: Decision) -> String {
        format!("{d:?} {n}")
    }

    #[aitp::handler]
    fn not_replies(&self, d: Decision) -> u32 {
        let _ = d;
        7
    }
}

fn main() {}
