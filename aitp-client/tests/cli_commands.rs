//! The `aitp` binary run as a script runs it: help and version, options from the environment,
//! exit statuses, a whole conversation piped through stdin, and the scripting subcommands,
//! against our server on 127.0.0.1.

use std::{
    io::Write as _,
    process::{Command, Output, Stdio},
};

use aitp::{
    capability::{Body, ContentPart, extract_text, payments::Payment},
    server::Server,
    sign::SecretKey,
    store::MemoryStore,
    thread::{ListQuery, Order},
};
use aitp_examples::script;
use example_shop as shop;
use futures_util::TryStreamExt as _;

/// Runs `aitp` with `args`, the environment variables `env` (and no inherited `AITP_*`), and
/// `stdin` as its input.
async fn aitp(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let stdin = stdin.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_aitp"));
        for (k, _) in std::env::vars() {
            if k.starts_with("AITP_") {
                command.env_remove(k);
            }
        }
        let mut child = command
            .args(&args)
            .envs(env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // A command that exits before reading all its input (a usage error) closes the pipe.
        match child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            other => other.unwrap(),
        }
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

async fn serve(state: shop::ShopState) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let server = Server::new(shop::shop_agent_with(state), MemoryStore::new());
    tokio::spawn(server.serve_with(listener, std::future::pending()));
    url
}

/// Writes `key` as a NEAR credentials file for `account`, as near-cli does; its path.
fn key_file(dir: &tempfile::TempDir, account: &str, key: &SecretKey) -> String {
    let path = dir.path().join(format!("{account}.json"));
    let credentials = serde_json::json!({
        "account_id": account,
        "public_key": key.public_key().to_string(),
        "private_key": key.to_string(),
    });
    std::fs::write(&path, credentials.to_string()).unwrap();
    path.to_string_lossy().into_owned()
}

/// The thread id `aitp chat` printed.
fn thread_id(stdout: &str) -> String {
    stdout
        .split_whitespace()
        .skip_while(|w| *w != "Thread")
        .nth(1)
        .expect("the thread id")
        .to_owned()
}

/// The `payment` messages of thread `id`, read back from the server.
async fn payments_in(url: &str, id: &str) -> Vec<Payment> {
    let client = aitp_client::Client::new(url).unwrap();
    let messages: Vec<aitp::thread::Message> = client
        .messages(id)
        .list(ListQuery::new(ListQuery::MAX_LIMIT, Order::Asc))
        .try_collect()
        .await
        .unwrap();
    let mut payments = Vec::new();
    for m in &messages {
        for part in m.text_parts() {
            if let ContentPart::Aitp(a) = extract_text(part) {
                if let Body::Payment(p) = a.body() {
                    payments.push(p.clone());
                }
            }
        }
    }
    payments
}

/// The answers that take the shop from the catalog to the quote confirmation, then `pay`.
fn purchase_input(pay: &str) -> String {
    let mut input = vec![script::OPENING.to_owned(), "1".to_owned()];
    input.push(script::QUANTITY.to_string());
    input.extend(script::ADDRESS.iter().map(|(_, v)| v.to_string()));
    input.push("y".to_owned()); // send the form
    input.push(pay.to_owned());
    input.push("/quit".to_owned());
    input.join("\n") + "\n"
}

#[tokio::test]
async fn help_version_and_completions() {
    let version = aitp(&["--version"], &[], "").await;
    assert!(version.status.success(), "{version:?}");
    assert_eq!(
        text(&version.stdout).trim(),
        format!("aitp {}", env!("CARGO_PKG_VERSION"))
    );

    let top = aitp(&["--help"], &[], "").await;
    assert!(top.status.success());
    let top = text(&top.stdout);
    for s in [
        "chat",
        "send",
        "messages",
        "threads",
        "stream",
        "schema",
        "completions",
        "mcp",
    ] {
        assert!(top.contains(s), "{s} listed:\n{top}");
    }
    assert!(
        top.contains("Exit status:") && top.contains("AITP_URL"),
        "{top}"
    );

    // Each subcommand has its own help, with its own examples.
    let mut seen = Vec::new();
    for sub in ["chat", "send", "messages", "threads", "stream", "schema"] {
        let out = aitp(&[sub, "--help"], &[], "").await;
        assert!(out.status.success(), "{sub}: {out:?}");
        let help = text(&out.stdout);
        assert!(
            help.contains(&format!("Usage: aitp {sub}")) && help.contains("Examples:"),
            "{sub}:\n{help}"
        );
        assert!(!seen.contains(&help), "{sub} has a help of its own");
        seen.push(help);
    }
    let chat = &seen[0];
    for option in [
        "--token",
        "AITP_TOKEN",
        "--assistant",
        "AITP_ASSISTANT",
        "--signer",
        "--key",
        "AITP_KEY",
        "--payer-key",
        "--unsigned",
        "--merchant-key",
    ] {
        assert!(chat.contains(option), "{option}:\n{chat}");
    }

    let usage = aitp(&["send", "only-one-arg"], &[], "").await;
    assert_eq!(usage.status.code(), Some(2), "{usage:?}");

    let bash = aitp(&["completions", "bash"], &[], "").await;
    assert!(bash.status.success());
    assert!(text(&bash.stdout).contains("complete -F _aitp"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purchase_piped_through_stdin() {
    let state = shop::ShopState::default();
    let url = serve(state.clone()).await;
    let mut input = vec![script::OPENING.to_owned()];
    // Out of range first: the menu says which numbers there are.
    input.push("9".to_owned());
    input.push("1".to_owned());
    input.push(script::QUANTITY.to_string());
    input.extend(script::ADDRESS.iter().map(|(_, v)| v.to_string()));
    input.push("y".to_owned()); // send the form
    input.push("y".to_owned()); // pay
    input.push("/quit".to_owned());
    // The key file names the payer; the key signs the payment.
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(&dir, script::CUSTOMER, &script::customer_key());
    let out = aitp(
        &["chat", "--channel", script::CHANNEL_ID, "--key", &key],
        &[("AITP_URL", &url)],
        &(input.join("\n") + "\n"),
    )
    .await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{out:?}\n{stdout}");
    for expected in [
        "1) Merino trail socks  18.50 USD",
        "There is no option 9: enter 1 to 4.",
        "Quantity of Merino trail socks (18.50 USD each) [1]: ",
        "signature: not verified",
        ": success",
    ] {
        assert!(stdout.contains(expected), "{expected:?} in:\n{stdout}");
    }
    let thread = thread_id(&stdout);
    let order = state.order(&thread).expect("the order");
    assert_eq!(order.stage.waiting_for(), "nothing: the order is paid");
    assert!(stdout.contains(&format!("Pay {} USD", order.total().unwrap())));

    // The payment in the thread is the key's: from the key file's account, and its
    // signature verifies under the key's public half (and not under another key).
    let payments = payments_in(&url, &thread).await;
    assert_eq!(payments.len(), 1, "{payments:?}");
    let payment = &payments[0];
    assert_eq!(payment.payer_id, script::CUSTOMER);
    aitp::sign::verify(&script::customer_key().public_key(), payment).unwrap();
    let other = SecretKey::from_seed(&[7; 32]).public_key();
    assert!(aitp::sign::verify(&other, payment).is_err());
}

/// A signer command signs the payment's `aitp::sign` bytes (here `openssl`, an independent
/// ed25519 implementation, with the customer's key); the CLI checks the signature against
/// `--payer-key` before sending, and refuses to send one that does not verify.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signer_command_signs_and_is_checked() {
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("openssl is not installed: skipping the signer-command test");
        return;
    }
    let state = shop::ShopState::default();
    let url = serve(state.clone()).await;
    // The seed as a PKCS#8 ed25519 key: a fixed 16-byte prefix, then the seed.
    let dir = tempfile::tempdir().unwrap();
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(&script::CUSTOMER_KEY_SEED);
    let der_path = dir.path().join("customer.der");
    std::fs::write(&der_path, &der).unwrap();
    let signer = format!(
        "test \"$AITP_SIGN_KIND\" = payment && cat > {dir}/bytes && openssl pkeyutl -sign -rawin -keyform DER -inkey {key} -in {dir}/bytes | base64 -w0 | sed 's/^/ed25519:/'",
        dir = dir.path().display(),
        key = der_path.display()
    );
    let good = script::customer_key().public_key().to_string();
    let out = chat_with_signer(&url, &signer, &good).await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{out:?}\n{stdout}");
    assert!(stdout.contains(": success"), "{stdout}");
    let payments = payments_in(&url, &thread_id(&stdout)).await;
    assert_eq!(payments.len(), 1, "{stdout}");
    aitp::sign::verify(&script::customer_key().public_key(), &payments[0]).unwrap();

    // Told another key: the signature is refused before anything is sent.
    let other = SecretKey::from_seed(&[7; 32]).public_key().to_string();
    let out = chat_with_signer(&url, &signer, &other).await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{out:?}\n{stdout}");
    assert!(stdout.contains("does not verify under"), "{stdout}");
    assert!(stdout.contains("Not paid."), "{stdout}");
    assert!(payments_in(&url, &thread_id(&stdout)).await.is_empty());
}

/// `aitp chat` buying as the demo customer through its channel, paying with `--signer` and
/// `--payer-key`, answering yes.
async fn chat_with_signer(url: &str, signer: &str, payer_key: &str) -> Output {
    aitp(
        &[
            "chat",
            "--actor",
            script::CUSTOMER,
            "--channel",
            script::CHANNEL_ID,
            "--signer",
            signer,
            "--payer-key",
            payer_key,
        ],
        &[("AITP_URL", url)],
        &purchase_input("y"),
    )
    .await
}

/// Without a key nothing is paid, and the person is told how to sign; `--unsigned` pays
/// with `"unsigned"` only because it was asked for, and the shop's payment gate refuses it:
/// the person sees the gate's failed check, and the shop charges nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_key_no_payment_unless_unsigned_is_chosen() {
    let state = shop::ShopState::default();
    let url = serve(state.clone()).await;
    let out = aitp(&["chat", &url], &[], &purchase_input("y")).await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{out:?}\n{stdout}");
    assert!(
        stdout.contains("Cannot pay: there is no key to sign the payment with: pass --key FILE"),
        "{stdout}"
    );
    assert!(payments_in(&url, &thread_id(&stdout)).await.is_empty());

    // Everything else as the shop expects (its customer, through its channel): only the
    // signature is missing.
    let out = aitp(
        &[
            "chat",
            &url,
            "--unsigned",
            "--actor",
            script::CUSTOMER,
            "--channel",
            script::CHANNEL_ID,
        ],
        &[],
        &purchase_input("y"),
    )
    .await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{out:?}\n{stdout}");
    assert!(
        stdout.contains("will be NOT signed (--unsigned)"),
        "{stdout}"
    );
    let thread = thread_id(&stdout);
    let payments = payments_in(&url, &thread).await;
    assert_eq!(payments.len(), 1, "{stdout}");
    assert_eq!(payments[0].payer_signature.as_deref(), Some("unsigned"));
    // Refused by the gate, which says which check failed; the order still waits.
    for expected in [": failure", "Check: payer_signature", "Reason: "] {
        assert!(stdout.contains(expected), "{expected:?} in:\n{stdout}");
    }
    assert!(!stdout.contains(": success"), "{stdout}");
    assert_eq!(
        state.order(&thread).expect("the order").stage.waiting_for(),
        "a payment of the quote (`payment`)"
    );
    assert_eq!(state.charges(), 0);

    // A key file that is not one is a usage error, before anything is sent.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"account_id": "ada.near", "private_key": "ed25519:nope"}"#,
    )
    .unwrap();
    let out = aitp(
        &["chat", &url, "--key", &bad.to_string_lossy()],
        &[],
        "hi\n",
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(text(&out.stderr).contains("private_key"), "{out:?}");
}

/// The quote confirmation checks the merchant's signature against the key the person trusts
/// for that merchant (`--merchant-key`): verified with the shop's own key, INVALID with
/// another, and a warning before paying whatever is not verified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quote_signature_is_checked_against_a_trusted_key() {
    let state = shop::ShopState::default();
    let url = serve(state.clone()).await;
    let other = aitp::sign::SecretKey::from_seed(&[7; 32]).public_key();
    for (key, shown, warned) in [
        (state.public_key(), "signature: verified", false),
        (other, "signature: INVALID", true),
    ] {
        let mut input = vec![script::OPENING.to_owned(), "1".to_owned()];
        input.push(script::QUANTITY.to_string());
        input.extend(script::ADDRESS.iter().map(|(_, v)| v.to_string()));
        input.push("y".to_owned()); // send the form
        input.push("n".to_owned()); // do not pay
        input.push("/quit".to_owned());
        let trusted = format!("{}={key}", shop::MERCHANT_ID);
        let dir = tempfile::tempdir().unwrap();
        let key_file = key_file(&dir, script::CUSTOMER, &script::customer_key());
        let out = aitp(
            &[
                "chat",
                "--actor",
                script::CUSTOMER,
                "--merchant-key",
                &trusted,
                "--key",
                &key_file,
            ],
            &[("AITP_URL", &url)],
            &(input.join("\n") + "\n"),
        )
        .await;
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{out:?}\n{stdout}");
        assert!(stdout.contains(shown), "{shown:?} in:\n{stdout}");
        assert_eq!(
            stdout.contains("! Warning: this quote's signature is"),
            warned,
            "{stdout}"
        );
        assert!(stdout.contains("Not paid."), "{stdout}");
    }
}

/// A personal assistant between the CLI and the shop, wrapping the shop's quotes as an
/// affiliate; its URL and its public key.
async fn serve_assistant(
    shop_url: &str,
    state: &shop::ShopState,
) -> (String, aitp::sign::PublicKey) {
    use aitp::{agent::ThreadCtx, capability::AitpCapability, sign::ConfiguredKeys};
    use aitp_client::{Affiliation, Client, Forwarder};
    let me = Affiliation::new(
        ASSISTANT,
        SecretKey::from_seed(&[3; 32]),
        ConfiguredKeys::new().allow(shop::MERCHANT_ID, state.public_key()),
    );
    let public = me.public_key();
    let to_shop = Client::builder(shop_url).actor(ASSISTANT).build().unwrap();
    let forwarder = Forwarder::new(to_shop).affiliate(me);
    let text = forwarder.clone();
    let router = aitp::agent::Router::new()
        .actor_id(ASSISTANT)
        .on_text(move |cx: ThreadCtx, said: String| {
            let text = text.clone();
            async move { text.forward_text(&cx, &said).await }
        })
        .forward_to(forwarder)
        .declare(AitpCapability::Decisions.v1())
        .declare(AitpCapability::DataRequest.v1())
        .declare(AitpCapability::Payments.v1());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(
        Server::new(router, MemoryStore::new()).serve_with(listener, std::future::pending()),
    );
    (url, public)
}

const ASSISTANT: &str = "assistant.near";

/// Through a personal assistant the quote arrives wrapped: shown verified only when the
/// shop's key and the assistant's are both trusted (a warning otherwise), and paid to the
/// shop with a payment signed by the key file's key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrapped_quote_through_a_personal_assistant() {
    let state = shop::ShopState::default();
    let shop_url = serve(state.clone()).await;
    let (url, assistant_key) = serve_assistant(&shop_url, &state).await;
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(&dir, script::CUSTOMER, &script::customer_key());
    let shop_trusted = format!("{}={}", shop::MERCHANT_ID, state.public_key());
    let assistant_trusted = format!("{ASSISTANT}={assistant_key}");

    // Only the shop's key: the assistant's wrapper cannot be checked.
    let out = aitp(
        &[
            "chat",
            &url,
            "--actor",
            script::CUSTOMER,
            "--key",
            &key,
            "--merchant-key",
            &shop_trusted,
        ],
        &[],
        &purchase_input("n"),
    )
    .await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{out:?}\n{stdout}");
    for expected in [
        format!("signature: not verified (no key for {ASSISTANT}"),
        format!(
            "passed on by {ASSISTANT} (personal_assistant) to {}, signature: not verified (no key for {ASSISTANT}",
            script::CUSTOMER
        ),
        "! Warning: this quote's signature is".to_owned(),
        "Not paid.".to_owned(),
    ] {
        assert!(stdout.contains(&expected), "{expected:?} in:\n{stdout}");
    }

    // Both keys (from the environment, comma-separated): verified, no warning, paid.
    let both = format!("{shop_trusted},{assistant_trusted}");
    let out = aitp(
        &[
            "chat",
            &url,
            "--actor",
            script::CUSTOMER,
            "--channel",
            script::CHANNEL_ID,
            "--key",
            &key,
        ],
        &[("AITP_MERCHANT_KEYS", &both)],
        &purchase_input("y"),
    )
    .await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{out:?}\n{stdout}");
    assert!(!stdout.contains("! Warning"), "{stdout}");
    // The quote's chain, then the shop's confirmation, each verified.
    let confirmed = stdout.split(": success").nth(1).expect("the confirmation");
    assert!(stdout.contains("  signature: verified\n"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "passed on by {ASSISTANT} (personal_assistant) to {}, signature: verified",
            script::CUSTOMER
        )),
        "{stdout}"
    );
    assert!(confirmed.contains("  signature: verified"), "{stdout}");
    // The shop's signed quote offers affiliates 300 bps; the assistant, its only affiliate,
    // gets all of it: floor(37.00 × 300 / 10000) = 1.11 (2 × 18.50 USD, in cents).
    assert!(
        stdout.contains(&format!(
            "of which 1.11 USD ({} bps) goes to affiliates: {ASSISTANT} 1.11",
            shop::AFFILIATE_SHARE_BPS
        )),
        "{stdout}"
    );
    let payments = payments_in(&url, &thread_id(&stdout)).await;
    assert_eq!(payments.len(), 1, "{stdout}");
    aitp::sign::verify(&script::customer_key().public_key(), &payments[0]).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quit_inside_a_menu_leaves() {
    let url = serve(shop::ShopState::default()).await;
    let out = aitp(&["chat", &url], &[], "hello\n/quit\n").await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    // The menu was shown once, and not again after /quit.
    assert_eq!(
        stdout.matches("1) Merino trail socks").count(),
        1,
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripting_commands_and_exit_statuses() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let server = Server::new(example_echo::echo_agent(), MemoryStore::new());
    tokio::spawn(server.serve_with(listener, std::future::pending()));
    let thread = aitp_client::Client::new(&url)
        .unwrap()
        .create_thread()
        .await
        .unwrap();
    let id = thread.id();

    let sent = aitp(&["send", &url, id, "hello", "--run"], &[], "").await;
    assert!(sent.status.success(), "{sent:?}");
    assert!(text(&sent.stdout).contains("echo: hello"), "{sent:?}");

    // The URL from the environment, the thread on the command line.
    let listed = aitp(&["messages", id], &[("AITP_URL", &url)], "").await;
    assert!(listed.status.success(), "{listed:?}");
    let listed = text(&listed.stdout);
    assert!(
        listed.contains(": hello") && listed.contains("echo: hello"),
        "{listed}"
    );

    // A thread that does not exist is said to be missing (status 3), not printed as empty.
    let missing = aitp(&["messages", &url, "thread_nope"], &[], "").await;
    assert_eq!(missing.status.code(), Some(3), "{missing:?}");
    assert!(text(&missing.stderr).contains("has no thread \"thread_nope\""));

    // Our server, like OpenAI's API, cannot list threads: said so (status 4).
    let threads = aitp(&["threads"], &[("AITP_URL", &url)], "").await;
    assert_eq!(threads.status.code(), Some(4), "{threads:?}");
    assert!(
        text(&threads.stderr).contains("has no thread listing"),
        "{threads:?}"
    );

    // `stream` prints the run's events as they come.
    let streamed = aitp(&["stream", &url, id], &[], "").await;
    assert!(streamed.status.success(), "{streamed:?}");
    let events = text(&streamed.stdout);
    assert!(
        events.contains("thread.run.created") && events.contains("thread.run.completed"),
        "{events}"
    );

    // `--json`: one event a line; the agent's answer to a message posted without a run.
    let posted = aitp(&["send", &url, id, "again"], &[], "").await;
    assert!(posted.status.success(), "{posted:?}");
    let streamed = aitp(&["stream", &url, id, "--json"], &[], "").await;
    assert!(streamed.status.success(), "{streamed:?}");
    let events: Vec<serde_json::Value> = text(&streamed.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events[0]["event"], "thread.run.created", "{events:?}");
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "thread.message.completed"
                && e["data"]["content"][0]["text"]["value"] == "echo: again"),
        "{events:?}"
    );

    let schema = aitp(&["schema", "payments"], &[], "").await;
    let schema: serde_json::Value = serde_json::from_slice(&schema.stdout).unwrap();
    assert!(schema.to_string().contains("payment_confirmation"));

    // No aitp-mcp beside the binary (a link to it alone in a directory) nor on PATH: said so.
    let alone = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("mcp-{}", std::process::id()));
    std::fs::create_dir_all(&alone).unwrap();
    let linked = alone.join("aitp");
    let _ = std::fs::remove_file(&linked);
    std::fs::hard_link(env!("CARGO_BIN_EXE_aitp"), &linked).unwrap();
    let mcp = Command::new(&linked)
        .args(["mcp", &url])
        .env("PATH", &alone)
        .output()
        .unwrap();
    assert_eq!(mcp.status.code(), Some(4), "{mcp:?}");
    assert!(
        text(&mcp.stderr).contains("aitp-mcp is not installed"),
        "{mcp:?}"
    );
    std::fs::remove_dir_all(&alone).unwrap();
}

/// An agent that answers text with a capability message this client does not know and a
/// NEAR wallet request, and answers the wallet's reply (or refusal) in words.
fn wallet_agent() -> aitp::agent::Router {
    use aitp::{
        agent::Reply,
        capability::{AitpCapability, Body, Envelope, errors::ErrorReport, near_wallet},
    };
    aitp::agent::Router::new()
        .actor_id("wallet-agent")
        .declare(AitpCapability::NearWallet.v1())
        .on_text(|_: String| async {
            let unknown = Envelope::parse(
                r#"{"$schema": "https://loyalty.example/points/v1.0.0/schema.json",
                    "points": {"balance": 120, "tier": "gold"}}"#,
            )
            .unwrap();
            let ask = near_wallet::RequestAccount::new("acc_1");
            vec![Reply::Message(unknown), Reply::Message(Envelope::from(ask))]
        })
        .fallback(|m: Envelope| async move {
            if let Body::NearAccountResponse(r) = m.body() {
                return format!("hello {}", r.accounts.join(", "));
            }
            match m.message::<ErrorReport>() {
                Ok(Some(e)) => format!("noted: {}", e.message),
                _ => format!("unexpected {}", m.key()),
            }
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wallet_requests_and_unknown_capabilities() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let server = Server::new(wallet_agent(), MemoryStore::new());
    tokio::spawn(server.serve_with(listener, std::future::pending()));

    // The signer sees the request's key and the request, and prints the answer.
    let signer = r#"test "$AITP_SIGN_KIND" = request_account && grep -q '"request_id":"acc_1"' && echo '{"request_id": "acc_1", "accounts": ["ada.near"]}'"#;
    let out = aitp(&["chat", &url, "--signer", signer], &[], "hi\ny\n").await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    for expected in [
        "wallet-agent sent `points` (https://loyalty.example/points/v1.0.0/schema.json):",
        "\"tier\": \"gold\"",
        "The agent asks for your NEAR account.",
        "[account_response]",
        "wallet-agent: hello ada.near",
    ] {
        assert!(stdout.contains(expected), "{expected:?} in:\n{stdout}");
    }

    // Declined (no signer): the agent is told, and says so.
    let out = aitp(&["chat", &url], &[], "hi\n").await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout.contains("wallet-agent: noted: the user has no wallet signer and declined"),
        "{stdout}"
    );
}

/// An agent that asks for a form of every kind of field, and repeats what it got.
fn form_agent() -> aitp::agent::Router {
    use aitp::capability::{
        AitpCapability, Envelope,
        data_request::{FormField, RequestData},
    };
    aitp::agent::Router::new()
        .actor_id("form-agent")
        .declare(AitpCapability::DataRequest.v1())
        .on_text(|_: String| async {
            RequestData::form(
                "profile",
                "Tell us about you",
                [
                    FormField::email("email", "Email").required(),
                    FormField::number("age", "Age"),
                    FormField::select("size", "Size", ["S", "M", "L"]).required(),
                    FormField::text("note", "Note").default_value("none"),
                ],
            )
            .title("Profile")
        })
        .fallback(|m: Envelope| async move {
            match m.body() {
                aitp::capability::Body::Data(d) => {
                    let get = |id| d.get(id).unwrap_or("-").to_owned();
                    format!(
                        "got {} {} {} {}",
                        get("email"),
                        get("age"),
                        get("size"),
                        get("note")
                    )
                }
                _ => format!("unexpected {}", m.key()),
            }
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_checked_field_by_field() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let server = Server::new(form_agent(), MemoryStore::new());
    tokio::spawn(server.serve_with(listener, std::future::pending()));
    // A bad email and a bad number are refused in place; the select is a numbered menu;
    // an empty note takes its default; the summary is confirmed.
    let input = "hi\nnot-an-email\nada@example.com\nabc\n36\n2\n\ny\n";
    let out = aitp(&["chat", &url], &[], input).await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    for expected in [
        "Email *: ",
        "✗ must be an email address, got \"not-an-email\"",
        "✗ must be a number, got \"abc\"",
        "  2) M",
        "Note [none]: ",
        "Your answers:\n  Email: ada@example.com\n  Age: 36\n  Size: M\n  Note: none",
        "form-agent: got ada@example.com 36 M none",
    ] {
        assert!(stdout.contains(expected), "{expected:?} in:\n{stdout}");
    }
}
