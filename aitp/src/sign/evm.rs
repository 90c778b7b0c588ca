//! AITP-05 wallet signatures: EIP-191 `personal_sign` and EIP-712 typed data, checked by
//! recovering the secp256k1 signer and comparing it with the address.

use alloy_primitives::{Address, B256, eip191_hash_message};

use crate::capability::evm_wallet::{
    MessageSigningResponse, RequestMessageSigning, SigningType, TypedData,
};

/// Why an AITP-05 `message_signing_response` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EvmSignatureError {
    /// The response answers another request.
    #[error("the response answers `{response}`, not `{request}`")]
    RequestId {
        /// The request's id.
        request: String,
        /// The response's `request_id`.
        response: String,
    },
    /// The request lacks what its `signing_type` signs (`message` or `typed_data`), or has
    /// a signing type this SDK does not know.
    #[error("the request has nothing to sign for its signing_type")]
    NothingToSign,
    /// The typed data cannot be hashed (an undefined type, a value that does not fit its
    /// type, …).
    #[error("typed_data: {0}")]
    TypedData(String),
    /// An address is not 20 bytes of `0x`-hex.
    #[error("`{0}` is not an address")]
    Address(String),
    /// The signature is not 65 bytes of `0x`-hex `r ‖ s ‖ v`, or is not a valid signature.
    #[error("malformed signature: {0}")]
    Signature(String),
    /// A "high S" signature: valid for `ecrecover`, but the malleated twin of a low-S one,
    /// which every wallet produces (EIP-2). Refused.
    #[error("the signature's S is not in the lower half of the curve order (EIP-2)")]
    HighS,
    /// The signature recovers to another address than the one named.
    #[error("signed by {recovered}, not {expected}")]
    WrongSigner {
        /// The address the response (or request) names.
        expected: Address,
        /// The address that signed.
        recovered: Address,
    },
    /// The response's address is not the one the request asked for.
    #[error("the request asked {requested} to sign, the response names {responded}")]
    AddressMismatch {
        /// The request's `address`.
        requested: Address,
        /// The response's `address`.
        responded: Address,
    },
}

fn address(text: &str) -> Result<Address, EvmSignatureError> {
    text.parse()
        .map_err(|_| EvmSignatureError::Address(text.into()))
}

/// The 32-byte hash a wallet signs for `request`: EIP-191 `personal_sign` of the `message`
/// text (*(reading)* as UTF-8, even when it looks like hex), or the EIP-712 signing hash of
/// `typed_data`.
pub fn evm_signing_hash(request: &RequestMessageSigning) -> Result<B256, EvmSignatureError> {
    match (&request.signing_type, &request.message, &request.typed_data) {
        (SigningType::PersonalSign, Some(message), _) => Ok(eip191_hash_message(message)),
        (SigningType::TypedData, _, Some(typed)) => eip712_hash(typed),
        _ => Err(EvmSignatureError::NothingToSign),
    }
}

/// The EIP-712 signing hash of `typed`: `keccak256(0x19 ‖ 0x01 ‖ domainSeparator ‖
/// hashStruct(message))`.
pub fn eip712_hash(typed: &TypedData) -> Result<B256, EvmSignatureError> {
    let mut value =
        serde_json::to_value(typed).map_err(|e| EvmSignatureError::TypedData(e.to_string()))?;
    big_integers_as_strings(&mut value);
    let alloy: alloy_dyn_abi::eip712::TypedData =
        serde_json::from_value(value).map_err(|e| EvmSignatureError::TypedData(e.to_string()))?;
    alloy
        .eip712_signing_hash()
        .map_err(|e| EvmSignatureError::TypedData(e.to_string()))
}

/// Rewrites integers beyond 64 bits as decimal strings, which EIP-712 encoders (alloy and
/// `eth-account` alike) read as the same integer. A JSON number such as a `uint256` amount in
/// wei would otherwise reach the encoder only through a 64-bit or floating-point path.
fn big_integers_as_strings(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.as_u64().is_none() && n.as_i64().is_none() => {
            let text = n.to_string();
            if !text.contains(['.', 'e', 'E']) {
                *value = Value::String(text);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(big_integers_as_strings),
        Value::Object(map) => map.values_mut().for_each(big_integers_as_strings),
        _ => {}
    }
}

/// Checks an AITP-05 `message_signing_response` against its `request`: it answers that
/// request, names the address the request asked for (when it asked for one), and its
/// signature recovers to that address over [`evm_signing_hash`]. Returns the address.
pub fn verify_evm(
    request: &RequestMessageSigning,
    response: &MessageSigningResponse,
) -> Result<Address, EvmSignatureError> {
    if request.request_id != response.request_id {
        return Err(EvmSignatureError::RequestId {
            request: request.request_id.clone(),
            response: response.request_id.clone(),
        });
    }
    let expected = address(&response.address)?;
    if let Some(requested) = request.address.as_deref() {
        let requested = address(requested)?;
        if requested != expected {
            return Err(EvmSignatureError::AddressMismatch {
                requested,
                responded: expected,
            });
        }
    }
    let hash = evm_signing_hash(request)?;
    let hex = response
        .signature
        .strip_prefix("0x")
        .unwrap_or(&response.signature);
    let bytes: Vec<u8> = alloy_primitives::hex::decode(hex)
        .map_err(|e| EvmSignatureError::Signature(e.to_string()))?;
    let signature = alloy_primitives::Signature::from_raw(&bytes)
        .map_err(|e| EvmSignatureError::Signature(e.to_string()))?;
    if signature.normalize_s().is_some() {
        return Err(EvmSignatureError::HighS);
    }
    let recovered = signature
        .recover_address_from_prehash(&hash)
        .map_err(|e| EvmSignatureError::Signature(e.to_string()))?;
    if recovered != expected {
        return Err(EvmSignatureError::WrongSigner {
            expected,
            recovered,
        });
    }
    Ok(recovered)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vector from EIP-712's own example (Mail from Cow to Bob): the spec gives the signing
    // hash 0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2.
    pub(crate) fn eip712_mail() -> TypedData {
        serde_json::from_value(serde_json::json!({
            "types": {
                "EIP712Domain": [
                    {"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}
                ],
                "Person": [{"name": "name", "type": "string"}, {"name": "wallet", "type": "address"}],
                "Mail": [{"name": "from", "type": "Person"}, {"name": "to", "type": "Person"}, {"name": "contents", "type": "string"}]
            },
            "primaryType": "Mail",
            "domain": {"name": "Ether Mail", "version": "1", "chainId": 1, "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"},
            "message": {
                "from": {"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
                "to": {"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
                "contents": "Hello, Bob!"
            }
        }))
        .unwrap()
    }

    #[test]
    fn eip712_hash_matches_the_eip_example() {
        assert_eq!(
            eip712_hash(&eip712_mail()).unwrap().to_string(),
            "0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2"
        );
    }

    #[test]
    fn the_eip712_example_signature_recovers_to_cow() {
        // EIP-712's example signature by Cow (private key keccak256("cow")).
        let request = RequestMessageSigning::typed_data("r1", eip712_mail());
        let cow = "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826";
        let sig = "0x4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d07299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b915621c";
        let response = MessageSigningResponse::new(
            "r1",
            cow.parse().unwrap(),
            alloy_primitives::hex::decode(sig).unwrap(),
        );
        assert_eq!(
            verify_evm(&request, &response).unwrap(),
            address(cow).unwrap()
        );

        let mut other = request.clone();
        other
            .typed_data
            .as_mut()
            .unwrap()
            .message
            .insert("contents".into(), "Hello, Eve!".into());
        assert!(matches!(
            verify_evm(&other, &response),
            Err(EvmSignatureError::WrongSigner { .. })
        ));
        let mut wrong_addr = response.clone();
        wrong_addr.address = "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB".into();
        assert!(matches!(
            verify_evm(&request, &wrong_addr),
            Err(EvmSignatureError::WrongSigner { .. })
        ));
        let mut asked_other = request.clone();
        asked_other.address = Some("0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB".into());
        assert!(matches!(
            verify_evm(&asked_other, &response),
            Err(EvmSignatureError::AddressMismatch { .. })
        ));
        let mut other_id = response.clone();
        other_id.request_id = "r2".into();
        assert!(matches!(
            verify_evm(&request, &other_id),
            Err(EvmSignatureError::RequestId { .. })
        ));
    }
}
