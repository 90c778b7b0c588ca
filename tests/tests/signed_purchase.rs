//! A whole signed purchase over HTTP on 127.0.0.1: buyer → personal assistant → shop.
//!
//! The shop (`example-shop`) signs its quote; the personal assistant (`aitp-client`'s
//! `Forwarder` with an `Affiliation`) checks the shop's signature and passes the quote on
//! wrapped, signing its wrapper; the buyer (`aitp-client`, the customer script's account and
//! key) checks the whole chain against the shop's and the assistant's keys, pays with a signed
//! payment, and checks the shop's signed confirmation. The shop's quote offers affiliates a
//! revenue share and names the assistant as its `next_recipient`; the assistant's part of the
//! share is exact. A variant puts an agent between the buyer and the assistant that changes
//! the quote on the way (down to stripping the assistant's wrapper): the buyer refuses to
//! pay, and the shop receives nothing.

use std::time::Duration;

use aitp::{
    agent::{BoxFuture, Forward, ForwardError, Reply, Router, ThreadCtx},
    capability::{
        AitpCapability, Body, Envelope,
        payments::{
            Affiliate, AffiliateRole, Payment, PaymentConfirmation, RevenueShare, WrappedQuote,
            Wrapper,
        },
    },
    server::Server,
    sign::{
        self, Admission, ConfiguredKeys, Offer, Party, PaymentGate, SecretKey, VerifiedChain,
        VerifyError, split_revenue, verify_chain, verify_signed,
    },
    store::MemoryStore,
    thread::{ListQuery, Message, Order},
};
use aitp_client::{Affiliation, Client, Forwarder, ThreadHandle};
use aitp_examples::script;
use aitp_tests::{ServerGuard, serve_in_background};
use example_shop as shop;
use futures_util::TryStreamExt as _;

/// The personal assistant's account: its actor id and affiliate id.
const ASSISTANT: &str = "assistant.near";

/// The assistant's signing key (a fixed seed, so the test is the same every run).
fn assistant_key() -> SecretKey {
    SecretKey::from_seed(&[0xA5; 32])
}

/// A router passing text and every capability message on through `hop`.
fn passthrough<F: Forward + TextRelay + Clone>(actor: &str, hop: F) -> Router {
    let text = hop.clone();
    Router::new()
        .actor_id(actor)
        .on_text(move |cx: ThreadCtx, said: String| {
            let text = text.clone();
            async move { text.relay_text_in(&cx, &said).await }
        })
        .forward_to(hop)
        .declare(AitpCapability::Decisions.v1())
        .declare(AitpCapability::DataRequest.v1())
        .declare(AitpCapability::Payments.v1())
}

/// Text passed on by the agents of this test.
trait TextRelay: Send + Sync + 'static {
    fn relay_text_in(
        &self,
        cx: &ThreadCtx,
        text: &str,
    ) -> impl Future<Output = Result<Vec<Reply>, aitp_client::Error>> + Send;
}

impl TextRelay for Forwarder {
    async fn relay_text_in(
        &self,
        cx: &ThreadCtx,
        text: &str,
    ) -> Result<Vec<Reply>, aitp_client::Error> {
        self.forward_text(cx, text).await
    }
}

/// An agent in the middle that changes every `wrapped_quote` it relays with `tamper`: what a
/// compromised hop could do to the quote in transit.
#[derive(Clone)]
struct Tampering {
    to: Forwarder,
    tamper: Tamper,
}

/// A change made to a `wrapped_quote` in transit: what the hop sends on instead.
type Tamper = fn(WrappedQuote) -> Envelope;

/// Whether the buyer refused a tampered quote with the right check.
type Refusal = fn(&VerifyError) -> bool;

impl Tampering {
    fn change(&self, replies: Vec<Reply>) -> Vec<Reply> {
        replies
            .into_iter()
            .map(|r| match r {
                Reply::Message(m) => match m.body() {
                    Body::WrappedQuote(w) => Reply::Message((self.tamper)(w.clone())),
                    _ => Reply::Message(m),
                },
                other => other,
            })
            .collect()
    }
}

impl Forward for Tampering {
    fn forward(
        &self,
        cx: ThreadCtx,
        message: Envelope,
    ) -> BoxFuture<'static, Result<Vec<Reply>, ForwardError>> {
        let this = self.clone();
        Box::pin(async move {
            let replies = this
                .to
                .relay(cx.thread_id(), &message)
                .await
                .map_err(|e| Box::new(e) as ForwardError)?;
            Ok(this.change(replies))
        })
    }
}

impl TextRelay for Tampering {
    async fn relay_text_in(
        &self,
        cx: &ThreadCtx,
        text: &str,
    ) -> Result<Vec<Reply>, aitp_client::Error> {
        let replies = self.to.relay_text(cx.thread_id(), text).await?;
        Ok(self.change(replies))
    }
}

/// The shop and the personal assistant in front of it, served on 127.0.0.1.
struct Agents {
    shop: shop::ShopState,
    shop_url: String,
    /// The assistant's forwarder: which shop thread belongs to which of its threads.
    to_shop: Forwarder,
    assistant_url: String,
    _servers: Vec<ServerGuard>,
}

async fn agents() -> Agents {
    let state = shop::ShopState::default();
    let (shop_url, shop_guard) = serve_in_background(Server::new(
        shop::shop_agent_with(state.clone()),
        MemoryStore::new(),
    ))
    .await;
    // The assistant vouches only for quotes the shop signed with its own key.
    let me = Affiliation::new(
        ASSISTANT,
        assistant_key(),
        ConfiguredKeys::new().allow(shop::MERCHANT_ID, state.public_key()),
    )
    .added_affiliate(Affiliate::new("discovery.near", AffiliateRole::Discovery).weight(1));
    let client = Client::builder(&shop_url)
        .actor(ASSISTANT)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let to_shop = Forwarder::new(client).affiliate(me);
    let (assistant_url, assistant_guard) = serve_in_background(Server::new(
        passthrough(ASSISTANT, to_shop.clone()),
        MemoryStore::new(),
    ))
    .await;
    Agents {
        shop: state,
        shop_url,
        to_shop,
        assistant_url,
        _servers: vec![shop_guard, assistant_guard],
    }
}

/// Whom the buyer trusts: the shop for its quotes and confirmations, the assistant for its
/// wrapper.
fn buyer_trusts(shop: &shop::ShopState) -> ConfiguredKeys {
    ConfiguredKeys::new()
        .allow(shop::MERCHANT_ID, shop.public_key())
        .allow(ASSISTANT, assistant_key().public_key())
}

fn capabilities(messages: &[Message]) -> Vec<Envelope> {
    messages
        .iter()
        .flat_map(|m| m.capabilities().filter_map(Result::ok).collect::<Vec<_>>())
        .collect()
}

/// What the buyer got: the quote it paid, the chain's keys, its payment, the confirmation.
struct Purchase {
    offer: Offer,
    chain: VerifiedChain,
    payment: Payment,
    confirmation: PaymentConfirmation,
}

/// The buyer: answers the conversation with the customer script until a quote arrives
/// (wrapped or not); pays it only when every signature of its chain verifies and the chain
/// ends at the buyer, with a payment signed by the customer's key. `Err`: the check that
/// refused the quote (nothing was paid).
async fn buy(thread: &mut ThreadHandle, trusts: &ConfiguredKeys) -> Result<Purchase, VerifyError> {
    let mut replies = thread.ask(script::OPENING).await.unwrap();
    loop {
        let messages = capabilities(&replies);
        let offer = messages.iter().find_map(|m| match m.body() {
            Body::WrappedQuote(w) => Some(Offer::from(w.clone())),
            Body::Quote(q) => Some(Offer::from(q.clone())),
            _ => None,
        });
        if let Some(offer) = offer {
            let chain = verify_chain(trusts, Some(script::CUSTOMER), &offer).await?;
            let payment = script::pay(offer.quote()).expect("the quote offers a way to pay");
            let confirmation = thread
                .expect::<PaymentConfirmation>(payment.clone())
                .await
                .unwrap();
            return Ok(Purchase {
                offer,
                chain,
                payment,
                confirmation,
            });
        }
        let answer = messages
            .iter()
            .find_map(script::next_message)
            .unwrap_or_else(|| panic!("nothing to answer in {replies:?}"));
        replies = thread.ask(&answer).await.unwrap();
    }
}

fn buyer(url: &str) -> Client {
    Client::builder(url)
        .actor(script::CUSTOMER)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// The `payment` messages the shop received in thread `id`.
async fn payments_at_the_shop(shop_url: &str, id: &str) -> Vec<Payment> {
    let messages: Vec<Message> = Client::new(shop_url)
        .unwrap()
        .messages(id)
        .list(ListQuery::new(ListQuery::MAX_LIMIT, Order::Asc))
        .try_collect()
        .await
        .unwrap();
    capabilities(&messages)
        .into_iter()
        .filter_map(|m| match m.body() {
            Body::Payment(p) => Some(p.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_purchase_through_an_affiliate() {
    let agents = agents().await;
    let trusts = buyer_trusts(&agents.shop);
    let mut thread = buyer(&agents.assistant_url).create_thread().await.unwrap();
    let purchase = buy(&mut thread, &trusts).await.expect("the chain verifies");
    let Offer::Wrapped(wrapped) = &purchase.offer else {
        panic!(
            "the assistant passes the quote on wrapped: {:?}",
            purchase.offer
        )
    };

    // The chain: the shop's quote, unchanged, handed to the assistant, then the assistant's
    // wrapper, addressed to the buyer, adding the discovery agent.
    assert_eq!(purchase.chain.merchant_key, agents.shop.public_key());
    assert_eq!(purchase.chain.wrapper_keys, [assistant_key().public_key()]);
    assert_eq!(
        wrapped.original_quote.next_recipient.as_deref(),
        Some(ASSISTANT)
    );
    let wrapper = &wrapped.wrappers[0];
    assert_eq!(wrapper.affiliate_id, ASSISTANT);
    assert_eq!(wrapper.role, AffiliateRole::PersonalAssistant);
    assert_eq!(wrapper.next_recipient, script::CUSTOMER);
    let affiliates: Vec<String> = wrapped.affiliates().into_iter().map(|a| a.id).collect();
    assert_eq!(affiliates, [ASSISTANT, "discovery.near"]);
    // Addressed to the buyer, not to anyone else.
    assert!(matches!(
        verify_chain(&trusts, Some("someone-else.near"), &purchase.offer).await,
        Err(VerifyError::WrongRecipient { .. })
    ));

    // The affiliates' share, as the shop signed it: 300 bps of the price paid, in USDC's
    // smallest units (6 decimals), split by weight between the assistant (its wrapper, weight
    // 1) and the discovery agent it added (weight 1). Worked out here by hand from the price:
    // 37.00 USD is 37_000_000 units, 3 % of it 1_110_000, half of that 555_000 each.
    let share = wrapped
        .original_quote
        .revenue_share
        .as_ref()
        .expect("the shop offers affiliates a share");
    assert_eq!(share.affiliate_share_bps, shop::AFFILIATE_SHARE_BPS);
    let price = purchase.payment.payment_method.amount.clone().unwrap();
    let units = price.to_minor_units(6).unwrap();
    let expected_share = units * u128::try_from(shop::AFFILIATE_SHARE_BPS).unwrap() / 10_000;
    let split = split_revenue(&price, 6, &purchase.offer).unwrap();
    assert_eq!(split.share.to_minor_units(6), Some(expected_share));
    assert_eq!(
        split.merchant.to_minor_units(6),
        Some(units - expected_share)
    );
    let parts: Vec<(&str, u128)> = split
        .parts
        .iter()
        .map(|p| (p.id.as_str(), p.amount.to_minor_units(6).unwrap()))
        .collect();
    assert_eq!(
        parts,
        [
            (ASSISTANT, expected_share / 2 + expected_share % 2),
            ("discovery.near", expected_share / 2)
        ]
    );
    assert_eq!(
        parts.iter().map(|(_, units)| units).sum::<u128>(),
        expected_share,
        "the parts add up to the share exactly"
    );
    assert_eq!(price.as_str(), "37.00");
    assert_eq!(
        (split.share.as_str(), split.parts[0].amount.as_str()),
        ("1.110000", "0.555000")
    );

    // The confirmation is the shop's: signed with the shop's key, for this payment.
    assert_eq!(purchase.confirmation.result.as_str(), "success");
    assert_eq!(purchase.confirmation.quote_id, purchase.payment.quote_id);
    let signer = verify_signed(
        &trusts,
        &Party::Merchant(shop::MERCHANT_ID.into()),
        &purchase.confirmation,
    )
    .await
    .expect("the confirmation verifies with the shop's key");
    assert_eq!(signer, agents.shop.public_key());

    // At the shop: the quote it signed is the one the buyer saw inside the wrapper, and the
    // payment it received is the buyer's, byte for byte, signed with the buyer's key.
    let remote = agents.to_shop.remote_thread_id(thread.id()).await.unwrap();
    let order = agents.shop.order(&remote).expect("the shop has the order");
    assert_eq!(order.stage.waiting_for(), "nothing: the order is paid");
    let received = payments_at_the_shop(&agents.shop_url, &remote).await;
    assert_eq!(received, std::slice::from_ref(&purchase.payment));
    let customer =
        ConfiguredKeys::new().allow(script::CUSTOMER, script::customer_key().public_key());
    verify_signed(
        &customer,
        &Party::Payer(script::CUSTOMER.into()),
        &received[0],
    )
    .await
    .expect("the payment verifies with the buyer's key");
    sign::verify(&script::customer_key().public_key(), &received[0]).unwrap();
    assert!(sign::verify(&assistant_key().public_key(), &received[0]).is_err());

    // Every check a payment-grade merchant runs (`PaymentGate`) passes, against the quote the
    // shop holds and against the wrapped quote the buyer paid.
    let merchant_trusts = ConfiguredKeys::new()
        .allow(shop::MERCHANT_ID, agents.shop.public_key())
        .allow(ASSISTANT, assistant_key().public_key())
        .allow(script::CUSTOMER, script::customer_key().public_key());
    for offer in [
        Offer::from(wrapped.original_quote.clone()),
        purchase.offer.clone(),
    ] {
        let gate = PaymentGate::new(
            SecretKey::from_seed(&shop::DEMO_KEY_SEED),
            merchant_trusts.clone(),
        );
        let admitted = gate
            .admit([&offer], shop::MERCHANT_ID, &received[0])
            .await
            .expect("the payment passes the merchant's gate");
        assert!(matches!(admitted, Admission::Fresh(_)));
    }
}

/// The quote changed on its way to the buyer: each change breaks a signature, the buyer
/// refuses with the check that failed, and the shop receives no payment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_tampered_in_transit_is_refused() {
    let cases: [(&str, Tamper, Refusal); 7] = [
        (
            "the amount lowered",
            |mut w| {
                w.original_quote.payment_options[0].amount = Some("0.01".parse().unwrap());
                Envelope::from(w)
            },
            |e| {
                matches!(e, VerifyError::BadSignature { path, .. }
                if path == "wrapped_quote.original_quote.merchant_signature")
            },
        ),
        (
            "the affiliates' share raised",
            |mut w| {
                w.original_quote.revenue_share = Some(RevenueShare::new(5_000));
                Envelope::from(w)
            },
            |e| {
                matches!(e, VerifyError::BadSignature { path, .. }
                if path == "wrapped_quote.original_quote.merchant_signature")
            },
        ),
        (
            "an affiliate slipped into the assistant's wrapper",
            |mut w| {
                w.wrappers[0].added_affiliates =
                    Some(vec![Affiliate::new("fraud.near", AffiliateRole::Discovery)]);
                Envelope::from(w)
            },
            |e| {
                matches!(e, VerifyError::BadSignature { path, .. }
                if path == "wrapped_quote.wrappers[0].signature")
            },
        ),
        (
            "a wrapper added by a hop the assistant did not pass the quote to",
            |w| {
                let fraud = SecretKey::from_seed(&[0xF0; 32]);
                let wrapper = Wrapper::new("fraud.near", AffiliateRole::Service, script::CUSTOMER);
                Envelope::from(sign::wrap(&fraud, wrapper, w).unwrap())
            },
            |e| matches!(e, VerifyError::BrokenChain { index: 1, .. }),
        ),
        (
            "the assistant's wrapper replaced by another's",
            |w| {
                let fraud = SecretKey::from_seed(&[0xF0; 32]);
                let wrapper = Wrapper::new(
                    "fraud.near",
                    AffiliateRole::PersonalAssistant,
                    script::CUSTOMER,
                );
                Envelope::from(sign::wrap(&fraud, wrapper, w.original_quote).unwrap())
            },
            // The shop handed its quote to the assistant: nobody else may wrap it.
            |e| {
                matches!(e, VerifyError::BrokenChain { index: 0, expected, affiliate_id }
                    if expected == ASSISTANT && affiliate_id == "fraud.near")
            },
        ),
        (
            "the assistant's wrapper stripped",
            |w| Envelope::from(w.original_quote),
            // Every signature left is good, but the quote is still addressed to the
            // assistant, not to the buyer: the assistant's share would go unpaid.
            |e| {
                matches!(e, VerifyError::WrongRecipient { addressed_to, recipient }
                    if addressed_to == ASSISTANT && recipient == script::CUSTOMER)
            },
        ),
        (
            "the assistant's wrapper stripped and the quote re-addressed to the buyer",
            |w| {
                let mut quote = w.original_quote;
                quote.next_recipient = Some(script::CUSTOMER.into());
                Envelope::from(quote)
            },
            |e| {
                matches!(e, VerifyError::BadSignature { path, .. }
                if path == "quote.merchant_signature")
            },
        ),
    ];
    for (what, tamper, refused) in cases {
        let agents = agents().await;
        let client = Client::builder(&agents.assistant_url)
            .actor("middle.near")
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let middle = Tampering {
            to: Forwarder::new(client),
            tamper,
        };
        let (middle_url, _middle) = serve_in_background(Server::new(
            passthrough("middle.near", middle.clone()),
            MemoryStore::new(),
        ))
        .await;
        let mut thread = buyer(&middle_url).create_thread().await.unwrap();
        let error = match buy(&mut thread, &buyer_trusts(&agents.shop)).await {
            Ok(_) => panic!("{what}: the buyer paid a tampered quote"),
            Err(e) => e,
        };
        assert!(refused(&error), "{what}: refused with {error:?}");

        // Nothing reached the shop: its order still waits for a payment.
        let remote_at_assistant = middle.to.remote_thread_id(thread.id()).await.unwrap();
        let remote = agents
            .to_shop
            .remote_thread_id(&remote_at_assistant)
            .await
            .unwrap();
        let order = agents.shop.order(&remote).expect("the shop has the order");
        assert_eq!(
            order.stage.waiting_for(),
            "a payment of the quote (`payment`)",
            "{what}"
        );
        assert!(
            payments_at_the_shop(&agents.shop_url, &remote)
                .await
                .is_empty(),
            "{what}"
        );
    }
}
