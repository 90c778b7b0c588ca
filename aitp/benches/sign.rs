//! Signing and verifying AITP-01 messages against ed25519 verify alone on the same bytes (the
//! limit): a quote, and a quote wrapped three times. The target: canonicalisation + verify at
//! most 2x the raw verify.
//!
//! Run: `cargo bench -p aitp-sdk --bench sign`.

use std::{
    future::Future,
    hint::black_box,
    pin::pin,
    task::{Context, Poll, Waker},
};

use aitp::capability::payments::{
    Affiliate, AffiliateRole, PaymentOption, Quote, RevenueShare, WrappedQuote, Wrapper,
};
use aitp::sign::{self, ConfiguredKeys, Offer, SecretKey, Signature, signing_bytes};
use criterion::{Criterion, criterion_group, criterion_main};

fn key(n: u8) -> SecretKey {
    SecretKey::from_seed(&[n; 32])
}

fn quote() -> Quote {
    Quote::builder("q_bench", "shop.near", "Annual plan, billed once")
        .expiration("2030-01-01T00:00:00Z")
        .next_recipient("a1.near")
        .option(PaymentOption::near_payment_channel(
            "99.99".parse().unwrap(),
            "USD",
            "usdc.near",
            "shop.near",
        ))
        .option(PaymentOption::near_payment_channel(
            "25".parse().unwrap(),
            "NEAR",
            "wrap.near",
            "shop.near",
        ))
        .revenue_share(
            RevenueShare::new(300)
                .affiliate(Affiliate::new("finder.near", AffiliateRole::Discovery).weight(2)),
        )
        .build_unsigned()
}

fn chain() -> WrappedQuote {
    let q = sign::sign(&key(1), quote()).unwrap();
    let mut offer = Offer::from(q);
    for i in 1..=3u8 {
        let w = Wrapper::new(
            format!("a{i}.near"),
            AffiliateRole::PersonalAssistant,
            format!("a{}.near", i + 1),
        );
        offer = Offer::from(sign::wrap(&key(i + 1), w, offer).unwrap());
    }
    match offer {
        Offer::Wrapped(w) => w,
        Offer::Quote(_) => unreachable!("wrapped three times"),
        _ => unreachable!("no other kind of offer"),
    }
}

/// Runs a future that never waits (the configured-keys resolver answers at once).
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the configured-keys resolver never waits"),
    }
}

fn bench(c: &mut Criterion) {
    let merchant = key(1);
    let public = merchant.public_key();
    let unsigned = quote();
    let signed = sign::sign(&merchant, unsigned.clone()).unwrap();
    let bytes = signing_bytes(&signed).unwrap();
    let signature: Signature = signed
        .merchant_signature
        .as_deref()
        .unwrap()
        .parse()
        .unwrap();

    let mut g = c.benchmark_group("quote");
    g.bench_function("sign", |b| {
        b.iter(|| sign::sign(&merchant, black_box(unsigned.clone())).unwrap())
    });
    g.bench_function("ed25519_sign_alone", |b| {
        b.iter(|| merchant.sign(black_box(&bytes)))
    });
    g.bench_function("verify", |b| {
        b.iter(|| sign::verify(&public, black_box(&signed)).unwrap())
    });
    g.bench_function("ed25519_verify_alone", |b| {
        b.iter(|| assert!(public.verify(black_box(&bytes), &signature)))
    });
    g.finish();

    let wrapped = chain();
    let keys = (1..=4u8).fold(ConfiguredKeys::new(), |k, i| {
        let id = if i == 1 {
            "shop.near".to_owned()
        } else {
            format!("a{}.near", i - 1)
        };
        k.allow(id, key(i).public_key())
    });
    let offer = Offer::from(wrapped.clone());
    ready(sign::verify_chain(&keys, Some("a4.near"), &offer)).unwrap();
    // The same bytes and signatures, prepared once, for the limit.
    let mut raw = vec![(
        key(1).public_key(),
        signing_bytes(&wrapped.original_quote).unwrap(),
        wrapped
            .original_quote
            .merchant_signature
            .as_deref()
            .unwrap()
            .parse::<Signature>()
            .unwrap(),
    )];
    for (i, w) in wrapped.wrappers.iter().enumerate() {
        raw.push((
            key(i as u8 + 2).public_key(),
            sign::wrapper_signing_bytes(&wrapped, i).unwrap().unwrap(),
            w.signature.as_deref().unwrap().parse().unwrap(),
        ));
    }
    let mut g = c.benchmark_group("chain_of_3");
    g.bench_function("wrap", |b| {
        let two = {
            let mut w = wrapped.clone();
            w.wrappers.pop();
            w
        };
        let last = Wrapper::new("a3.near", AffiliateRole::PersonalAssistant, "a4.near");
        b.iter(|| sign::wrap(&key(4), last.clone(), black_box(two.clone())).unwrap())
    });
    g.bench_function("verify_chain", |b| {
        b.iter(|| {
            ready(sign::verify_chain(
                &keys,
                Some("a4.near"),
                black_box(&offer),
            ))
            .unwrap()
        })
    });
    g.bench_function("ed25519_verify_alone", |b| {
        b.iter(|| {
            for (k, bytes, sig) in &raw {
                assert!(k.verify(black_box(bytes), sig));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
