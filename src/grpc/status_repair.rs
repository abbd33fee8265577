//! Guarding against malformed statuses on the wire: tonic's
//! `Status::from_header_map` panics on a `grpc-status-details-bin` that is
//! not base64. Everything in the testkit that reads a peer's status goes
//! through [`repair_details`] first, and the contract suite's client does
//! the same for tonic's own decoding, so a broken target is reported, not
//! crashed on.
//!
//! ```
//! use orders_testkit::grpc::status_repair::{INVALID_DETAILS_MARK, repair_details};
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

/// `grpc-status`, as a header name built once.
pub(crate) static GRPC_STATUS: http::HeaderName = http::HeaderName::from_static("grpc-status");
/// `grpc-message`, as a header name built once.
pub(crate) static GRPC_MESSAGE: http::HeaderName = http::HeaderName::from_static("grpc-message");
/// `grpc-status-details-bin`, as a header name built once.
pub(crate) static GRPC_DETAILS: http::HeaderName =
    http::HeaderName::from_static("grpc-status-details-bin");

/// The code of the status in `headers`, if any: the cheap first look
/// before reading a whole status.
pub(crate) fn code_of(headers: &HeaderMap) -> Option<tonic::Code> {
    headers
        .get(&GRPC_STATUS)
        .map(|v| tonic::Code::from_bytes(v.as_bytes()))
}

/// The code, message and details of the status in `headers`, without
/// copying the headers (as [`status_of`] does for tonic's metadata) and
/// never panicking: a message that is not valid percent-encoded UTF-8 is
/// read lossily, details that are not base64 are dropped.
pub(crate) fn parts_of(headers: &HeaderMap) -> Option<(tonic::Code, String, bytes::Bytes)> {
    let code = code_of(headers)?;
    let message = headers
        .get(&GRPC_MESSAGE)
        .map(|v| {
            let bytes = v.as_bytes();
            if bytes.contains(&b'%') {
                percent_decode(bytes)
            } else {
                String::from_utf8_lossy(bytes).into_owned()
            }
        })
        .unwrap_or_default();
    let details = headers
        .get(&GRPC_DETAILS)
        .and_then(|v| ENGINE.decode(v.as_bytes()).ok())
        .map(bytes::Bytes::from)
        .unwrap_or_default();
    Some((code, message, details))
}

/// gRPC's percent-decoding of `grpc-message`, lossy on invalid UTF-8.
fn percent_decode(bytes: &[u8]) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                out.push(hi << 4 | lo);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
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
