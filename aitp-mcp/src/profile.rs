//! Who the agent is, for the MCP host: its actor ids, what it declares it can do
//! (`metadata.actors[].capabilities`) and its description, rendered into the server's
//! instructions and the tool's description so the host's model knows what it talks to.

use aitp::{capability::AitpCapability, thread::Actor};

use crate::question::{ACCEPT, CHOICE, CHOICES};

/// What the host is told about the agent.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct AgentProfile {
    /// The agent's actors (usually one), as they declared themselves.
    pub actors: Vec<Actor>,
    /// What the agent is for, for people.
    pub description: Option<String>,
    /// Where it is (its base URL), for people.
    pub location: String,
}

impl AgentProfile {
    /// A profile of `actors` at `location`; the description is taken from the first actor's
    /// `description` field when it declares one.
    pub fn new(actors: Vec<Actor>, location: impl Into<String>) -> Self {
        let description = actors.iter().find_map(|a| {
            a.extra
                .get("description")
                .and_then(|d| d.as_str())
                .map(str::to_owned)
        });
        Self {
            actors,
            description,
            location: location.into(),
        }
    }

    /// Replaces the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// The agent's name for people: its first actor id, or "the agent".
    pub fn name(&self) -> String {
        self.actors
            .first()
            .map_or_else(|| "the agent".to_owned(), |a| a.id.clone())
    }

    /// The declared capabilities, one line each: AITP ones by name and what they mean here,
    /// others by URL (passed through as they are).
    pub fn capability_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for declaration in self.actors.iter().flat_map(|a| &a.capabilities) {
            let line = match declaration.id() {
                Ok(id) => match id.aitp() {
                    Some(cap) => format!("{} v{}: {}", id.name(), id.version(), meaning(cap)),
                    None => format!("{} (shown as its JSON)", declaration.url()),
                },
                Err(_) => format!("{} (shown as its JSON)", declaration.url()),
            };
            if !lines.contains(&line) {
                lines.push(line);
            }
        }
        lines
    }

    /// The MCP server's instructions.
    pub fn instructions(&self, tool: &str) -> String {
        let mut s = format!(
            "This server is a gateway to {}, an AITP agent at {}.",
            self.name(),
            self.location
        );
        if let Some(d) = &self.description {
            s.push_str(&format!(" {d}"));
        }
        let caps = self.capability_lines();
        if caps.is_empty() {
            s.push_str("\nThe agent declares no AITP capabilities: it talks in text.");
        } else {
            s.push_str("\nThe agent declares these capabilities:");
            for c in caps {
                s.push_str(&format!("\n- {c}"));
            }
        }
        s.push_str(&format!(
            "\nTalk to it with the `{tool}` tool. When it asks the user something (a choice, a \
             form, a payment), the gateway shows the question as an elicitation if the host \
             supports it; otherwise the result's `asks` says what the agent asks, and you answer \
             by calling `{tool}` again with the `thread_id` and an `answer` that fits \
             `asks.answer_schema`. Pay a quote (`{ACCEPT}: true`) only when the user said so."
        ));
        s
    }

    /// The tool's description.
    pub fn tool_description(&self) -> String {
        let mut s = format!("Send a message to {}", self.name());
        if let Some(d) = &self.description {
            s.push_str(&format!(" ({d})"));
        }
        s.push_str(
            ", an AITP agent, and get its replies as text and structured content. Start a \
             conversation with `text`; continue it with the `thread_id` of an earlier result.",
        );
        let caps = self.capability_lines();
        if !caps.is_empty() {
            s.push_str(&format!(" It declares: {}.", caps.join("; ")));
        }
        s.push_str(&format!(
            " When the result has `asks`, the agent waits for the user: answer with `thread_id` \
             and `answer` (an object fitting `asks.answer_schema`: `{CHOICE}` or `{CHOICES}` for \
             a choice, the field ids for a form, `{ACCEPT}` for a quote)."
        ));
        s
    }
}

/// What an AITP capability means for the user of the gateway.
fn meaning(cap: AitpCapability) -> &'static str {
    match cap.slug() {
        "aitp-01-payments" => "quotes to accept and pay (exact amounts), payment confirmations",
        "aitp-02-decisions" => "choices among options (names, descriptions, prices)",
        "aitp-03-data-request" => "forms to fill in",
        "aitp-04-near-wallet" => "NEAR wallet transactions (shown, not signed by the gateway)",
        "aitp-05-evm-wallet" => "EVM wallet transactions (shown, not signed by the gateway)",
        _ => "shown as its JSON",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instructions_name_the_agent_its_description_and_capabilities() {
        let mut actor = Actor::all_v1("shop.near");
        actor
            .extra
            .insert("description".into(), "Sells hiking gear.".into());
        let p = AgentProfile::new(vec![actor], "http://127.0.0.1:1/v1");
        let i = p.instructions("message_agent");
        assert!(i.contains("shop.near"), "{i}");
        assert!(i.contains("Sells hiking gear."), "{i}");
        assert!(i.contains("aitp-02-decisions"), "{i}");
        assert!(i.contains("message_agent"), "{i}");
        let t = p.tool_description();
        assert!(t.contains("aitp-01-payments"), "{t}");
        assert!(t.contains("Sells hiking gear."), "{t}");
    }
}
