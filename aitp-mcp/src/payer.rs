//! Who pays an accepted quote, and how the payment is signed.
//!
//! The gateway never decides to pay: the user accepts a quote (in an elicitation, or by the
//! host calling the tool with `accept: true`), then the [`Payer`] builds the AITP-01
//! `payment` for exactly the accepted option and signs it with its [`Signer`]: an ed25519 key
//! in process ([`KeySigner`]) or an external command holding the key ([`CommandSigner`], the
//! same contract as `aitp chat --sign-with`). What is signed is what `aitp::sign` specifies
//! and a payee's payment gate checks: the RFC 8785 canonical JSON of the `payment` body
//! without `payer_signature` ([`aitp::sign::signing_bytes`]).

use std::{fmt, io::Write as _, sync::Arc};

use aitp::{
    capability::payments::{Payment, PaymentMethod, PaymentMethodUsed, PaymentOption, Quote},
    sign::SecretKey,
};

/// Why a payment could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("signing the payment failed: {0}")]
pub struct SignError(pub String);

/// Signs the canonical bytes of a payment ([`aitp::sign::signing_bytes`]).
///
/// Implement it to pay with your own key store; the returned string goes into
/// `payer_signature` as is (by AITP-01's convention `ed25519:<base64>`).
pub trait Signer: Send + Sync + 'static {
    /// The signature of `payload`. Called on a blocking thread, so it may run a process or
    /// talk to a hardware wallet.
    fn sign(&self, payload: &[u8]) -> Result<String, SignError>;
}

/// Leaves payments unsigned (the signature reads `unsigned`): only agents that do not check
/// payers take them; an agent behind the SDK's payment gate refuses them
/// (`payer_signature`).
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct Unsigned;

impl Signer for Unsigned {
    fn sign(&self, _payload: &[u8]) -> Result<String, SignError> {
        Ok("unsigned".to_owned())
    }
}

/// Signs with an ed25519 key in this process: `ed25519:<base64>` over the payload, as
/// `aitp::sign` writes signatures.
#[derive(Clone)]
pub struct KeySigner {
    key: SecretKey,
}

impl KeySigner {
    /// Signs with `key`.
    pub fn new(key: SecretKey) -> Self {
        Self { key }
    }
}

impl fmt::Debug for KeySigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The public half only: a secret never reaches a log.
        f.debug_tuple("KeySigner")
            .field(&self.key.public_key())
            .finish()
    }
}

impl Signer for KeySigner {
    fn sign(&self, payload: &[u8]) -> Result<String, SignError> {
        Ok(self.key.sign(payload).to_string())
    }
}

/// Signs by running a shell command: the payload on its stdin, the signature its trimmed
/// stdout (the contract of `aitp chat --sign-with`). A wallet CLI plugs in here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSigner {
    command: String,
}

impl CommandSigner {
    /// Runs `command` with `sh -c` for every payment.
    pub fn new(command: impl Into<String>) -> Self {
        Self {
            command: command.into(),
        }
    }
}

impl Signer for CommandSigner {
    fn sign(&self, payload: &[u8]) -> Result<String, SignError> {
        use std::process::{Command, Stdio};
        let err = |e: std::io::Error| SignError(format!("`{}`: {e}", self.command));
        let mut child = Command::new("sh")
            .args(["-c", &self.command])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(err)?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(payload).map_err(err)?;
        }
        let out = child.wait_with_output().map_err(err)?;
        if !out.status.success() {
            return Err(SignError(format!(
                "`{}` exited with {}: {}",
                self.command,
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let signature = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if signature.is_empty() {
            return Err(SignError(format!(
                "`{}` printed no signature",
                self.command
            )));
        }
        Ok(signature)
    }
}

/// The paying side: the payer account, the payment channel, and the signer.
#[derive(Clone)]
pub struct Payer {
    account: String,
    channel: String,
    signer: Arc<dyn Signer>,
}

impl fmt::Debug for Payer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Payer")
            .field("account", &self.account)
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl Payer {
    /// `account` pays through `channel`, leaving payments [`Unsigned`] until
    /// [`Payer::signer`] sets a real signer.
    pub fn new(account: impl Into<String>, channel: impl Into<String>) -> Self {
        Self {
            account: account.into(),
            channel: channel.into(),
            signer: Arc::new(Unsigned),
        }
    }

    /// Signs payments with `signer`.
    pub fn signer(mut self, signer: impl Signer) -> Self {
        self.signer = Arc::new(signer);
        self
    }

    /// The payer account (`payer_id`).
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The signed payment of `option` of `quote` with `method`: amount, currency and token
    /// are copied from the quote, never recomputed, so the payment is exactly what the user
    /// accepted.
    pub async fn pay(
        &self,
        quote: &Quote,
        option: &PaymentOption,
        method: &PaymentMethod,
    ) -> Result<Payment, SignError> {
        let used = PaymentMethodUsed::for_option(option, method, self.channel.clone());
        let mut payment = Payment::new(quote, self.account.clone(), used);
        let payload = aitp::sign::signing_bytes(&payment)
            .map_err(|e| SignError(format!("the payment has no canonical form: {e}")))?;
        let signer = Arc::clone(&self.signer);
        let signature = tokio::task::spawn_blocking(move || signer.sign(&payload))
            .await
            .map_err(|e| SignError(format!("the signer stopped: {e}")))??;
        payment.payer_signature = Some(signature);
        Ok(payment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_signer_reads_stdin_and_reports_failures() {
        let echo = CommandSigner::new("printf 'sig:'; cat");
        assert_eq!(echo.sign(b"abc").unwrap(), "sig:abc");
        let failing = CommandSigner::new("echo no key >&2; exit 3");
        let e = failing.sign(b"abc").unwrap_err();
        assert!(e.0.contains("no key"), "{e}");
        assert!(CommandSigner::new("true").sign(b"x").is_err());
    }

    #[tokio::test]
    async fn a_key_signer_signs_what_aitp_sign_verifies() {
        let key = SecretKey::from_seed(&[3; 32]);
        let quote = Quote::builder("q_1", "shop.near", "A mug")
            .option(PaymentOption::near_payment_channel(
                "12.50".parse().unwrap(),
                "USD",
                "usdc.near",
                "shop.near",
            ))
            .build_unsigned();
        let option = &quote.payment_options[0];
        let payer = Payer::new("ada.near", "channel_1").signer(KeySigner::new(key.clone()));
        let payment = payer
            .pay(&quote, option, &option.payment_methods[0])
            .await
            .unwrap();
        aitp::sign::verify(&key.public_key(), &payment).expect("a valid payer signature");
        let shown = format!("{:?}", KeySigner::new(key.clone()));
        assert!(shown.contains(&key.public_key().to_string()), "{shown}");
        assert!(
            !shown.contains(&key.to_string()),
            "the secret is never shown"
        );
    }
}
