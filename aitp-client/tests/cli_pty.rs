//! `aitp chat` in a real terminal (a tmux pane): a whole shop purchase through the menus
//! (arrow keys and space in the product checkboxes), the validated form and the quote
//! confirmation, ending with the payment confirmation. Every wait polls the pane for what it
//! expects, with a deadline.

use std::{
    process::Command,
    time::{Duration, Instant},
};

use aitp::{server::Server, store::MemoryStore};
use aitp_examples::script;
use example_shop as shop;

struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-J", "-t", "chat", "-S", "-500"])
    }

    /// Waits until `done` holds for the pane's text; the text.
    async fn wait_until(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "waited 60 s for {what}; the screen:\n{screen}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the pane shows `text` more than `seen_before` times.
    async fn wait_for(&self, text: &str, seen_before: usize) -> String {
        self.wait_until(text, |s| s.matches(text).count() > seen_before)
            .await
    }

    /// The text typed literally.
    fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "chat", "-l", text]);
    }

    /// Named keys (`Enter`, `Down`, `Space`, `BSpace`).
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "chat"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    fn type_line(&self, text: &str) {
        self.type_text(text);
        self.keys(&["Enter"]);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

fn tmux_missing() -> bool {
    if Command::new("tmux").arg("-V").output().is_ok() {
        return false;
    }
    // CI installs tmux and sets AITP_REQUIRE_TMUX, so there this is a failure.
    assert!(
        std::env::var_os("AITP_REQUIRE_TMUX").is_none(),
        "tmux is needed for the terminal test (apt-get install tmux)"
    );
    eprintln!("tmux is not installed: skipping the terminal test");
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shop_purchase_in_a_terminal() {
    if tmux_missing() {
        return;
    }
    let state = shop::ShopState::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let server = Server::new(shop::shop_agent_with(state.clone()), MemoryStore::new());
    tokio::spawn(server.serve_with(listener, std::future::pending()));

    let tmux = Tmux {
        socket: format!("aitp-cli-test-{}", std::process::id()),
    };
    // The payer's key, as near-cli writes it.
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("customer.json");
    let customer = script::customer_key();
    let credentials = serde_json::json!({
        "account_id": script::CUSTOMER,
        "public_key": customer.public_key().to_string(),
        "private_key": customer.to_string(),
    });
    std::fs::write(&key, credentials.to_string()).unwrap();
    // The URL, the payer and the key come from the environment, the rest from options.
    let command = format!(
        "AITP_URL={url} AITP_PAYER={} AITP_KEY={} {} chat --actor {} --channel {}; echo \"exit status $?\"; sleep 600",
        script::CUSTOMER,
        key.display(),
        env!("CARGO_BIN_EXE_aitp"),
        script::CUSTOMER,
        script::CHANNEL_ID
    );
    tmux.run(&[
        "new-session",
        "-d",
        "-s",
        "chat",
        "-x",
        "160",
        "-y",
        "50",
        &command,
    ]);

    let screen = tmux.wait_for("Type a message", 0).await;
    let thread_id = screen
        .split_whitespace()
        .skip_while(|w| *w != "Thread")
        .nth(1)
        .expect("the thread id")
        .to_owned();
    tmux.type_line(script::OPENING);

    // The product menu: checkboxes with prices. Tick the socks, move down three, tick the
    // headlamp.
    let menu = tmux.wait_for("space tick", 0).await;
    for (name, price) in [
        ("Merino trail socks", "18.50 USD"),
        ("Packable rain jacket", "89.00 USD"),
        ("Rechargeable headlamp", "39.99 USD"),
    ] {
        assert!(
            menu.lines()
                .any(|l| l.contains(&format!("[ ] {name}  {price}"))),
            "{name} at {price} in the menu:\n{menu}"
        );
    }
    tmux.keys(&["Space"]);
    tmux.wait_for("[x] Merino trail socks", 0).await;
    tmux.keys(&["Down", "Down", "Down", "Space"]);
    let ticked = tmux.wait_for("[x] Rechargeable headlamp", 0).await;
    println!("The product menu:\n{ticked}");
    tmux.keys(&["Enter"]);

    // Quantities, by name and price; 0 is refused in place.
    tmux.wait_for("Quantity of Merino trail socks (18.50 USD each)", 0)
        .await;
    tmux.type_line("0");
    tmux.wait_for("Enter a whole number above 0.", 0).await;
    tmux.keys(&["BSpace"]);
    tmux.type_line(&script::QUANTITY.to_string());
    tmux.wait_for("Quantity of Rechargeable headlamp (39.99 USD each)", 0)
        .await;
    tmux.keys(&["Enter"]);
    tmux.wait_for(&format!("{} × Merino trail socks", script::QUANTITY), 0)
        .await;

    // The form: an empty required field is refused in place, then every field filled.
    tmux.wait_for("Full name *", 0).await;
    tmux.keys(&["Enter"]);
    tmux.wait_for("is required", 0).await;
    for (i, (label, (_, value))) in [
        "Full name",
        "Street and number",
        "City",
        "Postal code",
        "Country",
    ]
    .iter()
    .zip(script::ADDRESS)
    .enumerate()
    {
        if i > 0 {
            tmux.wait_for(&format!("{label} *"), 0).await;
        }
        tmux.type_line(value);
    }
    tmux.wait_for("Send this?", 0).await;
    tmux.type_line("y");

    // The quote: exact amount, expiry, signature status, then pay.
    let screen = tmux.wait_for("Pay ", 0).await;
    let order_total = state
        .order(&thread_id)
        .and_then(|o| o.total())
        .expect("the shop quoted a total");
    assert_eq!(order_total.to_string(), "76.99", "2 × 18.50 + 39.99");
    for expected in [
        format!("Pay {order_total} {}", shop::CURRENCY),
        format!("{order_total} {} in {}", shop::CURRENCY, shop::TOKEN),
        "expires ".to_owned(),
        "signature: not verified".to_owned(),
    ] {
        assert!(screen.contains(&expected), "{expected:?} shown:\n{screen}");
    }
    println!("The quote confirmation:\n{screen}");
    tmux.type_line("y");
    let screen = tmux.wait_for(": success", 0).await;
    let order = state.order(&thread_id).expect("the order");
    assert_eq!(
        order.stage.waiting_for(),
        "nothing: the order is paid",
        "{screen}"
    );

    // `/quit` at the chat prompt leaves.
    tmux.type_line("/quit");
    tmux.wait_for("exit status 0", 0).await;
}

/// Esc in a menu leaves the chat (status 0); Ctrl-C interrupts it (status 130).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_from_a_menu() {
    if tmux_missing() {
        return;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let server = Server::new(shop::shop_agent(), MemoryStore::new());
    tokio::spawn(server.serve_with(listener, std::future::pending()));
    for (key, status) in [("Escape", 0), ("C-c", 130)] {
        let tmux = Tmux {
            socket: format!("aitp-cli-leave-{key}-{}", std::process::id()),
        };
        let command = format!(
            "{} chat {url}; echo \"exit status $?\"; sleep 600",
            env!("CARGO_BIN_EXE_aitp")
        );
        tmux.run(&[
            "new-session",
            "-d",
            "-s",
            "chat",
            "-x",
            "160",
            "-y",
            "50",
            &command,
        ]);
        tmux.wait_for("Type a message", 0).await;
        tmux.type_line("hello");
        tmux.wait_for("space tick", 0).await;
        tmux.keys(&[key]);
        let screen = tmux.wait_for("exit status", 0).await;
        assert!(
            screen.contains(&format!("exit status {status}")),
            "{key}:\n{screen}"
        );
    }
}
