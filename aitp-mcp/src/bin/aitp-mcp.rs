//! `aitp-mcp`: serve any AITP agent to MCP hosts.
//!
//! ```text
//! aitp-mcp URL [options]                 MCP on stdin/stdout (how hosts start servers)
//! aitp-mcp URL --http 127.0.0.1:8931     MCP over streamable HTTP at http://ADDR/mcp
//!
//! options: --actor ID  --bearer TOKEN  --assistant ID  --timeout SECS  --description TEXT
//!          --payer ACCOUNT  --channel ID  --sign-with COMMAND|KEY  (paying accepted quotes)
//!          --allow-host HOST                                        (HTTP: more Host names)
//! ```
//!
//! Logs go to stderr (`RUST_LOG`), never to stdout, which is the MCP channel.

use std::{process::ExitCode, time::Duration};

use aitp_mcp::{AgentProfile, Backend, CommandSigner, Gateway, KeySigner, Payer};
use tokio_util::sync::CancellationToken;

const USAGE: &str = "usage: aitp-mcp URL [--http ADDR] [--actor ID] [--bearer TOKEN] [--assistant ID] \
[--timeout SECS] [--description TEXT] [--payer ACCOUNT] [--channel ID] [--sign-with COMMAND|ed25519:SECRET] [--allow-host HOST]";

struct Args {
    url: Option<String>,
    options: Vec<(String, String)>,
    help: bool,
}

impl Args {
    fn parse() -> Result<Self, String> {
        let mut url = None;
        let mut options = Vec::new();
        let mut help = false;
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            if a == "--help" || a == "-h" {
                help = true;
            } else if let Some(name) = a.strip_prefix("--") {
                let value = args
                    .next()
                    .ok_or_else(|| format!("--{name} needs a value"))?;
                options.push((name.to_owned(), value));
            } else if url.is_none() {
                url = Some(a);
            } else {
                return Err(format!("unexpected argument {a:?}"));
            }
        }
        Ok(Self { url, options, help })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.options
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let args = match Args::parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("aitp-mcp: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if args.help {
        eprintln!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let Some(url) = args.url.clone() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    match run(&args, &url).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aitp-mcp: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args, url: &str) -> Result<(), Box<dyn std::error::Error>> {
    let actor = args.get("actor").unwrap_or("aitp-mcp");
    let mut client = aitp_client::Client::builder(url).actor(actor);
    if let Some(t) = args.get("bearer") {
        client = client.bearer(t);
    }
    if let Some(a) = args.get("assistant") {
        client = client.assistant_id(a);
    }
    let mut backend = Backend::remote(client.build()?);
    if let Some(secs) = args.get("timeout") {
        let secs: u64 = secs
            .parse()
            .map_err(|_| format!("--timeout takes whole seconds, not {secs:?}"))?;
        backend = backend.run_timeout(Duration::from_secs(secs));
    }
    let mut payer = Payer::new(
        args.get("payer").unwrap_or(actor),
        args.get("channel").unwrap_or("default"),
    );
    // `ed25519:<base58>` is a secret key to sign with in process (fine for test keys; it is
    // visible to other local users in the process list, so a real key is better behind a
    // command); anything else is a command that signs stdin.
    if let Some(with) = args.get("sign-with") {
        payer = if with.starts_with("ed25519:") {
            let key: aitp::sign::SecretKey = with
                .parse()
                .map_err(|e| format!("--sign-with: not an ed25519 secret key: {e}"))?;
            payer.signer(KeySigner::new(key))
        } else {
            payer.signer(CommandSigner::new(with))
        };
    }
    // Learn who the agent is, for the host's instructions. An agent that cannot be reached
    // now is not fatal: the host still gets the server, and each call says what is wrong.
    let actors = match backend.agent_actors().await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("aitp-mcp: warning: {e}");
            Vec::new()
        }
    };
    let mut profile = AgentProfile::new(actors, url);
    if let Some(d) = args.get("description") {
        profile = profile.description(d);
    }
    let gateway = Gateway::with_profile(backend, profile, payer);
    match args.get("http") {
        None => aitp_mcp::serve::stdio(gateway).await?,
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr).await?;
            let local = listener.local_addr()?;
            eprintln!(
                "aitp-mcp: serving {} over MCP at {}",
                url,
                aitp_mcp::serve::http_url(local)
            );
            let shutdown = CancellationToken::new();
            let stop = shutdown.clone();
            tokio::spawn(async move {
                let _ = tokio::signal::ctrl_c().await;
                stop.cancel();
            });
            aitp_mcp::serve::http(gateway, listener, &args.all("allow-host"), shutdown).await?;
        }
    }
    Ok(())
}
