//! Typed markers for the five RPCs of `orders.v1.OrderService`, used to
//! script stubs, inject faults and query the journal per RPC.
//!
//! ```
//! use orders_testkit::rpc::{GetOrder, Method, Rpc};
//!
//! assert_eq!(GetOrder::METHOD, Method::GetOrder);
//! assert_eq!(GetOrder::METHOD.path(), "/orders.v1.OrderService/GetOrder");
//! assert_eq!(Method::from_path("/orders.v1.OrderService/GetOrder"), Some(Method::GetOrder));
//! ```

use std::fmt;

use prost::Message;

use crate::pb;

/// One of the five methods of `orders.v1.OrderService`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    /// Unary `CreateOrder`.
    CreateOrder,
    /// Unary `GetOrder`.
    GetOrder,
    /// Server-streaming `WatchOrderStatus`.
    WatchOrderStatus,
    /// Client-streaming `SubmitLineItems`.
    SubmitLineItems,
    /// Bidirectional `ProcessOrders`.
    ProcessOrders,
}

impl Method {
    /// All five, in proto order.
    pub const ALL: [Method; 5] = [
        Method::CreateOrder,
        Method::GetOrder,
        Method::WatchOrderStatus,
        Method::SubmitLineItems,
        Method::ProcessOrders,
    ];

    /// The method's name, as in the proto.
    pub fn name(self) -> &'static str {
        match self {
            Method::CreateOrder => "CreateOrder",
            Method::GetOrder => "GetOrder",
            Method::WatchOrderStatus => "WatchOrderStatus",
            Method::SubmitLineItems => "SubmitLineItems",
            Method::ProcessOrders => "ProcessOrders",
        }
    }

    /// The HTTP/2 path of the method (`/orders.v1.OrderService/GetOrder`).
    pub fn path(self) -> &'static str {
        match self {
            Method::CreateOrder => "/orders.v1.OrderService/CreateOrder",
            Method::GetOrder => "/orders.v1.OrderService/GetOrder",
            Method::WatchOrderStatus => "/orders.v1.OrderService/WatchOrderStatus",
            Method::SubmitLineItems => "/orders.v1.OrderService/SubmitLineItems",
            Method::ProcessOrders => "/orders.v1.OrderService/ProcessOrders",
        }
    }

    /// The method a request path names, if it is one of the five.
    pub fn from_path(path: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.path() == path)
    }

    /// The method with this name (`GetOrder`), if any.
    pub fn from_name(name: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Decodes one request message of this method.
    pub fn decode_request(self, bytes: &[u8]) -> Result<RequestMessage, prost::DecodeError> {
        Ok(match self {
            Method::CreateOrder => {
                RequestMessage::CreateOrder(pb::CreateOrderRequest::decode(bytes)?)
            }
            Method::GetOrder => RequestMessage::GetOrder(pb::GetOrderRequest::decode(bytes)?),
            Method::WatchOrderStatus => {
                RequestMessage::WatchOrderStatus(pb::WatchOrderStatusRequest::decode(bytes)?)
            }
            Method::SubmitLineItems => RequestMessage::LineItem(pb::LineItem::decode(bytes)?),
            Method::ProcessOrders => RequestMessage::OrderAction(pb::OrderAction::decode(bytes)?),
        })
    }

    /// Decodes one response message of this method.
    ///
    /// ```
    /// use orders_testkit::rpc::{Method, ResponseMessage};
    /// use prost::Message;
    /// let order = orders_testkit::pb::Order { order_id: "o-1".into(), ..Default::default() };
    /// let decoded = Method::GetOrder.decode_response(&order.encode_to_vec()).unwrap();
    /// assert_eq!(decoded, ResponseMessage::Order(order));
    /// ```
    pub fn decode_response(self, bytes: &[u8]) -> Result<ResponseMessage, prost::DecodeError> {
        Ok(match self {
            Method::CreateOrder => {
                ResponseMessage::CreateOrder(pb::CreateOrderResponse::decode(bytes)?)
            }
            Method::GetOrder => ResponseMessage::Order(pb::Order::decode(bytes)?),
            Method::WatchOrderStatus => {
                ResponseMessage::OrderStatusUpdate(pb::OrderStatusUpdate::decode(bytes)?)
            }
            Method::SubmitLineItems => {
                ResponseMessage::SubmitLineItems(pb::SubmitLineItemsResponse::decode(bytes)?)
            }
            Method::ProcessOrders => ResponseMessage::OrderResult(pb::OrderResult::decode(bytes)?),
        })
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A decoded request message of any OrderService method.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestMessage {
    /// A CreateOrder request.
    CreateOrder(pb::CreateOrderRequest),
    /// A GetOrder request.
    GetOrder(pb::GetOrderRequest),
    /// A WatchOrderStatus request.
    WatchOrderStatus(pb::WatchOrderStatusRequest),
    /// One message of a SubmitLineItems stream.
    LineItem(pb::LineItem),
    /// One message of a ProcessOrders stream.
    OrderAction(pb::OrderAction),
}

/// A decoded response message of any OrderService method.
#[derive(Debug, Clone, PartialEq)]
pub enum ResponseMessage {
    /// A CreateOrder response.
    CreateOrder(pb::CreateOrderResponse),
    /// A GetOrder response.
    Order(pb::Order),
    /// One message of a WatchOrderStatus stream.
    OrderStatusUpdate(pb::OrderStatusUpdate),
    /// A SubmitLineItems response.
    SubmitLineItems(pb::SubmitLineItemsResponse),
    /// One message of a ProcessOrders stream.
    OrderResult(pb::OrderResult),
}

mod sealed {
    /// Only this crate's five markers are RPCs.
    pub trait Sealed {}
}

/// A typed RPC marker: the method and its request and response types.
/// Sealed: the five markers of this module are the only implementations.
pub trait Rpc: sealed::Sealed + Copy + Send + Sync + 'static {
    /// The method.
    const METHOD: Method;
    /// The request message (one per message of a client stream).
    type Request: crate::grpc::json::Proto + Send + Sync + fmt::Debug;
    /// The response message (one per message of a server stream).
    type Response: crate::grpc::json::Proto + Send + Sync + fmt::Debug;

    /// The typed request inside a decoded message of this method.
    fn request(message: &RequestMessage) -> Option<&Self::Request>;

    /// The typed response inside a decoded message of this method.
    fn response(message: &ResponseMessage) -> Option<&Self::Response>;
}

macro_rules! rpc {
    ($(#[$doc:meta])* $name:ident, $req:ty, $res:ty, $variant:ident, $res_variant:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name;

        impl sealed::Sealed for $name {}

        impl Rpc for $name {
            const METHOD: Method = Method::$name;
            type Request = $req;
            type Response = $res;

            fn request(message: &RequestMessage) -> Option<&Self::Request> {
                match message {
                    RequestMessage::$variant(m) => Some(m),
                    _ => None,
                }
            }

            fn response(message: &ResponseMessage) -> Option<&Self::Response> {
                match message {
                    ResponseMessage::$res_variant(m) => Some(m),
                    _ => None,
                }
            }
        }
    };
}

rpc!(
    /// Unary `CreateOrder`.
    CreateOrder, pb::CreateOrderRequest, pb::CreateOrderResponse, CreateOrder, CreateOrder
);
rpc!(
    /// Unary `GetOrder`.
    GetOrder, pb::GetOrderRequest, pb::Order, GetOrder, Order
);
rpc!(
    /// Server-streaming `WatchOrderStatus`.
    WatchOrderStatus, pb::WatchOrderStatusRequest, pb::OrderStatusUpdate, WatchOrderStatus, OrderStatusUpdate
);
rpc!(
    /// Client-streaming `SubmitLineItems`.
    SubmitLineItems, pb::LineItem, pb::SubmitLineItemsResponse, LineItem, SubmitLineItems
);
rpc!(
    /// Bidirectional `ProcessOrders`.
    ProcessOrders, pb::OrderAction, pb::OrderResult, OrderAction, OrderResult
);
