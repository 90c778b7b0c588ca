//! Matching a payment to the quote it pays, exactly.

use crate::{
    capability::payments::{Payment, PaymentMethod, PaymentOption, Quote},
    money::Amount,
};

/// Why a payment does not pay its quote. One variant per check, in the order they run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MatchError {
    /// The payment names another quote.
    #[error("payment.quote_id `{payment}` is not the quote `{quote}`")]
    QuoteId {
        /// The quote's id.
        quote: String,
        /// The payment's `quote_id`.
        payment: String,
    },
    /// No option of the quote is in the payment's currency.
    #[error("the quote has no option in {currency}")]
    Currency {
        /// The payment's currency.
        currency: String,
    },
    /// Options in that currency exist, but none takes this method type and token.
    #[error("no option in {currency} takes {method} in `{token}`")]
    Method {
        /// The payment's currency.
        currency: String,
        /// The payment's method type.
        method: String,
        /// The payment's token.
        token: String,
    },
    /// The option names an amount and the payment names none.
    #[error("the payment names no amount; the quote asks {expected}")]
    AmountMissing {
        /// What the option asks.
        expected: Amount,
    },
    /// The amount paid is not the amount asked (compared exactly: `10.0` is `10`).
    #[error("the payment pays {paid}; the quote asks {expected}")]
    Amount {
        /// What the (first) option in that currency and method asks.
        expected: Amount,
        /// What the payment pays.
        paid: Amount,
    },
    /// The payment's channel pays someone other than the option's recipient.
    #[error("the payment channel pays `{paid_to}`; the quote's recipient is `{expected}`")]
    Recipient {
        /// The recipient the quote names.
        expected: String,
        /// The account the payment channel pays.
        paid_to: String,
    },
}

/// The option and method of the quote that a payment pays.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Matched<'q> {
    /// The option's index in `payment_options`.
    pub option_index: usize,
    /// The option.
    pub option: &'q PaymentOption,
    /// The method of that option.
    pub method: &'q PaymentMethod,
}

/// Finds the option of `quote` that `payment` pays, or says which check failed: quote id,
/// currency, method type and token, amount (exactly, when the option names one; an option
/// without an amount is metered and takes any), and recipient.
///
/// A `payment` message does not name who its channel pays, so `channel_recipient` is that
/// account as your payment-channel backend reports it for `payment.payment_method.channel_id`;
/// it must be the chosen method's `recipient`.
pub fn match_payment<'q>(
    quote: &'q Quote,
    channel_recipient: &str,
    payment: &Payment,
) -> Result<Matched<'q>, MatchError> {
    if payment.quote_id != quote.quote_id {
        return Err(MatchError::QuoteId {
            quote: quote.quote_id.clone(),
            payment: payment.quote_id.clone(),
        });
    }
    let used = &payment.payment_method;
    let in_currency: Vec<(usize, &PaymentOption)> = quote
        .payment_options
        .iter()
        .enumerate()
        .filter(|(_, o)| o.currency == used.currency)
        .collect();
    if in_currency.is_empty() {
        return Err(MatchError::Currency {
            currency: used.currency.clone(),
        });
    }
    let with_method: Vec<(usize, &PaymentOption, &PaymentMethod)> = in_currency
        .iter()
        .flat_map(|&(i, o)| {
            o.payment_methods
                .iter()
                .filter(|m| m.r#type == used.r#type && m.token == used.token)
                .map(move |m| (i, o, m))
        })
        .collect();
    let Some(&(_, first_option, _)) = with_method.first() else {
        return Err(MatchError::Method {
            currency: used.currency.clone(),
            method: used.r#type.as_str().to_owned(),
            token: used.token.clone(),
        });
    };
    let amount_ok: Vec<_> = with_method
        .iter()
        .filter(|(_, o, _)| match (&o.amount, &used.amount) {
            (None, _) => true,
            (Some(asked), Some(paid)) => asked == paid,
            (Some(_), None) => false,
        })
        .collect();
    if amount_ok.is_empty() {
        let expected = first_option
            .amount
            .clone()
            .unwrap_or_else(|| Amount::from_minor_units(0, 0));
        return Err(match &used.amount {
            None => MatchError::AmountMissing { expected },
            Some(paid) => MatchError::Amount {
                expected,
                paid: paid.clone(),
            },
        });
    }
    amount_ok
        .iter()
        .find(|(_, _, m)| m.recipient == channel_recipient)
        .map(|&&(option_index, option, method)| Matched {
            option_index,
            option,
            method,
        })
        .ok_or_else(|| MatchError::Recipient {
            expected: amount_ok[0].2.recipient.clone(),
            paid_to: channel_recipient.into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::tests::{payment, quote};

    #[test]
    fn each_mismatch_is_its_own_error() {
        let q = quote();
        let p = payment(&q);
        let m = match_payment(&q, "shop.near", &p).unwrap();
        assert_eq!(m.option_index, 0);

        let mut other = p.clone();
        other.quote_id = "q_2".into();
        assert!(matches!(
            match_payment(&q, "shop.near", &other),
            Err(MatchError::QuoteId { .. })
        ));

        let mut other = p.clone();
        other.payment_method.currency = "EUR".into();
        assert_eq!(
            match_payment(&q, "shop.near", &other),
            Err(MatchError::Currency {
                currency: "EUR".into()
            })
        );

        let mut other = p.clone();
        other.payment_method.token = "usdt.near".into();
        assert!(matches!(
            match_payment(&q, "shop.near", &other),
            Err(MatchError::Method { .. })
        ));

        let mut other = p.clone();
        other.payment_method.amount = Some("12.49".parse().unwrap());
        assert_eq!(
            match_payment(&q, "shop.near", &other),
            Err(MatchError::Amount {
                expected: "12.50".parse().unwrap(),
                paid: "12.49".parse().unwrap()
            })
        );
        other.payment_method.amount = Some("12.5000".parse().unwrap());
        assert!(
            match_payment(&q, "shop.near", &other).is_ok(),
            "amounts compare exactly, not textually"
        );
        other.payment_method.amount = None;
        assert!(matches!(
            match_payment(&q, "shop.near", &other),
            Err(MatchError::AmountMissing { .. })
        ));

        assert_eq!(
            match_payment(&q, "thief.near", &p),
            Err(MatchError::Recipient {
                expected: "shop.near".into(),
                paid_to: "thief.near".into()
            })
        );
    }
}
