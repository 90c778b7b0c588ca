//! `aitp chat`: the conversation loop. The person types; the agent's replies stream in; what
//! the agent asks is answered through prompts and posted, until the agent asks nothing more.

use std::{cell::RefCell, collections::HashMap};

use aitp::{
    capability::{Body, ContentPart, Envelope, extract_text},
    thread::{Message, Role},
};
use aitp_client::ThreadHandle;

use crate::{
    CliResult, Exit, Failure,
    answer::{self, Payer},
    api::{self, Follow},
    cli::ChatArgs,
    keyfile::{KeyFile, PaymentSigner},
    prompt::{Prompter, Stop},
    render::{self, StreamView},
    verify,
};

/// Runs a conversation until the person leaves.
pub(crate) async fn chat(args: ChatArgs) -> CliResult {
    let server = &args.server;
    // The key file is read before anything is sent: a bad one is a usage error.
    let key = match &args.key {
        Some(path) => Some(KeyFile::read(path).map_err(|e| Failure::new(Exit::Usage, e))?),
        None => None,
    };
    let payer = payer(&args, key);
    let client = api::connect_to_run(server).await?;
    let mut thread = api::start(&client).await?;
    let peers: Vec<String> = thread
        .actors()
        .iter()
        .map(|a| a.id.clone())
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
    let session = Session {
        agent: peers.first().cloned().unwrap_or_else(|| "agent".to_owned()),
        payer,
        prompter: Prompter::detect(args.plain),
        follow: if args.no_stream {
            Follow::Poll
        } else {
            Follow::Stream
        },
        paid: RefCell::default(),
    };
    loop {
        let line = match session.prompter.line("you: ") {
            Ok(l) => l,
            Err(stop) => return left(stop),
        };
        if line.is_empty() {
            continue;
        }
        let turn = async {
            api::post_text(&mut thread, &line).await?;
            session.converse(&mut thread).await
        };
        match turn.await {
            Ok(()) => {}
            Err(f) if f.exit == Exit::Interrupted => return Err(f),
            Err(f) if f.message.is_empty() => return Ok(()),
            Err(f) => println!("! {}", f.message),
        }
    }
}

/// Who pays, and how payments are signed: `--key` first, then `--signer` checked against
/// `--payer-key`, then `--unsigned` if the person asked for it.
fn payer(args: &ChatArgs, key: Option<KeyFile>) -> Payer {
    let account = args
        .payer
        .clone()
        .or_else(|| key.as_ref().and_then(|k| k.account_id.clone()))
        .unwrap_or_else(|| args.server.actor.clone());
    let payments = match (key, &args.signer, args.payer_key) {
        (Some(k), _, _) => PaymentSigner::Key(k.key),
        (None, Some(command), Some(key)) => PaymentSigner::Command {
            command: command.clone(),
            key,
        },
        (None, Some(command), None) if !args.unsigned => PaymentSigner::Unchecked {
            command: command.clone(),
        },
        _ if args.unsigned => PaymentSigner::Unsigned,
        _ => PaymentSigner::Nothing,
    };
    Payer {
        account,
        actor: args.server.actor.clone(),
        channel: args.channel.clone(),
        signer: args.signer.clone(),
        payments,
        merchant_keys: args.merchant_keys.clone(),
    }
}

/// The merchant of a quote (or wrapped quote) question.
fn merchant_of(question: &Envelope) -> Option<String> {
    match question.body() {
        Body::Quote(q) => Some(q.merchant_id.clone()),
        Body::WrappedQuote(w) => Some(w.original_quote.merchant_id.clone()),
        _ => None,
    }
}

/// Leaving: `/quit` and the end of input are a normal end, Ctrl-C is not.
fn left(stop: Stop) -> CliResult {
    match stop {
        Stop::Quit | Stop::End => Ok(()),
        Stop::Interrupted => Err(Failure::new(Exit::Interrupted, "")),
    }
}

struct Session {
    agent: String,
    payer: Payer,
    prompter: Prompter,
    follow: Follow,
    /// The merchant of each quote paid (by quote id): who must have signed its confirmation.
    paid: RefCell<HashMap<String, String>>,
}

impl Session {
    /// Runs the agent, shows its replies, and answers what it asks, until it asks nothing.
    /// Leaving at a prompt is an `Err` with no message.
    async fn converse(&self, thread: &mut ThreadHandle) -> CliResult {
        loop {
            let replies = self.run(thread).await?;
            let Some(question) = self.show(&replies) else {
                return Ok(());
            };
            let reply = match answer::ask(self.prompter, &question, &self.payer).await {
                Ok(r) => r,
                Err(Stop::Interrupted) => return Err(Failure::new(Exit::Interrupted, "")),
                Err(Stop::Quit | Stop::End) => return Err(Failure::new(Exit::Failure, "")),
            };
            if let (Some(m), Some(merchant)) = (&reply, merchant_of(&question)) {
                if let Body::Payment(p) = m.body() {
                    self.paid.borrow_mut().insert(p.quote_id.clone(), merchant);
                }
            }
            match reply {
                Some(m) => api::post(thread, &m).await?,
                None => return Ok(()),
            }
        }
    }

    async fn run(&self, thread: &mut ThreadHandle) -> CliResult<Vec<(Message, bool)>> {
        let mut view = StreamView::new(&self.agent);
        let replies = api::run(thread, self.follow, |e| view.event(e)).await;
        let shown: Vec<bool> = match &replies {
            Ok(r) => r.iter().map(|m| view.was_shown(&m.id)).collect(),
            Err(_) => Vec::new(),
        };
        view.finish();
        Ok(replies?.into_iter().zip(shown).collect())
    }

    /// Shows the agent's messages (those the stream has not shown); the first question.
    fn show(&self, replies: &[(Message, bool)]) -> Option<Envelope> {
        let mut question: Option<Envelope> = None;
        for (m, streamed) in replies {
            if m.role != Role::Assistant {
                continue;
            }
            let who = render::sender(m, &self.agent);
            for part in m.text_parts() {
                match extract_text(part) {
                    ContentPart::Aitp(a) => {
                        if answer::is_question(&a) {
                            // One question at a time: the first is asked, the others named.
                            match &question {
                                None => question = Some(a),
                                Some(_) => println!("{who} also asks: {}", render::summary(&a)),
                            }
                        } else {
                            render::show(&who, &a);
                            if let Body::PaymentConfirmation(c) = a.body() {
                                let paid = self.paid.borrow();
                                let merchant = paid.get(&c.quote_id).map(String::as_str);
                                let signature = verify::confirmation_signature(
                                    c,
                                    merchant,
                                    &self.payer.merchant_keys,
                                );
                                println!("  signature: {signature}");
                            }
                        }
                    }
                    _ if *streamed => {}
                    _ => println!("{who}: {part}"),
                }
            }
        }
        question
    }
}
