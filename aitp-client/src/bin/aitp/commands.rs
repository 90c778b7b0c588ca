//! The subcommands other than `chat`: each a few calls through [`crate::api`].

use std::ffi::OsString;

use aitp::capability::{AitpCapability, ContentPart, extract_text};
use clap::CommandFactory as _;

use crate::{
    CliResult, Exit, Failure,
    api::{self, Follow},
    chat,
    cli::{Cli, Command, Server},
    render,
};

/// Runs the command line.
pub(crate) async fn run(cli: Cli) -> CliResult {
    match cli.command {
        Command::Chat(args) => chat::chat(*args).await,
        Command::Send {
            server,
            thread,
            text,
            run,
        } => send(&server, &thread, &text, run).await,
        Command::Messages { server, thread } => messages(&server, &thread).await,
        Command::Threads { server } => threads(&server).await,
        Command::Stream {
            server,
            thread,
            json,
        } => stream(&server, &thread, json).await,
        Command::Schema { capability } => schema(&capability),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "aitp", &mut std::io::stdout());
            Ok(())
        }
        Command::Mcp { url, args } => mcp(url, args),
    }
}

async fn send(server: &Server, thread: &str, text: &str, run: bool) -> CliResult {
    let client = if run {
        api::connect_to_run(server).await?
    } else {
        api::connect(server)?
    };
    let mut handle = api::open(&client, thread).await?;
    match extract_text(text) {
        ContentPart::Aitp(m) => api::post(&mut handle, &m).await?,
        _ => api::post_text(&mut handle, text).await?,
    }
    if run {
        let spinner = render::spinner();
        let replies = api::run(&mut handle, Follow::Poll, |_| {}).await;
        spinner.finish_and_clear();
        for m in &replies? {
            render::print_message(m);
        }
    }
    Ok(())
}

async fn messages(server: &Server, thread: &str) -> CliResult {
    let client = api::connect(server)?;
    api::retrieve(&client, thread).await?;
    for m in &api::messages(&client, thread).await? {
        render::print_message(m);
    }
    Ok(())
}

async fn threads(server: &Server) -> CliResult {
    let client = api::connect(server)?;
    for t in api::threads(&client).await? {
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

async fn stream(server: &Server, thread: &str, json: bool) -> CliResult {
    let client = api::connect_to_run(server).await?;
    api::stream_events(&client, thread, |e| {
        if json {
            let line = serde_json::json!({"event": e.name.to_string(), "data": e.data});
            println!("{line}");
        } else {
            let detail = if let Some(Ok(d)) = e.message_delta() {
                format!("{:?}", d.text())
            } else if let Some(Ok(r)) = e.run() {
                format!("{} {}", r.id, r.status)
            } else if let Some(Ok(m)) = e.message() {
                format!("{} {}", m.id, m.text())
            } else {
                e.data.to_string()
            };
            println!("{}  {detail}", e.name);
        }
        Ok(())
    })
    .await
}

fn schema(name: &str) -> CliResult {
    let capability = AitpCapability::ALL
        .into_iter()
        .find(|c| {
            let slug = c.slug();
            slug == name
                || slug.ends_with(&format!("-{name}"))
                || slug.starts_with(&format!("{name}-"))
        })
        .ok_or_else(|| {
            Failure::new(
                Exit::Failure,
                format!(
                    "no capability {name:?}; try payments, decisions, data-request, near-wallet, \
                     evm-wallet"
                ),
            )
        })?;
    println!(
        "{}",
        serde_json::to_string_pretty(&aitp::schema::official(capability))?
    );
    Ok(())
}

/// `aitp mcp`: runs `aitp-mcp` (next to this program, else on PATH) with the URL and the
/// arguments, in this process's place.
fn mcp(url: String, args: Vec<OsString>) -> CliResult {
    let name = format!("aitp-mcp{}", std::env::consts::EXE_SUFFIX);
    let beside = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join(&name)))
        .filter(|p| p.is_file());
    let program = beside.map_or_else(|| OsString::from(&name), |p| p.into_os_string());
    let mut command = std::process::Command::new(&program);
    command.arg(url).args(args);
    let missing = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Failure::new(
                Exit::Unsupported,
                "aitp-mcp is not installed (next to aitp, or on PATH): \
                 cargo install aitp-mcp, or build it in this workspace",
            )
        } else {
            Failure::new(Exit::Failure, format!("cannot run aitp-mcp: {e}"))
        }
    };
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt as _;
        // `exec` returns only when it failed.
        Err(missing(command.exec()))
    }
    #[cfg(not(unix))]
    {
        let status = command.status().map_err(missing)?;
        match status.code() {
            Some(0) => Ok(()),
            _ => Err(Failure::new(
                Exit::Failure,
                format!("aitp-mcp exited with {status}"),
            )),
        }
    }
}
