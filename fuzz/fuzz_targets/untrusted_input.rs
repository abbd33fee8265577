//! Every parser the testkit points at untrusted bytes, fed arbitrary input:
//! protobuf requests through validation and the store, gRPC framing,
//! grpc-timeout values, status headers with details, and scenario files.
//! None may panic.
//!
//! `cargo +nightly fuzz run untrusted_input -- -max_total_time=60`

#![no_main]

use libfuzzer_sys::fuzz_target;
use orders_testkit::model::{Store, validate};
use orders_testkit::pb::{CreateOrderRequest, LineItem, OrderAction};
use prost::Message;

fuzz_target!(|data: &[u8]| {
    let store = Store::new();
    if let Ok(req) = CreateOrderRequest::decode(data) {
        let key = data.get(..data.len().min(130));
        let violations = validate::create_order(&req, key.map(Ok));
        if violations.is_empty() {
            let key = key.and_then(|k| std::str::from_utf8(k).ok());
            let _ = store.create(&req, key);
        }
    }
    if let Ok(action) = OrderAction::decode(data) {
        let _ = store.act(&action);
        let _ = store.watch(&action.order_id);
    }
    if let Ok(item) = LineItem::decode(data) {
        let _ = validate::line_item(0, &item);
    }
    let mut frames = orders_testkit::grpc_frame::FrameDecoder::default();
    frames.push(data);
    while let Some(_m) = frames.next_message() {}
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = orders_testkit::deadline::parse_grpc_timeout(text);
        let _ = orders_testkit::scenario::Scenario::parse("fuzz.toml", text);
        let mut headers = http::HeaderMap::new();
        headers.insert("grpc-status", http::HeaderValue::from_static("5"));
        if let Ok(v) = http::HeaderValue::from_str(text) {
            headers.insert("grpc-status-details-bin", v.clone());
            headers.insert("grpc-message", v);
        }
        if let Some(status) = orders_testkit::wire::status_of(&headers) {
            let _ = orders_testkit::payload::ErrorPayload::from_status(&status);
        }
    }
});
