//! orders.v1 messages in the protobuf JSON mapping (as grpcurl shows them),
//! through the descriptor pool: what stub matchers compare and explain, and
//! what scenario files hold.

use prost_reflect::{DynamicMessage, SerializeOptions};
use serde_json::Value;

mod sealed {
    pub trait Sealed {}
}

/// An orders.v1 message the testkit can show in the protobuf JSON mapping
/// (sealed: the messages of [`pb`](crate::pb)).
pub trait Proto: prost::Message + Default + Clone + sealed::Sealed + 'static {
    /// The full proto name (`orders.v1.Order`).
    const NAME: &'static str;
}

macro_rules! proto {
    ($($ty:ident),*) => {
        $(
            impl sealed::Sealed for crate::pb::$ty {}
            impl Proto for crate::pb::$ty {
                const NAME: &'static str = concat!("orders.v1.", stringify!($ty));
            }
        )*
    };
}
proto!(
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

/// The descriptor of `T`.
pub(crate) fn descriptor<T: Proto>() -> Result<prost_reflect::MessageDescriptor, String> {
    crate::grpc::descriptors::pool()
        .get_message_by_name(T::NAME)
        .ok_or_else(|| format!("{} is not in the descriptor pool", T::NAME))
}

/// `msg` in the JSON mapping, every field included (defaults too; unset
/// message fields are absent), int64 as numbers, enums by name; keys as
/// JSON names (`orderId`) or, with `proto_names`, as in the proto (`order_id`).
pub(crate) fn to_json<T: Proto>(msg: &T, proto_names: bool) -> Value {
    let options = SerializeOptions::new()
        .skip_default_fields(false)
        .stringify_64_bit_integers(false)
        .use_proto_field_name(proto_names);
    descriptor::<T>()
        .ok()
        .and_then(|desc| DynamicMessage::decode(desc, msg.encode_to_vec().as_slice()).ok())
        .and_then(|d| {
            d.serialize_with_options(serde_json::value::Serializer, &options)
                .ok()
        })
        .unwrap_or(Value::Null)
}

/// A message of type `T` from the JSON mapping (JSON or proto field names,
/// enums by name or number), or what is wrong with it.
#[cfg(feature = "scenario")]
pub(crate) fn from_json<T: Proto>(json: Value) -> Result<T, String> {
    use prost::Message as _;
    let desc = descriptor::<T>()?;
    let dynamic = DynamicMessage::deserialize(desc, json)
        .map_err(|e| format!("not a valid {}: {e}", T::NAME))?;
    T::decode(dynamic.encode_to_vec().as_slice())
        .map_err(|e| format!("not a valid {}: {e}", T::NAME))
}

/// A field name with case and underscores ignored, so that `orderId` and
/// `order_id` name the same field.
pub(crate) fn normalise(key: &str) -> String {
    key.replace('_', "").to_ascii_lowercase()
}
