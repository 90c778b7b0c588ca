//! The command line: subcommands, options and the environment variables behind them.

use std::ffi::OsString;

use clap::{Args, CommandFactory as _, Parser, Subcommand};

/// The exit statuses, for `--help` (the README repeats them).
const EXIT_CODES: &str = "\
Exit status:
  0    done
  1    the server or the network failed (HTTP errors, timeouts, a run that failed)
  2    the command line is wrong
  3    the thread does not exist
  4    the server cannot do it (no thread listing, no such assistant), or aitp-mcp is missing
  130  interrupted (Ctrl-C at a prompt)

Environment: AITP_URL, AITP_TOKEN, AITP_ASSISTANT, AITP_ACTOR, AITP_TIMEOUT, AITP_PAYER,
AITP_CHANNEL, AITP_KEY, AITP_SIGNER, AITP_PAYER_KEY, AITP_MERCHANT_KEYS stand for the options of
the same name. With AITP_URL set, URL
may be left out of any command.";

/// Talk to any AITP agent (a server of the OpenAI Assistants v2 Threads API) from a terminal.
#[derive(Debug, Parser)]
#[command(name = "aitp", version, after_help = EXIT_CODES, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Start a conversation with an agent: menus, forms and payments as prompts.
    #[command(after_help = "\
Examples:
  aitp chat http://127.0.0.1:8080/v1
  aitp chat https://api.example.com/v1 --token $KEY --assistant asst_123
  aitp chat http://127.0.0.1:8080/v1 --key ~/.near-credentials/mainnet/ada.near.json
  AITP_URL=http://127.0.0.1:8080/v1 aitp chat --payer ada.near --signer ./sign.sh --payer-key ed25519:...
  aitp chat http://127.0.0.1:8080/v1 --merchant-key shop.near=ed25519:... --merchant-key assistant.near=ed25519:...
  printf 'hi\\n1\\n2\\n' | aitp chat http://127.0.0.1:8080/v1   (plain prompts: one answer a line)

Payments are signed (ed25519 over the RFC 8785 canonical JSON of the payment, aitp::sign): with
--key, or by --signer checked against --payer-key. Without either, quotes are not paid unless
--unsigned says to pay without a signature. A quote is shown \"verified\" only when its merchant's
signature, and each affiliate's wrapper, verifies under a key given with --merchant-key.

Type /quit at any prompt to leave (Esc in a menu). Replies stream as the agent writes them;
servers that do not stream are polled.")]
    Chat(Box<ChatArgs>),
    /// Post a message (text, or a capability message as JSON) to a thread, and run the agent.
    #[command(after_help = "\
Examples:
  aitp send http://127.0.0.1:8080/v1 thread_abc 'hello' --run
  aitp send http://127.0.0.1:8080/v1 thread_abc \"$(cat decision.json)\" --run")]
    Send {
        #[command(flatten)]
        server: Server,
        /// The thread's id.
        thread: String,
        /// The text, or a capability message (JSON with its `$schema`).
        text: String,
        /// Run the agent afterwards and print its replies.
        #[arg(long)]
        run: bool,
    },
    /// Print a thread's messages (capability messages summarized).
    #[command(after_help = "\
Examples:
  aitp messages http://127.0.0.1:8080/v1 thread_abc
  AITP_URL=http://127.0.0.1:8080/v1 aitp messages thread_abc")]
    Messages {
        #[command(flatten)]
        server: Server,
        /// The thread's id.
        thread: String,
    },
    /// List threads, on servers that have a listing (OpenAI's API has none).
    #[command(after_help = "\
Examples:
  aitp threads https://hub.example.ai/v1 --token $TOKEN

OpenAI's Threads API cannot list threads: keep the ids `aitp chat` prints.")]
    Threads {
        #[command(flatten)]
        server: Server,
    },
    /// Run the agent on a thread and print the run's events as they stream.
    #[command(after_help = "\
Examples:
  aitp stream http://127.0.0.1:8080/v1 thread_abc
  aitp stream http://127.0.0.1:8080/v1 thread_abc --json   (one event a line, as JSON)")]
    Stream {
        #[command(flatten)]
        server: Server,
        /// The thread's id.
        thread: String,
        /// Print each event as one line of JSON `{\"event\", \"data\"}`.
        #[arg(long)]
        json: bool,
    },
    /// Print the JSON Schema of a capability.
    #[command(after_help = "\
Examples:
  aitp schema payments
  aitp schema decisions | jq .title

Capabilities: payments, decisions, data-request, near-wallet, evm-wallet, transactions.")]
    Schema {
        /// The capability (its slug, or a part of it).
        capability: String,
    },
    /// Print a shell completion script.
    #[command(after_help = "\
Examples:
  aitp completions bash > ~/.local/share/bash-completion/completions/aitp
  aitp completions zsh > ~/.zfunc/_aitp
  aitp completions fish > ~/.config/fish/completions/aitp.fish")]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Run `aitp-mcp`, the MCP gateway, for the agent at URL.
    #[command(after_help = "\
Examples:
  aitp mcp http://127.0.0.1:8080/v1

`aitp-mcp` is looked for next to `aitp`, then on PATH.")]
    Mcp {
        /// The agent's base URL.
        #[arg(env = "AITP_URL")]
        url: String,
        /// Passed on to `aitp-mcp`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
}

/// Where the agent is, and who we are to it.
#[derive(Debug, Clone, Args)]
pub(crate) struct Server {
    /// The agent's base URL: where `/threads` hangs off, such as http://127.0.0.1:8080/v1.
    #[arg(env = "AITP_URL")]
    pub(crate) url: String,
    /// A bearer token (an API key).
    #[arg(long, env = "AITP_TOKEN", hide_env_values = true, alias = "bearer")]
    pub(crate) token: Option<String>,
    /// The assistant id runs are created with (servers such as OpenAI's need a real one).
    #[arg(long, env = "AITP_ASSISTANT")]
    pub(crate) assistant: Option<String>,
    /// Our actor id, declared in the threads we create.
    #[arg(long, env = "AITP_ACTOR", default_value = "aitp-cli")]
    pub(crate) actor: String,
    /// Seconds to wait for one answer of the server.
    #[arg(long, env = "AITP_TIMEOUT", value_name = "SECS", default_value_t = 60)]
    pub(crate) timeout: u64,
}

/// `aitp chat`.
#[derive(Debug, Clone, Args)]
pub(crate) struct ChatArgs {
    #[command(flatten)]
    pub(crate) server: Server,
    /// The account that pays quotes (default: the key file's account, else the actor id).
    #[arg(long, env = "AITP_PAYER")]
    pub(crate) payer: Option<String>,
    /// A NEAR credentials file (`{"account_id", "public_key", "private_key": "ed25519:..."}`,
    /// as near-cli writes it) whose key signs payments.
    #[arg(
        long,
        env = "AITP_KEY",
        value_name = "FILE",
        conflicts_with = "unsigned"
    )]
    pub(crate) key: Option<std::path::PathBuf>,
    /// The payer's public key (`ed25519:<base58>`): payment signatures made by --signer must
    /// verify under it before they are sent.
    #[arg(long, env = "AITP_PAYER_KEY", value_name = "KEY")]
    pub(crate) payer_key: Option<aitp::sign::PublicKey>,
    /// Pay without signing (`"payer_signature": "unsigned"`), for agents that check nothing.
    /// An agent that checks payments refuses these.
    #[arg(long)]
    pub(crate) unsigned: bool,
    /// The payment channel to pay through.
    #[arg(long, env = "AITP_CHANNEL", default_value = "default")]
    pub(crate) channel: String,
    /// A command that signs: payments (the bytes to sign on stdin, `ed25519:<base64|base58>`
    /// on stdout; checked against --payer-key) and wallet requests (the request as JSON on
    /// stdin, the answer as JSON on stdout). `AITP_SIGN_KIND` tells it which (`payment`, or
    /// the request's key). --key signs payments instead when both are given.
    #[arg(long, env = "AITP_SIGNER", alias = "sign-with", value_name = "COMMAND")]
    pub(crate) signer: Option<String>,
    /// A merchant's or affiliate's ed25519 public key (`account_id=ed25519:<base58>`),
    /// trusted to sign for it: a quote is shown "verified" only when its merchant's signature
    /// and every wrapper's (`wrapped_quote`) verify under these keys. Repeat it for several
    /// accounts (comma-separated in the environment variable).
    #[arg(
        long = "merchant-key",
        env = "AITP_MERCHANT_KEYS",
        value_delimiter = ',',
        value_name = "ACCOUNT=KEY",
        value_parser = parse_merchant_key
    )]
    pub(crate) merchant_keys: Vec<(String, aitp::sign::PublicKey)>,
    /// Wait for whole runs instead of streaming them.
    #[arg(long)]
    pub(crate) no_stream: bool,
    /// Plain line prompts even in a terminal (what scripts and pipes get).
    #[arg(long)]
    pub(crate) plain: bool,
}

/// `argv`, with `AITP_URL` put in as the first argument of the subcommand when it is set and
/// the command line leaves the URL out (`aitp messages THREAD`): positional arguments fill in
/// order, so clap alone would take the thread id for the URL.
pub(crate) fn with_env_url(argv: Vec<OsString>) -> Vec<OsString> {
    let Some(url) = std::env::var_os("AITP_URL") else {
        return argv;
    };
    let url_given = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli.command.url().is_none_or(|u| u.contains("://")),
        Err(_) => false,
    };
    if url_given {
        return argv;
    }
    // The subcommand is the first argument that is not an option (`aitp` takes no options
    // with values before it).
    let Some(at) = argv
        .iter()
        .skip(1)
        .position(|a| !a.to_string_lossy().starts_with('-'))
    else {
        return argv;
    };
    let mut with = argv.clone();
    with.insert(at + 2, url);
    let takes_url = Cli::command()
        .find_subcommand(argv[at + 1].to_string_lossy().as_ref())
        .is_some_and(|c| c.get_arguments().any(|a| a.get_id() == "url"));
    if takes_url && Cli::try_parse_from(&with).is_ok() {
        with
    } else {
        argv
    }
}

impl Command {
    /// The URL argument, for the subcommands that take one.
    fn url(&self) -> Option<&str> {
        match self {
            Self::Chat(c) => Some(&c.server.url),
            Self::Send { server, .. }
            | Self::Messages { server, .. }
            | Self::Threads { server }
            | Self::Stream { server, .. } => Some(&server.url),
            Self::Mcp { url, .. } => Some(url),
            Self::Schema { .. } | Self::Completions { .. } => None,
        }
    }
}

/// `merchant_id=ed25519:<base58>`, as `--merchant-key` takes it.
fn parse_merchant_key(s: &str) -> Result<(String, aitp::sign::PublicKey), String> {
    let (merchant, key) = s
        .split_once('=')
        .ok_or_else(|| format!("expected MERCHANT=KEY, got `{s}`"))?;
    let key = key
        .trim()
        .parse()
        .map_err(|e| format!("the key of `{merchant}`: {e}"))?;
    Ok((merchant.trim().to_owned(), key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
