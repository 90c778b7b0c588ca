//! `aitp chat` in a real terminal (a tmux pane): a whole shop purchase chosen from the menus,
//! the form and the quote confirmation, ending with the payment confirmation.

use std::{
    process::Command,
    time::{Duration, Instant},
};

use aitp::{server::Server, store::MemoryStore};
use aitp_examples::{script, shop};

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

    /// Waits until the pane shows `text` after `from` occurrences of it.
    async fn wait_for(&self, text: &str, seen_before: usize) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen();
            if screen.matches(text).count() > seen_before {
                return screen;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "waited 30 s for {text:?}; the screen:\n{screen}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn type_line(&self, text: &str) {
        self.run(&["send-keys", "-t", "chat", "-l", text]);
        self.run(&["send-keys", "-t", "chat", "Enter"]);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shop_purchase_in_a_terminal() {
    if Command::new("tmux").arg("-V").output().is_err() {
        // CI installs tmux and sets AITP_REQUIRE_TMUX, so there this is a failure.
        assert!(
            std::env::var_os("AITP_REQUIRE_TMUX").is_none(),
            "tmux is needed for the terminal test (apt-get install tmux)"
        );
        eprintln!("tmux is not installed: skipping the terminal test");
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
    let command = format!(
        "{} chat {url} --actor {} --payer {} --channel {}; sleep 60",
        env!("CARGO_BIN_EXE_aitp"),
        script::CUSTOMER,
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
    let screen = tmux.wait_for("Choose 1-", 0).await;
    // The menu shows each product's name and price; the first is the one bought.
    let first = screen
        .lines()
        .find(|l| l.trim_start().starts_with("1) "))
        .unwrap_or_else(|| panic!("no menu:\n{screen}"));
    assert!(first.contains(shop::CURRENCY), "no price in {first:?}");
    let name = first
        .trim_start()
        .trim_start_matches("1) ")
        .split(" — ")
        .next()
        .unwrap()
        .to_owned();
    let options = screen
        .lines()
        .filter(|l| {
            l.trim_start()
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit())
        })
        .count();
    // A number past the menu says what the range is.
    tmux.type_line(&(options + 5).to_string());
    tmux.wait_for(&format!("There are options 1 to {options}"), 0)
        .await;
    tmux.type_line("1");
    // The quantity prompt names the product.
    tmux.wait_for(&format!("Quantity of {name} [1]"), 0).await;
    tmux.type_line(&script::QUANTITY.to_string());
    for (label, (_, value)) in [
        "Full name",
        "Street and number",
        "City",
        "Postal code",
        "Country",
    ]
    .iter()
    .zip(script::ADDRESS)
    {
        tmux.wait_for(&format!("{label} *:"), 0).await;
        tmux.type_line(value);
    }
    let screen = tmux.wait_for("[y/N]", 0).await;
    let total = state
        .order(&thread_id)
        .and_then(|o| o.total())
        .expect("the shop quoted a total");
    assert!(
        screen.contains(&format!("Pay {total} {}", shop::CURRENCY)),
        "the exact amount is shown:\n{screen}"
    );
    tmux.type_line("y");
    let screen = tmux.wait_for(": success", 0).await;
    println!("{screen}");
    tmux.type_line("/quit");
    let order = state.order(&thread_id).expect("the order");
    assert_eq!(
        order.stage.waiting_for(),
        "nothing: the order is paid",
        "{screen}"
    );
}

/// `/quit` typed at a menu leaves `aitp chat` (it used to show the menu again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quit_from_a_menu() {
    if Command::new("tmux").arg("-V").output().is_err() {
        assert!(
            std::env::var_os("AITP_REQUIRE_TMUX").is_none(),
            "tmux is needed for the terminal test (apt-get install tmux)"
        );
        return;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let server = Server::new(shop::shop_agent(), MemoryStore::new());
    tokio::spawn(server.serve_with(listener, std::future::pending()));
    let tmux = Tmux {
        socket: format!("aitp-cli-quit-{}", std::process::id()),
    };
    let command = format!(
        "{} chat {url}; echo chat-ended-$?; sleep 60",
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
    tmux.type_line(script::OPENING);
    tmux.wait_for("Choose 1-", 0).await;
    tmux.type_line("/quit");
    let screen = tmux.wait_for("chat-ended-0", 0).await;
    assert_eq!(screen.matches("Choose 1-").count(), 1, "{screen}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_messages_and_schema() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let server = Server::new(aitp_examples::echo_agent(), MemoryStore::new());
    tokio::spawn(server.serve_with(listener, std::future::pending()));
    let thread = aitp_client::Client::new(&url)
        .unwrap()
        .create_thread()
        .await
        .unwrap();
    let aitp = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            let out = Command::new(env!("CARGO_BIN_EXE_aitp"))
                .args(&args)
                .output()
                .unwrap();
            assert!(out.status.success(), "{args:?}: {out:?}");
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
    };
    let id = thread.id().to_owned();
    let sent = aitp(vec![
        "send".into(),
        url.clone(),
        id.clone(),
        "hello".into(),
        "--run".into(),
    ])
    .await
    .unwrap();
    assert!(sent.contains("echo: hello"), "{sent}");
    let listed = aitp(vec!["messages".into(), url.clone(), id])
        .await
        .unwrap();
    assert!(
        listed.contains(": hello") && listed.contains("echo: hello"),
        "{listed}"
    );
    // Listing threads is NEAR AI's extension: a server without it gets a message, not a 404.
    let threads = {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_aitp"))
                .args(["threads", &url])
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    };
    let stderr = String::from_utf8_lossy(&threads.stderr);
    assert!(!threads.status.success());
    assert!(stderr.contains("does not list threads"), "{stderr}");
    assert!(stderr.contains("aitp messages"), "{stderr}");
    let schema = aitp(vec!["schema".into(), "payments".into()])
        .await
        .unwrap();
    let schema: serde_json::Value = serde_json::from_str(&schema).unwrap();
    assert!(schema.to_string().contains("payment_confirmation"));
}
