//! The macro-style shop example (`examples/shop_macros`, package `example-shop-macros`)
//! through a whole purchase, by `Router::dispatch`: what it declares, what it answers, and
//! that everything it sends passes its schema.

use example_shop_macros as shop_macros;

use aitp_examples::script;
use std::sync::Arc;

use aitp::{
    agent::{Reply, Router},
    capability::{
        CapabilityId, CapabilityMessage, Envelope,
        decisions::RequestDecision,
        payments::{Payment, PaymentConfirmation, PaymentMethodUsed, Quote},
        transactions::{DetailValue, PaymentOutcome},
    },
    thread::{Content, Message, Role, Thread},
};
use shop_macros::MacroShop;

struct Customer {
    shop: Router<Arc<MacroShop>>,
    thread: Thread,
}

impl Customer {
    async fn post(&self, content: Content) -> Vec<Reply> {
        let message = Message::new(&self.thread.id, Role::User, vec![content]);
        let replies = self.shop.dispatch_one(self.thread.clone(), message).await;
        for r in &replies {
            if let Reply::Message(m) = r {
                m.validate()
                    .unwrap_or_else(|e| panic!("the shop sent an invalid {}: {e}", m.key()));
            }
        }
        replies
    }
}

fn find<T: CapabilityMessage>(replies: &[Reply]) -> Option<T> {
    replies.iter().find_map(|r| match r {
        Reply::Message(m) => m.message::<T>().ok().flatten(),
        _ => None,
    })
}

fn texts(replies: &[Reply]) -> String {
    replies
        .iter()
        .map(Reply::to_text)
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn the_macro_shop_sells() {
    let shop = MacroShop::default().router();
    let mut declared: Vec<String> = shop.capabilities().iter().map(CapabilityId::url).collect();
    declared.sort();
    assert_eq!(
        declared,
        [
            "https://aitp.dev/capabilities/aitp-01-payments/v1.0.0/schema.json",
            "https://aitp.dev/capabilities/aitp-02-decisions/v1.0.0/schema.json"
        ]
    );
    assert_eq!(aitp::agent::Agent::actor_id(&shop), "aitp-rs-macro-shop");
    let customer = Customer {
        shop,
        thread: Thread::new(),
    };

    let replies = customer.post(Content::text("hi")).await;
    assert!(texts(&replies).starts_with("You said \"hi\""));
    let catalogue: RequestDecision = find(&replies).expect("product cards");
    assert_eq!(catalogue.options.len(), 3);

    let mut choice = catalogue.choose(["stove", "mug"]);
    choice.options[1].quantity = Some(2u64.into());
    let replies = customer.post(Content::aitp(&Envelope::from(choice))).await;
    let quote: Quote = find(&replies).expect("a quote");
    assert!(texts(&replies).contains("68.50 USD"), "{}", texts(&replies));
    aitp::sign::verify(&shop_macros::public_key(), &quote).expect("signed by the shop");

    // Unknown product: an error report, nothing else.
    let replies = customer
        .post(Content::aitp(&Envelope::from(catalogue.choose(["canoe"]))))
        .await;
    assert!(
        texts(&replies).contains("we do not sell \\\"canoe\\\""),
        "{}",
        texts(&replies)
    );

    let option = &quote.payment_options[0];
    let unsigned = Payment::new(
        &quote,
        script::CUSTOMER,
        PaymentMethodUsed::for_option(option, &option.payment_methods[0], script::CHANNEL_ID),
    );
    // Unsigned: the gate refuses it, signed, naming the check; `paid` never runs.
    let mut placeholder = unsigned.clone();
    placeholder.payer_signature = Some("ed25519:demo".into());
    let replies = customer
        .post(Content::aitp(&Envelope::from(placeholder)))
        .await;
    let refusal: PaymentConfirmation = find(&replies).expect("a refusal");
    assert_eq!(refusal.result, PaymentOutcome::Failure);
    aitp::sign::verify(&shop_macros::public_key(), &refusal).expect("signed by the shop");
    let check = refusal
        .details
        .iter()
        .flatten()
        .find(|d| d.label == "Check");
    assert_eq!(
        check.map(|d| &d.value),
        Some(&DetailValue::String("payer_signature".into()))
    );

    let payment = aitp::sign::sign(&script::customer_key(), unsigned).unwrap();
    let replies = customer
        .post(Content::aitp(&Envelope::from(payment.clone())))
        .await;
    let confirmation: PaymentConfirmation = find(&replies).expect("a confirmation");
    assert_eq!(confirmation.quote_id, quote.quote_id);
    assert_eq!(confirmation.result, PaymentOutcome::Success);
    aitp::sign::verify(&shop_macros::public_key(), &confirmation).expect("signed by the gate");
    assert!(texts(&replies).contains("ORD-1001"));

    // Paying again: the same confirmation, no second order.
    let replies = customer.post(Content::aitp(&Envelope::from(payment))).await;
    let again: PaymentConfirmation = find(&replies).expect("the confirmation again");
    assert_eq!(again, confirmation);

    // Anything else goes to the fallback.
    let other = r#"{"$schema": "https://aitp.dev/capabilities/aitp-03-data-request/v1.0.0/schema.json", "data": {"fields": []}}"#;
    let replies = customer.post(Content::text(other)).await;
    assert!(
        texts(&replies).starts_with("This shop does not handle that"),
        "{}",
        texts(&replies)
    );
}
