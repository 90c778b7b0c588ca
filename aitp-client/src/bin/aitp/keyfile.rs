//! How `aitp chat` signs payments: with a NEAR credentials file (`--key`), with an external
//! signer command checked against the payer's public key (`--signer` with `--payer-key`), or,
//! only when the person asks for it, not at all (`--unsigned`).
//!
//! Signatures are `aitp::sign`'s: ed25519 over the RFC 8785 canonical JSON of the payment
//! without `payer_signature`, so any agent that checks payments with the payer's key accepts
//! them.

use std::path::Path;

use aitp::{
    capability::payments::Payment,
    sign::{PublicKey, SecretKey, Signable as _, Signature, signing_bytes},
};
use serde::Deserialize;

use crate::wallet;

/// A NEAR credentials file, as `near-cli` writes it to `~/.near-credentials/<network>/`:
/// `{"account_id": …, "public_key": "ed25519:…", "private_key": "ed25519:…"}`. Other fields
/// (`implicit_account_id`, seed phrases) are ignored.
#[derive(Debug, Clone)]
pub(crate) struct KeyFile {
    /// The account the key belongs to: the payer, unless `--payer` says otherwise.
    pub(crate) account_id: Option<String>,
    pub(crate) key: SecretKey,
}

#[derive(Deserialize)]
struct Credentials {
    account_id: Option<String>,
    public_key: Option<String>,
    private_key: String,
}

impl KeyFile {
    /// Reads and checks the file: the private key must parse and, when the file names a
    /// public key, be its secret half (a file mixing two keys is refused, not guessed at).
    pub(crate) fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the key file {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("the key file {}: {e}", path.display()))
    }

    fn parse(text: &str) -> Result<Self, String> {
        let c: Credentials =
            serde_json::from_str(text).map_err(|e| format!("not a NEAR credentials file ({e})"))?;
        let key: SecretKey = c
            .private_key
            .trim()
            .parse()
            .map_err(|e| format!("private_key: {e}"))?;
        if let Some(public) = &c.public_key {
            let public: PublicKey = public
                .trim()
                .parse()
                .map_err(|e| format!("public_key: {e}"))?;
            if public != key.public_key() {
                return Err(format!(
                    "public_key {public} is not the public half of private_key ({})",
                    key.public_key()
                ));
            }
        }
        Ok(Self {
            account_id: c.account_id.filter(|a| !a.is_empty()),
            key,
        })
    }
}

/// How payments are signed.
#[derive(Debug, Clone)]
pub(crate) enum PaymentSigner {
    /// With this key (from `--key`).
    Key(SecretKey),
    /// By this command, whose signatures must verify under `key` (`--payer-key`).
    Command { command: String, key: PublicKey },
    /// A signer command but no key to check it against: payments are refused.
    Unchecked { command: String },
    /// Not signed (`payer_signature: "unsigned"`), because the person said so (`--unsigned`).
    Unsigned,
    /// Nothing to sign with: payments are refused.
    Nothing,
}

/// What an unsigned payment carries as its signature: not a signature, so any agent that
/// checks refuses it, and one that does not sees plainly that nothing was signed.
pub(crate) const UNSIGNED: &str = "unsigned";

impl PaymentSigner {
    /// Why paying is impossible, before the person is asked to pay; `None` when it is.
    pub(crate) fn cannot_pay(&self) -> Option<String> {
        match self {
            Self::Nothing => Some(
                "there is no key to sign the payment with: pass --key FILE (a NEAR credentials \
                 file), or --signer COMMAND with --payer-key ed25519:..., or --unsigned to pay \
                 without a signature"
                    .to_owned(),
            ),
            Self::Unchecked { command } => Some(format!(
                "the signer {command:?} cannot be checked: pass --payer-key ed25519:... (the \
                 payer's public key) so that its payment signatures are verified before sending"
            )),
            _ => None,
        }
    }

    /// What the confirmation says about how the payment will be signed.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Key(key) => format!("signed with your key {}", key.public_key()),
            Self::Command { command, key } => format!("signed by {command:?} as {key}"),
            Self::Unsigned => "NOT signed (--unsigned)".to_owned(),
            Self::Unchecked { .. } | Self::Nothing => "not signed".to_owned(),
        }
    }

    /// Signs `payment`: the signature made (or checked) over `aitp::sign::signing_bytes`.
    pub(crate) fn sign(&self, mut payment: Payment) -> Result<Payment, String> {
        match self {
            Self::Key(key) => aitp::sign::sign(key, payment).map_err(|e| e.to_string()),
            Self::Command { command, key } => {
                let bytes = signing_bytes(&payment).map_err(|e| e.to_string())?;
                let printed = wallet::sign_payment(command, &bytes)?;
                let signature: Signature = printed.parse().map_err(|e| {
                    format!("{command:?} printed {printed:?}, not an ed25519 signature: {e}")
                })?;
                if !key.verify(&bytes, &signature) {
                    return Err(format!(
                        "the signature {command:?} made does not verify under {key}: not sent"
                    ));
                }
                // Written in the spec's form, whichever form the signer printed.
                payment.set_signature(signature.to_string());
                Ok(payment)
            }
            Self::Unsigned => {
                payment.set_signature(UNSIGNED.to_owned());
                Ok(payment)
            }
            Self::Unchecked { .. } | Self::Nothing => Err(self.cannot_pay().unwrap_or_default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use aitp::capability::payments::{PaymentMethodUsed, PaymentOption, Quote};

    use super::*;

    fn key() -> SecretKey {
        SecretKey::from_seed(&[5; 32])
    }

    fn payment() -> Payment {
        let option =
            PaymentOption::near_payment_channel("3.50".parse().unwrap(), "USD", "usdc.near", "s");
        let quote = Quote::builder("q_1", "s", "tea")
            .option(option.clone())
            .build_unsigned();
        let used = PaymentMethodUsed::for_option(&option, &option.payment_methods[0], "ch_1");
        Payment::new(&quote, "ada.near", used)
    }

    #[test]
    fn a_near_cli_credentials_file_reads() {
        let k = key();
        let text = format!(
            r#"{{"account_id": "ada.near", "public_key": "{}", "private_key": "{k}", "implicit_account_id": "x"}}"#,
            k.public_key()
        );
        let file = KeyFile::parse(&text).unwrap();
        assert_eq!(file.account_id.as_deref(), Some("ada.near"));
        assert_eq!(file.key.public_key(), k.public_key());

        let other = SecretKey::from_seed(&[6; 32]).public_key();
        let mixed = format!(r#"{{"public_key": "{other}", "private_key": "{k}"}}"#);
        assert!(
            KeyFile::parse(&mixed)
                .unwrap_err()
                .contains("not the public half")
        );
        assert!(KeyFile::parse(r#"{"private_key": "ed25519:abc"}"#).is_err());
        assert!(KeyFile::parse("[]").is_err());
    }

    #[test]
    fn a_key_signs_what_aitp_sign_verifies() {
        let signed = PaymentSigner::Key(key()).sign(payment()).unwrap();
        aitp::sign::verify(&key().public_key(), &signed).unwrap();
    }

    #[test]
    fn a_signer_command_is_checked_before_sending() {
        // The command signs the bytes it is given with the key (base58, NEAR's form), as an
        // external wallet would: reproduced here by signing the same bytes in the test.
        let p = payment();
        let good = key().sign(&signing_bytes(&p).unwrap()).to_base58_string();
        let signer = PaymentSigner::Command {
            command: format!("cat >/dev/null; echo {good}"),
            key: key().public_key(),
        };
        let signed = signer.sign(p.clone()).unwrap();
        aitp::sign::verify(&key().public_key(), &signed).unwrap();
        // Written in the spec's base64 form.
        assert!(signed.payer_signature.as_deref().unwrap().ends_with('='));

        let wrong = PaymentSigner::Command {
            command: format!("cat >/dev/null; echo {good}"),
            key: SecretKey::from_seed(&[9; 32]).public_key(),
        };
        assert!(
            wrong
                .sign(p.clone())
                .unwrap_err()
                .contains("does not verify")
        );
        let garbage = PaymentSigner::Command {
            command: "cat >/dev/null; echo hello".to_owned(),
            key: key().public_key(),
        };
        assert!(
            garbage
                .sign(p.clone())
                .unwrap_err()
                .contains("not an ed25519")
        );
        assert!(PaymentSigner::Nothing.sign(p).is_err());
    }
}
