//! Serves the echo agent on the AITP-T01 Threads API.
//!
//! ```text
//! cargo run -p example-echo    # http://127.0.0.1:8080/v1
//! AITP_ADDR=0.0.0.0:9000 RUST_LOG=debug cargo run -p example-echo
//! ```
//!
//! The agent is in `src/lib.rs`: it answers text with `echo: <text>` and any capability
//! message with a summary of it, which makes it a handy peer for trying a client.

use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let addr = std::env::var("AITP_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".to_owned());
    println!("echo agent: base URL http://{addr}/v1 (Ctrl-C to stop)");
    aitp::serve(example_echo::echo_agent(), addr).await
}
