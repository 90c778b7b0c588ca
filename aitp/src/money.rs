//! Exact amounts of money.
//!
//! AITP-01 writes amounts as decimal strings (`^\d+(\.\d+)?$`) "to prevent floating point
//! imprecision"; AITP-02 quotes, the legacy AITP-04 Transactions capability and NEAR AI write
//! them as JSON numbers. Both are read here without going through `f64`: [`Amount`] keeps the
//! exact text and compares and adds as exact decimals; [`DecimalNumber`] keeps a JSON number's
//! digits (the crate enables serde_json's `arbitrary_precision`).

use std::{cmp::Ordering, fmt, str::FromStr};

use bigdecimal::BigDecimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

/// Why a string is not an amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{input:?} is not a decimal amount: expected digits with an optional fraction, like \"10\" or \"12.50\""
)]
pub struct AmountError {
    input: String,
}

/// A non-negative decimal amount, exact, as AITP-01 writes it (`"12.50"`).
///
/// The text is kept as received, so `"12.50"` serialises back as `"12.50"`, while equality and
/// ordering compare values (`"12.5" == "12.50"`). Arithmetic is exact at any size: token
/// amounts of 10^24 units are as safe as cents.
///
/// ```
/// use aitp::money::Amount;
/// let a: Amount = "0.1".parse().unwrap();
/// let b: Amount = "0.2".parse().unwrap();
/// assert_eq!(a.checked_add(&b), "0.3".parse().unwrap());
/// assert!("10".parse::<Amount>().unwrap() > "9.99".parse().unwrap());
/// assert!("1e3".parse::<Amount>().is_err());
/// ```
#[derive(Clone)]
pub struct Amount {
    text: Box<str>,
}

impl Amount {
    /// Parses `^\d+(\.\d+)?$`.
    pub fn new(text: &str) -> Result<Self, AmountError> {
        if is_decimal(text) {
            Ok(Self { text: text.into() })
        } else {
            Err(AmountError {
                input: text.to_owned(),
            })
        }
    }

    /// The amount of `units` minor units with `decimals` decimal places:
    /// `from_minor_units(1250, 2)` is `12.50`.
    pub fn from_minor_units(units: u128, decimals: u32) -> Self {
        let digits = units.to_string();
        let d = decimals as usize;
        let text = if d == 0 {
            digits
        } else if digits.len() > d {
            format!(
                "{}.{}",
                &digits[..digits.len() - d],
                &digits[digits.len() - d..]
            )
        } else {
            format!("0.{}{}", "0".repeat(d - digits.len()), digits)
        };
        Self { text: text.into() }
    }

    /// The amount in minor units with `decimals` decimal places (`12.50` with 2 → `1250`);
    /// `None` when it has more decimal places than that or does not fit a `u128`.
    pub fn to_minor_units(&self, decimals: u32) -> Option<u128> {
        let (int, frac) = self.parts();
        let frac = frac.trim_end_matches('0');
        if frac.len() > decimals as usize {
            return None;
        }
        let mut digits = String::with_capacity(int.len() + decimals as usize);
        digits.push_str(int);
        digits.push_str(frac);
        digits.extend(std::iter::repeat_n('0', decimals as usize - frac.len()));
        digits.parse().ok()
    }

    /// The exact text, as received or written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The exact decimal value.
    pub fn to_decimal(&self) -> BigDecimal {
        // A validated decimal string always parses.
        BigDecimal::from_str(&self.text).unwrap_or_default()
    }

    /// The exact sum. Never overflows.
    pub fn checked_add(&self, other: &Amount) -> Amount {
        Self::from_decimal(&(self.to_decimal() + other.to_decimal()))
    }

    /// The exact difference, or `None` when `other` is larger (amounts are never negative).
    pub fn checked_sub(&self, other: &Amount) -> Option<Amount> {
        if other > self {
            return None;
        }
        Some(Self::from_decimal(
            &(self.to_decimal() - other.to_decimal()),
        ))
    }

    fn from_decimal(d: &BigDecimal) -> Amount {
        let text = d.to_plain_string();
        Amount { text: text.into() }
    }

    fn parts(&self) -> (&str, &str) {
        match self.text.split_once('.') {
            Some((i, f)) => (i, f),
            None => (&self.text, ""),
        }
    }

    fn normalized(&self) -> (&str, &str) {
        let (int, frac) = self.parts();
        let int = int.trim_start_matches('0');
        (int, frac.trim_end_matches('0'))
    }
}

fn is_decimal(s: &str) -> bool {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    digits(int) && frac.is_none_or(digits)
}

impl PartialEq for Amount {
    fn eq(&self, other: &Self) -> bool {
        self.normalized() == other.normalized()
    }
}
impl Eq for Amount {}

impl std::hash::Hash for Amount {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.normalized().hash(state);
    }
}

impl PartialOrd for Amount {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Amount {
    fn cmp(&self, other: &Self) -> Ordering {
        let (ai, af) = self.normalized();
        let (bi, bf) = other.normalized();
        ai.len()
            .cmp(&bi.len())
            .then_with(|| ai.cmp(bi))
            .then_with(|| af.cmp(bf))
    }
}

impl fmt::Debug for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Amount({})", self.text)
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Amount {
    type Err = AmountError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<&str> for Amount {
    type Error = AmountError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Amount;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a decimal amount string such as \"12.50\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Amount, E> {
                Amount::new(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

impl schemars::JsonSchema for Amount {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Amount".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^\\d+(\\.\\d+)?$",
            "description": "A non-negative decimal amount as a string, exact (no floating point)."
        })
    }
}

/// A JSON number kept digit-exact: the amounts of AITP-02 quotes, the legacy Transactions
/// capability and NEAR AI (`"amount": 199.99`).
///
/// Converts to an exact [`BigDecimal`], or to an [`Amount`] when non-negative; never to `f64`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DecimalNumber(serde_json::Number);

impl DecimalNumber {
    /// The number with the exact digits of `amount`.
    pub fn from_amount(amount: &Amount) -> Self {
        // `Amount` text is always a valid JSON number.
        Self(serde_json::Number::from_string_unchecked(
            amount.as_str().to_owned(),
        ))
    }

    /// The exact digits as written.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The exact value.
    pub fn to_decimal(&self) -> Option<BigDecimal> {
        BigDecimal::from_str(self.0.as_str()).ok()
    }

    /// The same value as an [`Amount`]; `None` for negative numbers or exponents that do not
    /// expand to plain decimals.
    pub fn to_amount(&self) -> Option<Amount> {
        Amount::new(self.as_str()).ok().or_else(|| {
            let d = self.to_decimal()?;
            Amount::new(&d.to_plain_string()).ok()
        })
    }
}

impl FromStr for DecimalNumber {
    type Err = serde_json::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(serde_json::Number::from_str(s)?))
    }
}

impl From<u64> for DecimalNumber {
    fn from(v: u64) -> Self {
        Self(v.into())
    }
}

impl fmt::Debug for DecimalNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DecimalNumber({})", self.0)
    }
}

impl fmt::Display for DecimalNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for DecimalNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for DecimalNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde_json::Number::deserialize(d).map(Self)
    }
}

impl schemars::JsonSchema for DecimalNumber {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DecimalNumber".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "number" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amount_rules() {
        for ok in [
            "0",
            "10",
            "12.50",
            "007",
            "1000000000000000000000000.000001",
        ] {
            assert!(Amount::new(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".5", "5.", "-1", "1e3", "1,5", " 1", "0x10", "1.2.3"] {
            assert!(Amount::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn exact_compare_and_add() {
        let a = Amount::new("12.5").unwrap();
        let b = Amount::new("12.50").unwrap();
        assert_eq!(a, b);
        assert_eq!(b.to_string(), "12.50");
        assert!(Amount::new("100").unwrap() > Amount::new("99.999").unwrap());
        assert!(Amount::new("0.10").unwrap() < Amount::new("0.2").unwrap());
        let big = Amount::new("1000000000000000000000000").unwrap();
        assert_eq!(
            big.checked_add(&Amount::new("0.000000000000000000000001").unwrap())
                .as_str(),
            "1000000000000000000000000.000000000000000000000001"
        );
        assert_eq!(
            Amount::new("1")
                .unwrap()
                .checked_sub(&Amount::new("0.25").unwrap()),
            Some(Amount::new("0.75").unwrap())
        );
        assert_eq!(
            Amount::new("1")
                .unwrap()
                .checked_sub(&Amount::new("2").unwrap()),
            None
        );
    }

    #[test]
    fn minor_units() {
        assert_eq!(Amount::from_minor_units(1250, 2).as_str(), "12.50");
        assert_eq!(Amount::from_minor_units(5, 3).as_str(), "0.005");
        assert_eq!(
            Amount::new("12.5").unwrap().to_minor_units(6),
            Some(12_500_000)
        );
        assert_eq!(Amount::new("0.001").unwrap().to_minor_units(2), None);
    }

    #[test]
    fn decimal_numbers_keep_digits() {
        let v: serde_json::Value =
            serde_json::from_str(r#"{"a": 123.450, "b": 1000000000000000000000001}"#).unwrap();
        let a: DecimalNumber = serde_json::from_value(v["a"].clone()).unwrap();
        let b: DecimalNumber = serde_json::from_value(v["b"].clone()).unwrap();
        assert_eq!(a.as_str(), "123.450");
        assert_eq!(b.to_amount().unwrap().as_str(), "1000000000000000000000001");
        assert_eq!(serde_json::to_string(&a).unwrap(), "123.450");
    }
}
