//! Any AITP agent as an MCP server: the gateway between the hosts people use (desktop chat
//! apps, IDEs: MCP clients) and AITP agents (AITP-T01 Threads API endpoints).
//!
//! An AITP agent's decisions, forms and quotes are questions to the user in the middle of a
//! conversation; MCP asks the user such questions in the middle of a tool call with
//! *elicitation*. The gateway maps one onto the other, so the host's own UI renders the
//! AITP capabilities.
//!
//! # The mapping
//!
//! | AITP (agent side) | MCP (host side) |
//! |---|---|
//! | a thread | the tool [`message_agent`](TOOL): `text` starts or continues a conversation (`thread_id` in, `thread_id` out); the replies come back as text content and as structured content (`replies`, `status`) |
//! | the agent's actors (`metadata.actors`: ids, declared capabilities, `description`) | the server's `instructions` and the tool's description ([`AgentProfile`]) |
//! | AITP-02 `request_decision` | an elicitation: a single choice (`choice`, `oneOf`) or, for `checkbox`/`products`, a multiple choice (`choices`, `anyOf`), each option titled with its name, price (as quoted) and description; products add `quantity_<id>` |
//! | the user's choice | the correlated `decision` (`request_decision_id`), sent at once; the call goes on until the agent answers with something that is not a request |
//! | AITP-03 `request_data` with inline fields | an elicitation whose schema is the form: required fields, types (`text`/`textarea`/`tel` → string, `email` → string/email, `number` → number, `select` → `oneOf` of the options, `combobox` → string), defaults |
//! | the filled form | the correlated `data` (`request_data_id`), checked against the form first: an answer that does not fit is shown again with what is wrong |
//! | a form MCP cannot express (`json_url`, an unknown field type), or a host without elicitation | a result with `status: "asks"` and `asks` (what the agent asks, the original message, and `answer_schema`): never a silent drop. The host answers by calling the tool with `thread_id` and `answer` |
//! | AITP-01 `quote` | an elicitation to accept the exact amount, currency, token and recipient (amounts as the quote's decimal strings, never floats); several options or methods add `pay_with` |
//! | accepted | the `payment` of exactly that option, built and signed by the configured [`Payer`] ([`Signer`]: an external command now, the SDK's signing when it lands) |
//! | declined (or cancelled) | nothing is paid and nothing is sent; `status: "declined"` |
//! | `payment_confirmation`, AITP error reports, other capabilities | text lines and the messages' JSON in `replies` (unknown capabilities pass through unchanged) |
//! | unreachable agent, failed run, timeout, malformed capability message | a tool error (`isError`) naming the cause, and the thread when there is one |
//!
//! # Serving
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use aitp_mcp::{Backend, Gateway, Payer};
//! let client = aitp_client::Client::builder("http://127.0.0.1:8080/v1").actor("me.near").build()?;
//! let gateway = Gateway::new(Backend::remote(client), Payer::new("me.near", "my-channel")).await?;
//! aitp_mcp::serve::stdio(gateway).await?;
//! # Ok(()) }
//! ```
//!
//! The `aitp-mcp` binary does this from the command line (`aitp-mcp URL`, `--http ADDR` for
//! streamable HTTP), and `aitp mcp URL` (the terminal client) runs it.
//!
//! The gateway speaks MCP up to protocol 2025-11-25, the versions in which a server asks the
//! client mid-call (`elicitation/create`). To learn a remote agent's actors for the
//! instructions, [`Gateway::new`] opens one thread on it (AITP agents declare themselves in
//! a new thread's `metadata.actors`; there is no other discovery).
#![deny(missing_docs)]

mod backend;
mod gateway;
mod payer;
mod profile;
pub mod question;
pub mod serve;

/// The AITP client the remote backend is built on ([`Backend::remote`] takes its `Client`).
pub use aitp_client;
pub use backend::{Backend, BackendError};
pub use gateway::{Gateway, TOOL};
pub use payer::{CommandSigner, KeySigner, Payer, SignError, Signer, Unsigned};
pub use profile::AgentProfile;
