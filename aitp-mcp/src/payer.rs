//! Who pays an accepted quote, and how the payment is signed.
//!
//! The gateway never decides to pay: the user accepts a quote (in an elicitation, or by the
//! host calling the tool with `accept: true`), then the [`Payer`] builds the AITP-01
//! `payment` for exactly the accepted option and signs it with its [`Signer`]. The signer is
//! the hook where a real key slots in: an external command today ([`CommandSigner`], the
//! same contract as `aitp chat --sign-with`), the SDK's own ed25519 signing once it lands.

use std::{fmt, io::Write as _, sync::Arc};

use aitp::capability::payments::{
    Payment, PaymentMethod, PaymentMethodUsed, PaymentOption, Quote, Signed as _,
};

/// Why a payment could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("signing the payment failed: {0}")]
pub struct SignError(pub String);

/// Signs the canonical bytes of a payment ([`Signed::signing_payload`](aitp::capability::payments::Signed::signing_payload)).
///
/// Implement it to pay with a real key; the returned string goes into `payer_signature`
/// as is (by AITP-01's convention `ed25519:<base64>`).
pub trait Signer: Send + Sync + 'static {
    /// The signature of `payload`. Called on a blocking thread, so it may run a process or
    /// talk to a hardware wallet.
    fn sign(&self, payload: &[u8]) -> Result<String, SignError>;
}

/// Leaves payments unsigned (the signature reads `unsigned`), as `aitp chat` does without
/// `--sign-with`: enough for demo agents that do not verify payers, refused by real ones.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct Unsigned;

impl Signer for Unsigned {
    fn sign(&self, _payload: &[u8]) -> Result<String, SignError> {
        Ok("unsigned".to_owned())
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
        let payment = Payment::new(quote, self.account.clone(), used);
        let payload = payment.signing_payload().into_bytes();
        let signer = Arc::clone(&self.signer);
        let signature = tokio::task::spawn_blocking(move || signer.sign(&payload))
            .await
            .map_err(|e| SignError(format!("the signer stopped: {e}")))??;
        Ok(payment.sign_with(|_| signature))
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
}
