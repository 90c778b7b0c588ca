//! The client's round-trip overhead against raw `reqwest` doing the same requests to our
//! server over loopback: `GET /threads/{id}` and `POST /threads/{id}/messages`, both decoded
//! into the same `aitp::thread` types.
//!
//! ```text
//! cargo bench -p aitp-client --bench roundtrip
//! ```

use std::time::Duration;

use aitp::{
    server::Server,
    store::MemoryStore,
    thread::{CreateMessage, Message, Thread},
};
use aitp_client::Client;
use criterion::{Criterion, criterion_group, criterion_main};

fn roundtrip(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let url = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1", listener.local_addr().unwrap());
        let server = Server::new(example_echo::echo_agent(), MemoryStore::new());
        tokio::spawn(server.serve_with(listener, std::future::pending()));
        url
    });
    let client = Client::new(&url).unwrap();
    let thread = rt.block_on(client.create_thread()).unwrap();
    let id = thread.id().to_owned();
    let raw = reqwest::Client::new();
    let thread_url = format!("{url}/threads/{id}");
    let messages_url = format!("{url}/threads/{id}/messages");
    let body = serde_json::to_vec(&CreateMessage::user("hello")).unwrap();

    let mut g = c.benchmark_group("retrieve_thread");
    g.measurement_time(Duration::from_secs(4));
    g.bench_function("aitp_client", |b| {
        b.iter(|| rt.block_on(client.threads().retrieve(&id)).unwrap())
    });
    g.bench_function("raw_reqwest", |b| {
        b.iter(|| {
            rt.block_on(async {
                let resp = raw
                    .get(&thread_url)
                    .header("openai-beta", "assistants=v2")
                    .send()
                    .await
                    .unwrap();
                let bytes = resp.bytes().await.unwrap();
                serde_json::from_slice::<Thread>(&bytes).unwrap()
            })
        })
    });
    g.finish();

    let mut g = c.benchmark_group("create_message");
    g.measurement_time(Duration::from_secs(4));
    let request = CreateMessage::user("hello");
    g.bench_function("aitp_client", |b| {
        b.iter(|| rt.block_on(client.messages(&id).create(&request)).unwrap())
    });
    g.bench_function("raw_reqwest", |b| {
        b.iter(|| {
            rt.block_on(async {
                let resp = raw
                    .post(&messages_url)
                    .header("openai-beta", "assistants=v2")
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                let bytes = resp.bytes().await.unwrap();
                serde_json::from_slice::<Message>(&bytes).unwrap()
            })
        })
    });
    g.finish();
}

criterion_group!(benches, roundtrip);
criterion_main!(benches);
