//! orders.v1 messages from and to the protobuf JSON mapping (as grpcurl
//! shows them), and the subset matcher a stub's `when` becomes.

use serde_json::Value;

pub(super) use crate::grpc::json::Proto as ProtoMessage;
use crate::grpc::json::normalise;
use crate::mock::matching::{Matcher, Mismatch, diff};
use tonic::metadata::MetadataMap;

/// A message of type `T` from a TOML table in the protobuf JSON mapping.
pub(super) fn message<T: ProtoMessage>(table: &toml::Table) -> Result<T, String> {
    let json = serde_json::to_value(table).map_err(|e| e.to_string())?;
    crate::grpc::json::from_json(json)
}

/// A stub's `when`: every field the table lists equals the request's (a
/// list element by element, with its length), in the protobuf JSON
/// mapping, so that `orderId` and `order_id`, 5 and "5" for int64 compare
/// alike. It says which fields differ.
pub(super) struct When<T> {
    expected: Value,
    keys: Vec<String>,
    _message: std::marker::PhantomData<fn() -> T>,
}

/// The `when` table as a [`When`] matcher of `T`.
pub(super) fn matcher<T: ProtoMessage>(when: &toml::Table) -> Result<When<T>, String> {
    let expected: T = message(when)?;
    let expected = to_json(&expected);
    let keys: Vec<String> = when
        .keys()
        .map(|k| {
            expected
                .as_object()
                .and_then(|o| o.keys().find(|jk| normalise(jk) == normalise(k)).cloned())
                .unwrap_or_else(|| k.clone())
        })
        .collect();
    Ok(When {
        expected,
        keys,
        _message: std::marker::PhantomData,
    })
}

impl<T: ProtoMessage> Matcher<T> for When<T> {
    fn mismatches(&self, message: &T, _: &MetadataMap) -> Vec<Mismatch> {
        let got = to_json(message);
        let mut out = Vec::new();
        for k in &self.keys {
            let want = self.expected.get(k).unwrap_or(&Value::Null);
            diff(k, want, got.get(k).unwrap_or(&Value::Null), true, &mut out);
        }
        out
    }
}

/// `msg` in the JSON mapping with JSON names, every field included.
pub(super) fn to_json<T: ProtoMessage>(msg: &T) -> Value {
    crate::grpc::json::to_json(msg, false)
}
