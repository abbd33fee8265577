//! Guarding against malformed statuses on the wire: tonic's
//! `Status::from_header_map` panics on a `grpc-status-details-bin` that is
//! not base64. Everything in the testkit that reads a peer's status goes
//! through [`repair_details`] first, and the contract suite's client does
//! the same for tonic's own decoding, so a broken target is reported, not
//! crashed on.
//!
//! ```
//! use orders_testkit::wire::{INVALID_DETAILS_MARK, repair_details};
//!
//! let mut h = http::HeaderMap::new();
//! h.insert("grpc-status", "5".parse().unwrap());
//! h.insert("grpc-message", "gone".parse().unwrap());
//! h.insert("grpc-status-details-bin", "%%%not base64%%%".parse().unwrap());
//! assert!(repair_details(&mut h));
//! let st = tonic::Status::from_header_map(&h).unwrap(); // no panic now
//! assert!(st.message().ends_with(INVALID_DETAILS_MARK));
//! ```

use base64::Engine;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use http::HeaderMap;

/// Appended to the message of a status whose details were removed.
pub const INVALID_DETAILS_MARK: &str = " [grpc-status-details-bin was not valid base64]";

const DETAILS: &str = "grpc-status-details-bin";

/// Standard base64, padded or not, as gRPC binary headers may come.
const ENGINE: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Removes an undecodable `grpc-status-details-bin` and marks the message;
/// returns whether it did.
pub fn repair_details(headers: &mut HeaderMap) -> bool {
    let Some(value) = headers.get(DETAILS) else {
        return false;
    };
    if ENGINE.decode(value.as_bytes()).is_ok() {
        return false;
    }
    headers.remove(DETAILS);
    let message = headers
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let marked = format!("{message}{}", INVALID_DETAILS_MARK.replace(' ', "%20"));
    if let Ok(v) = http::HeaderValue::from_str(&marked) {
        headers.insert("grpc-message", v);
    }
    true
}

/// A status from headers or trailers, never panicking.
pub fn status_of(headers: &HeaderMap) -> Option<tonic::Status> {
    if headers
        .get(DETAILS)
        .is_some_and(|v| ENGINE.decode(v.as_bytes()).is_err())
    {
        let mut copy = headers.clone();
        repair_details(&mut copy);
        return tonic::Status::from_header_map(&copy);
    }
    tonic::Status::from_header_map(headers)
}
