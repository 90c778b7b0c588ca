//! `aitp`: talk to any AITP agent from a terminal.
//!
//! ```text
//! aitp chat URL [options]            an interactive conversation
//! aitp send URL THREAD TEXT [--run]  post text (or a capability message as JSON), run the agent
//! aitp messages URL THREAD           print a thread's messages
//! aitp threads URL                   list threads (servers that list them, such as NEAR AI's hub)
//! aitp schema CAPABILITY             print a capability's JSON Schema (payments, decisions, ...)
//!
//! options: --actor ID  --bearer TOKEN  --assistant ID  --timeout SECS
//!          --payer ACCOUNT  --channel ID  --sign-with COMMAND   (payments in `chat`)
//! ```

use aitp::capability::payments::Signed as _;
use std::{
    io::{BufRead, IsTerminal, Write},
    process::ExitCode,
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

use aitp::capability::{
    AitpCapability, Body, ContentPart, Envelope,
    data_request::{Data, RequestData},
    decisions::{Decision, DecisionOption, RequestDecision},
    errors::ErrorReport,
    extract_text,
    payments::{Payment, PaymentConfirmation, PaymentMethodUsed, Quote},
};
use aitp::thread::{ListQuery, Message, Order, Role};
use aitp_client::{Client, ThreadHandle};
use futures_util::TryStreamExt;

const USAGE: &str = "usage:
  aitp chat URL [--actor ID] [--bearer TOKEN] [--assistant ID] [--payer ACCOUNT] [--channel ID] [--sign-with COMMAND]
      (/quit at any prompt leaves)
  aitp send URL THREAD TEXT [--run]
  aitp messages URL THREAD
  aitp threads URL
  aitp schema payments|decisions|data-request|near-wallet|evm-wallet";

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

/// The error, with what to do when a run is refused because the server has no assistant of
/// the default id (OpenAI-style servers need a real one; ours accept any).
fn explain(e: &aitp_client::Error, args: &Args) -> String {
    let run_refused = matches!(
        e,
        aitp_client::Error::Api { url, status, .. }
            if url.ends_with("/runs") && matches!(status.as_u16(), 400 | 404)
    );
    if run_refused && args.get("assistant").is_none() {
        format!(
            "{e}\n  (runs were created for the assistant `aitp`, the default: this server may \
             need a real assistant id; pass --assistant ID)"
        )
    } else {
        e.to_string()
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
    let listed: aitp_client::Result<Vec<_>> = client
        .threads()
        .list(ListQuery::default().order(Order::Asc))
        .try_collect()
        .await;
    let all = match listed {
        Err(e) if matches!(e.status().map(|s| s.as_u16()), Some(404 | 405)) => {
            return Err(format!(
                "{url} does not list threads (HTTP {}): `GET /threads` is NEAR AI's, not part \
                 of OpenAI's Threads API. Use `aitp messages {url} THREAD_ID` with a thread id \
                 you know.",
                e.status().map_or(0, |s| s.as_u16())
            )
            .into());
        }
        other => other?,
    };
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
        .list(ListQuery::new(ListQuery::MAX_LIMIT, Order::Asc))
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
        ContentPart::Aitp(m) => handle.post(&m).await?,
        _ => handle.post(text).await?,
    };
    if args.flag("run") {
        let replies = spin(handle.run().into_future())
            .await
            .map_err(|e| explain(&e, args))?;
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

/// Set once the user typed `/quit` at any prompt (a menu, a form, a confirmation).
static QUIT: AtomicBool = AtomicBool::new(false);

/// Reads a line after printing `prompt`; `None` at the end of input or on `/quit`.
fn ask(prompt: &str) -> Option<String> {
    if QUIT.load(Ordering::Relaxed) {
        return None;
    }
    print!("{prompt}");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) if line.trim() == "/quit" => {
            QUIT.store(true, Ordering::Relaxed);
            None
        }
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
        if line.is_empty() {
            continue;
        }
        let mut turn = spin(thread.ask(line)).await;
        loop {
            let replies = match turn {
                Ok(r) => r,
                Err(e) => {
                    println!("! {}", explain(&e, args));
                    break;
                }
            };
            let Some(answer) = show_and_answer(&replies, &payer, &agent) else {
                break;
            };
            if QUIT.load(Ordering::Relaxed) {
                break;
            }
            turn = spin(exchange(&mut thread, &answer)).await;
        }
    }
    Ok(())
}

async fn exchange(thread: &mut ThreadHandle, m: &Envelope) -> aitp_client::Result<Vec<Message>> {
    thread.ask(m).await
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

/// What a menu calls an option: its name, else its id.
fn option_name(o: &DecisionOption) -> &str {
    o.name.as_deref().unwrap_or(o.id.as_str())
}

/// The option's price as its card gives it (a legacy quote's first plan), for the menu.
fn price(o: &DecisionOption) -> String {
    let Some(plan) = o.quote.as_ref().and_then(|q| q.payment_plans.first()) else {
        return String::new();
    };
    match (&plan.amount, &plan.currency) {
        (Some(amount), Some(currency)) => format!(" — {amount} {currency}"),
        (Some(amount), None) => format!(" — {amount}"),
        _ => String::new(),
    }
}

/// A selection menu; `None` when the input ends or the user quits.
fn decide(r: &RequestDecision) -> Option<Decision> {
    println!("\n{}", r.title.as_deref().unwrap_or("Choose"));
    if let Some(d) = &r.description {
        println!("{d}");
    }
    for (i, o) in r.options.iter().enumerate() {
        let desc = o
            .description
            .as_deref()
            .map(|d| format!(" — {d}"))
            .unwrap_or_default();
        println!("  {}) {}{}{desc}", i + 1, option_name(o), price(o));
    }
    let many = r.kind().is_multiple();
    let chosen: Vec<usize> = loop {
        let hint = if many { " (comma-separated)" } else { "" };
        let n = r.options.len();
        let line = ask(&format!("Choose 1-{n}{hint}: "))?;
        let picks: Option<Vec<usize>> = line
            .split(',')
            .map(|s| s.trim().parse::<usize>().ok())
            .collect();
        match picks {
            Some(p) if p.iter().any(|i| !(1..=n).contains(i)) => {
                println!("There are options 1 to {n}: please choose among them.");
            }
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
                let name = r
                    .options
                    .iter()
                    .find(|offered| offered.id == o.id)
                    .map_or_else(
                        || o.id.to_string(),
                        |offered| option_name(offered).to_owned(),
                    );
                let line = ask(&format!("Quantity of {name} [1]: "))?;
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
