//! `aitp`: talk to any AITP agent from a terminal.
//!
//! ```text
//! aitp chat URL [options]            an interactive conversation
//! aitp send URL THREAD TEXT [--run]  post text (or a capability message as JSON), run the agent
//! aitp messages URL THREAD           print a thread's messages
//! aitp threads URL                   list threads (servers that list them, such as NEAR AI's hub)
//! aitp schema CAPABILITY             print a capability's JSON Schema (payments, decisions, ...)
//! aitp mcp URL [options]             serve the agent to MCP hosts on stdio (runs `aitp-mcp`)
//!
//! options: --actor ID  --bearer TOKEN  --assistant ID  --timeout SECS
//!          --payer ACCOUNT  --channel ID  --sign-with COMMAND   (payments in `chat`)
//! ```

use aitp::capability::payments::Signed as _;
use std::{
    io::{BufRead, IsTerminal, Write},
    process::ExitCode,
    time::Duration,
};

use aitp::capability::{
    AitpCapability, Body, ContentPart, Envelope,
    data_request::{Data, RequestData},
    decisions::{Decision, RequestDecision},
    errors::ErrorReport,
    extract_text,
    payments::{Payment, PaymentConfirmation, PaymentMethodUsed, Quote},
};
use aitp::thread::{Message, Role};
use aitp_client::{Client, ListQuery, ThreadHandle};
use futures_util::TryStreamExt;

const USAGE: &str = "usage:
  aitp chat URL [--actor ID] [--bearer TOKEN] [--assistant ID] [--payer ACCOUNT] [--channel ID] [--sign-with COMMAND]
  aitp send URL THREAD TEXT [--run]
  aitp messages URL THREAD
  aitp threads URL
  aitp schema payments|decisions|data-request|near-wallet|evm-wallet
  aitp mcp URL [aitp-mcp options: --payer ACCOUNT --channel ID --sign-with COMMAND --http ADDR ...]";

/// The command line: positional arguments and `--name value` options.
struct Args {
    positional: Vec<String>,
    options: Vec<(String, Option<String>)>,
}

impl Args {
    fn parse() -> Self {
        let mut positional = Vec::new();
        let mut options = Vec::new();
        let mut args = std::env::args().skip(1).peekable();
        while let Some(a) = args.next() {
            if let Some(name) = a.strip_prefix("--") {
                let value = match name {
                    "run" | "help" => None,
                    _ => args.next(),
                };
                options.push((name.to_owned(), value));
            } else {
                positional.push(a);
            }
        }
        Self {
            positional,
            options,
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    fn flag(&self, name: &str) -> bool {
        self.options.iter().any(|(n, _)| n == name)
    }

    fn client(&self, url: &str) -> aitp_client::Result<Client> {
        let mut b = Client::builder(url).actor(self.get("actor").unwrap_or("aitp-cli"));
        if let Some(t) = self.get("bearer") {
            b = b.bearer(t);
        }
        if let Some(a) = self.get("assistant") {
            b = b.assistant_id(a);
        }
        if let Some(s) = self.get("timeout").and_then(|s| s.parse().ok()) {
            b = b.timeout(Duration::from_secs(s));
        }
        b.build()
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    let pos: Vec<&str> = args.positional.iter().map(String::as_str).collect();
    let result = match pos.as_slice() {
        ["chat", url] => chat(&args, url).await,
        ["send", url, thread, text] => send(&args, url, thread, text).await,
        ["messages", url, thread] => messages(&args, url, thread).await,
        ["threads", url] => threads(&args, url).await,
        ["schema", name] => schema(name),
        ["mcp", _url] => mcp(),
        _ => {
            eprintln!("{USAGE}");
            return if args.flag("help") {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

type CliResult = Result<(), Box<dyn std::error::Error>>;

/// `aitp mcp URL ...`: runs the MCP gateway (the `aitp-mcp` binary of the `aitp-mcp` crate)
/// with the same arguments, so an MCP host is configured with one command line. It lives in
/// its own crate to keep this client free of the MCP and HTTP-server dependencies.
fn mcp() -> CliResult {
    let here = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("aitp-mcp")))
        .filter(|p| p.is_file());
    let program = here.unwrap_or_else(|| "aitp-mcp".into());
    let mut command = std::process::Command::new(&program);
    command.args(std::env::args_os().skip(2));
    let missing = |e: std::io::Error| -> Box<dyn std::error::Error> {
        if e.kind() == std::io::ErrorKind::NotFound {
            "`aitp mcp` runs the `aitp-mcp` gateway, which is not installed next to `aitp` nor on \
             PATH: install it with `cargo install --path aitp-mcp` (or `cargo install aitp-mcp`)"
                .into()
        } else {
            format!("cannot run {}: {e}", program.display()).into()
        }
    };
    #[cfg(unix)]
    {
        // Become the gateway: the host talks to it on our stdin/stdout, and signals reach it.
        use std::os::unix::process::CommandExt as _;
        Err(missing(command.exec()))
    }
    #[cfg(not(unix))]
    {
        let status = command.status().map_err(missing)?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("aitp-mcp exited with {status}").into())
        }
    }
}

fn schema(name: &str) -> CliResult {
    let capability = AitpCapability::ALL
        .into_iter()
        .find(|c| {
            let slug = c.slug();
            slug == name || slug.ends_with(&format!("-{name}")) || slug.starts_with(&format!("{name}-"))
        })
        .ok_or_else(|| format!("no capability {name:?}; try payments, decisions, data-request, near-wallet, evm-wallet"))?;
    println!(
        "{}",
        serde_json::to_string_pretty(&aitp::schema::official(capability))?
    );
    Ok(())
}

async fn threads(args: &Args, url: &str) -> CliResult {
    let client = args.client(url)?;
    let all: Vec<_> = client
        .threads()
        .list(ListQuery::new())
        .try_collect()
        .await?;
    for t in all {
        let actors: Vec<String> = t
            .actors()
            .unwrap_or_default()
            .into_iter()
            .map(|a| a.id)
            .collect();
        println!(
            "{}  created {}  actors {}",
            t.id,
            t.created_at,
            actors.join(", ")
        );
    }
    Ok(())
}

async fn messages(args: &Args, url: &str, thread: &str) -> CliResult {
    let client = args.client(url)?;
    let all: Vec<Message> = client
        .messages(thread)
        .list(ListQuery::new().limit(100))
        .try_collect()
        .await?;
    for m in &all {
        print_message(m);
    }
    Ok(())
}

async fn send(args: &Args, url: &str, thread: &str, text: &str) -> CliResult {
    let client = args.client(url)?;
    let mut handle = client.thread(thread).await?.force();
    match extract_text(text) {
        ContentPart::Aitp(m) => handle.send_aitp(&m).await?,
        _ => handle.send(text).await?,
    };
    if args.flag("run") {
        let replies = spin(handle.run_and_wait()).await?;
        for m in &replies {
            print_message(m);
        }
    }
    Ok(())
}

/// Prints a message: who, then each part (capability messages described).
fn print_message(m: &Message) {
    let who = m
        .actor()
        .map(str::to_owned)
        .unwrap_or_else(|| m.role.to_string());
    for part in m.text_parts() {
        match extract_text(part) {
            ContentPart::Aitp(a) => println!("{who}: {}", summary(&a)),
            _ => println!("{who}: {part}"),
        }
    }
}

fn summary(m: &Envelope) -> String {
    match m.body() {
        Body::RequestDecision(r) => format!(
            "[request_decision {}] {}",
            r.id.as_deref().unwrap_or("-"),
            r.title.as_deref().unwrap_or("")
        ),
        Body::RequestData(r) => format!("[request_data {}] {}", r.id, r.description),
        Body::Quote(q) => format!("[quote {}] {}", q.quote_id, q.description),
        Body::PaymentConfirmation(c) => {
            format!(
                "[payment_confirmation {}] {}",
                c.quote_id,
                c.result.as_str()
            )
        }
        _ => match m.message::<ErrorReport>() {
            Some(Ok(e)) => format!("[error {}] {}", e.code.as_str(), e.message),
            _ => format!("[{}] {}", m.key(), m.to_json_string()),
        },
    }
}

/// Runs `f` with a spinner on stderr (when it is a terminal).
async fn spin<T>(f: impl std::future::Future<Output = T>) -> T {
    if !std::io::stderr().is_terminal() {
        return f.await;
    }
    let spinner = tokio::spawn(async {
        let frames = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
        for i in 0.. {
            eprint!("\r{} the agent is working…", frames[i % frames.len()]);
            let _ = std::io::stderr().flush();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let out = f.await;
    spinner.abort();
    eprint!("\r\x1b[K");
    out
}

/// Reads a line after printing `prompt`; `None` at the end of input.
fn ask(prompt: &str) -> Option<String> {
    print!("{prompt}");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim().to_owned()),
    }
}

struct Payer {
    account: String,
    channel: String,
    sign_with: Option<String>,
}

async fn chat(args: &Args, url: &str) -> CliResult {
    let client = args.client(url)?;
    let mut thread = client.create_thread().await?;
    let peers: Vec<&str> = thread
        .actors()
        .iter()
        .map(|a| a.id.as_str())
        .filter(|id| *id != client.actor().id)
        .collect();
    println!(
        "Thread {} with {}. Type a message, /quit to leave.",
        thread.id(),
        if peers.is_empty() {
            "the agent".to_owned()
        } else {
            peers.join(", ")
        }
    );
    let agent = peers.first().map_or("agent", |p| *p).to_owned();
    let payer = Payer {
        account: args.get("payer").unwrap_or(&client.actor().id).to_owned(),
        channel: args.get("channel").unwrap_or("default").to_owned(),
        sign_with: args.get("sign-with").map(str::to_owned),
    };
    while let Some(line) = ask("> ") {
        if line == "/quit" {
            break;
        }
        if line.is_empty() {
            continue;
        }
        let mut turn = spin(thread.say(line)).await;
        loop {
            let replies = match turn {
                Ok(r) => r,
                Err(e) => {
                    println!("! {e}");
                    break;
                }
            };
            let Some(answer) = show_and_answer(&replies, &payer, &agent) else {
                break;
            };
            turn = spin(exchange(&mut thread, &answer)).await;
        }
    }
    Ok(())
}

async fn exchange(thread: &mut ThreadHandle, m: &Envelope) -> aitp_client::Result<Vec<Message>> {
    thread.exchange(m).await
}

/// Shows the agent's messages; answers the first one that asks something.
fn show_and_answer(replies: &[Message], payer: &Payer, agent: &str) -> Option<Envelope> {
    let mut question: Option<Envelope> = None;
    for m in replies.iter().filter(|m| m.role == Role::Assistant) {
        let who = m.actor().unwrap_or(agent).to_owned();
        for part in m.text_parts() {
            match extract_text(part) {
                ContentPart::Aitp(a) => {
                    show(&who, &a);
                    if question.is_none()
                        && matches!(
                            a.body(),
                            Body::RequestDecision(_) | Body::RequestData(_) | Body::Quote(_)
                        )
                    {
                        question = Some(a);
                    }
                }
                _ => println!("{who}: {part}"),
            }
        }
    }
    let question = question?;
    match question.body() {
        Body::RequestDecision(r) => decide(r).map(Envelope::from),
        Body::RequestData(r) => fill(r).map(Envelope::from),
        Body::Quote(q) => confirm(q, payer).map(Envelope::from),
        _ => None,
    }
}

fn show(who: &str, m: &Envelope) {
    match m.body() {
        Body::PaymentConfirmation(c) => show_confirmation(c),
        Body::RequestDecision(_) | Body::RequestData(_) | Body::Quote(_) => {}
        _ => println!("{who}: {}", summary(m)),
    }
}

fn show_confirmation(c: &PaymentConfirmation) {
    println!("Payment {}: {}", c.payment_id, c.result.as_str());
    for d in c.details.iter().flatten() {
        let value = match &d.value {
            aitp::capability::transactions::DetailValue::String(s) => s.clone(),
            aitp::capability::transactions::DetailValue::Number(n) => n.to_string(),
        };
        println!("  {}: {value}", d.label);
    }
}

/// A selection menu; `None` when the input ends.
fn decide(r: &RequestDecision) -> Option<Decision> {
    println!("\n{}", r.title.as_deref().unwrap_or("Choose"));
    if let Some(d) = &r.description {
        println!("{d}");
    }
    for (i, o) in r.options.iter().enumerate() {
        let name = o.name.as_deref().unwrap_or(o.id.as_str());
        let desc = o
            .description
            .as_deref()
            .map(|d| format!(" — {d}"))
            .unwrap_or_default();
        println!("  {}) {name}{desc}", i + 1);
    }
    let many = r.kind().is_multiple();
    let chosen: Vec<usize> = loop {
        let hint = if many { " (comma-separated)" } else { "" };
        let line = ask(&format!("Choose 1-{}{hint}: ", r.options.len()))?;
        let picks: Option<Vec<usize>> = line
            .split(',')
            .map(|s| {
                s.trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=r.options.len()).contains(n))
            })
            .collect();
        match picks {
            Some(p) if !p.is_empty() && (many || p.len() == 1) => break p,
            _ => println!(
                "Please enter {}.",
                if many {
                    "option numbers"
                } else {
                    "one option number"
                }
            ),
        }
    };
    let ids: Vec<&str> = chosen
        .iter()
        .map(|i| r.options[i - 1].id.as_str())
        .collect();
    let mut decision = r.choose(ids);
    if r.kind() == aitp::capability::decisions::DecisionType::Products {
        for o in decision.options.iter_mut() {
            let q = loop {
                let line = ask(&format!("Quantity of {} [1]: ", o.id))?;
                if line.is_empty() {
                    break 1;
                }
                match line.parse::<u64>() {
                    Ok(q) if q > 0 => break q,
                    _ => println!("Please enter a whole number above 0."),
                }
            };
            o.quantity = Some(q.into());
        }
    }
    Some(decision)
}

/// A form, validated against the request before it is sent; `None` when the input ends.
fn fill(r: &RequestData) -> Option<Data> {
    println!("\n{}", r.title.as_deref().unwrap_or("Form"));
    println!("{}", r.description);
    loop {
        let mut values = Vec::new();
        for f in r.form.fields.iter().flatten() {
            let required = if f.is_required() { " *" } else { "" };
            let default = f
                .default_value
                .as_deref()
                .map(|d| format!(" [{d}]"))
                .unwrap_or_default();
            let mut v = ask(&format!(
                "{}{required}{default}: ",
                f.label.as_deref().unwrap_or(&f.id)
            ))?;
            if v.is_empty() {
                match &f.default_value {
                    Some(d) => v = d.clone(),
                    None => continue,
                }
            }
            values.push((f.id.clone(), v));
        }
        let data = r.respond(values);
        match r.check_response(&data) {
            Ok(()) => return Some(data),
            Err(errors) => println!("Please correct: {errors}"),
        }
    }
}

/// A confirmation with the exact amounts; `None` when declined.
fn confirm(q: &Quote, payer: &Payer) -> Option<Payment> {
    println!("\nQuote {} from {}", q.quote_id, q.merchant_id);
    println!("{}", q.description);
    let option = q.payment_options.first()?;
    let method = option.payment_methods.first()?;
    let amount = option
        .amount
        .as_ref()
        .map_or("an amount you choose".to_owned(), |a| a.to_string());
    println!(
        "  {amount} {} in {} ({}) to {}",
        option.currency, method.token, method.r#type, method.recipient
    );
    if let Some(e) = &q.expiration {
        println!("  expires {e}");
    }
    let yes = ask(&format!(
        "Pay {amount} {} to {}? [y/N] ",
        option.currency, method.recipient
    ))?;
    if !yes.eq_ignore_ascii_case("y") && !yes.eq_ignore_ascii_case("yes") {
        println!("Not paid.");
        return None;
    }
    let used = PaymentMethodUsed::for_option(option, method, payer.channel.clone());
    let payment = Payment::new(q, payer.account.clone(), used);
    let signature = match &payer.sign_with {
        Some(cmd) => match sign_externally(cmd, payment.signing_payload().as_bytes()) {
            Ok(s) => s,
            Err(e) => {
                println!("! signing failed: {e}");
                return None;
            }
        },
        None => {
            println!("(unsigned: pass --sign-with COMMAND to sign payments with your wallet)");
            "unsigned".to_owned()
        }
    };
    Some(payment.sign_with(|_| signature))
}

/// Runs `cmd` with the payload on stdin; its trimmed stdout is the signature.
fn sign_externally(cmd: &str, payload: &[u8]) -> Result<String, String> {
    let mut child = std::process::Command::new("sh")
        .args(["-c", cmd])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(payload).map_err(|e| e.to_string())?;
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("{cmd} exited with {}", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}
