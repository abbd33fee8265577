//! orders.v1 messages from and to the protobuf JSON mapping (as grpcurl
//! shows them), and the subset matcher a stub's `when` becomes.

use prost::Message;
use prost_reflect::{DynamicMessage, SerializeOptions};
use serde_json::Value;

/// The orders.v1 messages a scenario can hold, by their full proto name.
pub(super) trait ProtoMessage: prost::Message + Default + Sized {
    const NAME: &'static str;
}

macro_rules! proto_message {
    ($($ty:ident),*) => {
        $(impl ProtoMessage for crate::pb::$ty {
            const NAME: &'static str = concat!("orders.v1.", stringify!($ty));
        })*
    };
}
proto_message!(
    Order,
    CreateOrderRequest,
    CreateOrderResponse,
    GetOrderRequest,
    WatchOrderStatusRequest,
    OrderStatusUpdate,
    LineItem,
    SubmitLineItemsResponse,
    OrderAction,
    OrderResult
);

pub(super) fn descriptor<T: ProtoMessage>() -> Result<prost_reflect::MessageDescriptor, String> {
    crate::descriptors::pool()
        .get_message_by_name(T::NAME)
        .ok_or_else(|| format!("{} is not in the descriptor pool", T::NAME))
}

/// A message of type `T` from a TOML table in the protobuf JSON mapping.
pub(super) fn message<T: ProtoMessage>(table: &toml::Table) -> Result<T, String> {
    let json = serde_json::to_value(table).map_err(|e| e.to_string())?;
    let desc = descriptor::<T>()?;
    let dynamic = DynamicMessage::deserialize(desc, json)
        .map_err(|e| format!("not a valid {}: {e}", T::NAME))?;
    T::decode(dynamic.encode_to_vec().as_slice())
        .map_err(|e| format!("not a valid {}: {e}", T::NAME))
}

/// Subset match: every field in `when` equals the request's field, both in
/// the protobuf JSON mapping.
pub(super) fn matcher<T: ProtoMessage>(
    when: &toml::Table,
) -> Result<impl Fn(&T) -> bool + Send + Sync + 'static, String> {
    // Normalise through the message type, so that `orderId` and `order_id`,
    // 5 and "5" for int64, compare alike.
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
    Ok(move |req: &T| {
        let got = to_json(req);
        keys.iter()
            .all(|k| got.get(k).unwrap_or(&Value::Null) == expected.get(k).unwrap_or(&Value::Null))
    })
}

pub(super) fn normalise(key: &str) -> String {
    key.replace('_', "").to_ascii_lowercase()
}

pub(super) fn to_json<T: ProtoMessage>(msg: &T) -> Value {
    let options = SerializeOptions::new()
        .skip_default_fields(false)
        .stringify_64_bit_integers(false);
    descriptor::<T>()
        .ok()
        .and_then(|desc| DynamicMessage::decode(desc, msg.encode_to_vec().as_slice()).ok())
        .and_then(|d| {
            d.serialize_with_options(serde_json::value::Serializer, &options)
                .ok()
        })
        .unwrap_or(Value::Null)
}
