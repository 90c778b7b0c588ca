//! `aitp`: talk to any AITP agent from a terminal.
//!
//! `aitp --help` lists the subcommands, `aitp help SUBCOMMAND` explains one with examples.
//! The modules: [`cli`] the command line, [`api`] every call into `aitp_client`, [`chat`] the
//! conversation loop, [`answer`] the questions an agent asks (menus, forms, quotes, wallets),
//! [`prompt`] terminal and plain-line prompts, [`render`] how messages are printed.

mod answer;
mod api;
mod chat;
mod cli;
mod commands;
mod keyfile;
mod prompt;
mod render;
mod verify;
mod wallet;

use std::process::ExitCode;

use clap::Parser as _;

/// What an exit status means (documented in `aitp --help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// Something the server or the network did failed.
    Failure = 1,
    /// The command line is wrong (a bad key file, say); clap exits with it for the rest.
    Usage = 2,
    /// The thread (or another named object) does not exist.
    NotFound = 3,
    /// The server (or this installation) cannot do what was asked.
    Unsupported = 4,
    /// Interrupted with Ctrl-C at a prompt.
    Interrupted = 130,
}

/// Why a command failed, and the exit status that says so.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) exit: Exit,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(exit: Exit, message: impl Into<String>) -> Self {
        Self {
            exit,
            message: message.into(),
        }
    }
}

impl From<aitp_client::Error> for Failure {
    fn from(e: aitp_client::Error) -> Self {
        Self::new(Exit::Failure, e.to_string())
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Self::new(Exit::Failure, e.to_string())
    }
}

impl From<serde_json::Error> for Failure {
    fn from(e: serde_json::Error) -> Self {
        Self::new(Exit::Failure, e.to_string())
    }
}

pub(crate) type CliResult<T = ()> = Result<T, Failure>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = cli::Cli::parse_from(cli::with_env_url(std::env::args_os().collect()));
    match commands::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !f.message.is_empty() {
                eprintln!("error: {}", f.message);
            }
            ExitCode::from(f.exit as u8)
        }
    }
}
