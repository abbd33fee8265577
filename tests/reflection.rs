//! SPEC §1 over the mock's reflection: REFL-1 (v1 and v1alpha list the
//! services), PROTO-1 (the served descriptors are the proto's, checked
//! against SPEC independently of the build), PROTO-2 (every element carries
//! a doc comment, kept in the served source info).

use orders_testkit::OrderMock;
use prost::Message;
use prost_types::{FileDescriptorProto, field_descriptor_proto::Type};
use tonic_reflection::pb::v1::ServerReflectionRequest as V1Request;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient as V1Client;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest as V1Req;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse as V1Res;
use tonic_reflection::pb::v1alpha::ServerReflectionRequest as AlphaRequest;
use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient as AlphaClient;
use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest as AlphaReq;
use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse as AlphaRes;

async fn v1(mock: &OrderMock, req: V1Req) -> V1Res {
    let mut client = V1Client::new(mock.channel());
    let mut out = client
        .server_reflection_info(tokio_stream::iter([V1Request {
            host: String::new(),
            message_request: Some(req),
        }]))
        .await
        .unwrap()
        .into_inner();
    out.message()
        .await
        .unwrap()
        .unwrap()
        .message_response
        .unwrap()
}

async fn served_orders_file(mock: &OrderMock) -> FileDescriptorProto {
    let V1Res::FileDescriptorResponse(files) = v1(
        mock,
        V1Req::FileContainingSymbol("orders.v1.OrderService".into()),
    )
    .await
    else {
        panic!("expected a file descriptor response");
    };
    files
        .file_descriptor_proto
        .iter()
        .map(|b| FileDescriptorProto::decode(b.as_slice()).unwrap())
        .find(|f| f.package() == "orders.v1")
        .expect("the orders.v1 file is served")
}

#[tokio::test]
async fn refl1_v1_lists_order_service_and_health() {
    let mock = OrderMock::start().await;
    let V1Res::ListServicesResponse(list) = v1(&mock, V1Req::ListServices(String::new())).await
    else {
        panic!("expected a service list");
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"orders.v1.OrderService"), "{names:?}");
    assert!(names.contains(&"grpc.health.v1.Health"), "{names:?}");
}

#[tokio::test]
async fn refl1_v1alpha_lists_order_service_and_health() {
    let mock = OrderMock::start().await;
    let mut client = AlphaClient::new(mock.channel());
    let mut out = client
        .server_reflection_info(tokio_stream::iter([AlphaRequest {
            host: String::new(),
            message_request: Some(AlphaReq::ListServices(String::new())),
        }]))
        .await
        .unwrap()
        .into_inner();
    let Some(AlphaRes::ListServicesResponse(list)) =
        out.message().await.unwrap().unwrap().message_response
    else {
        panic!("expected a service list");
    };
    let names: Vec<_> = list.service.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"orders.v1.OrderService"), "{names:?}");
    assert!(names.contains(&"grpc.health.v1.Health"), "{names:?}");
}

#[tokio::test]
async fn proto1_served_descriptors_match_the_contract() {
    let mock = OrderMock::start().await;
    let file = served_orders_file(&mock).await;
    assert_eq!(file.dependency, ["google/protobuf/timestamp.proto"]);

    // The service: five RPCs with their types and streaming, as SPEC §1 and the article say.
    let svc = &file.service[0];
    assert_eq!(svc.name(), "OrderService");
    let rpcs: Vec<(&str, &str, &str, bool, bool)> = svc
        .method
        .iter()
        .map(|m| {
            (
                m.name(),
                m.input_type(),
                m.output_type(),
                m.client_streaming(),
                m.server_streaming(),
            )
        })
        .collect();
    assert_eq!(
        rpcs,
        [
            (
                "CreateOrder",
                ".orders.v1.CreateOrderRequest",
                ".orders.v1.CreateOrderResponse",
                false,
                false
            ),
            (
                "GetOrder",
                ".orders.v1.GetOrderRequest",
                ".orders.v1.Order",
                false,
                false
            ),
            (
                "WatchOrderStatus",
                ".orders.v1.WatchOrderStatusRequest",
                ".orders.v1.OrderStatusUpdate",
                false,
                true
            ),
            (
                "SubmitLineItems",
                ".orders.v1.LineItem",
                ".orders.v1.SubmitLineItemsResponse",
                true,
                false
            ),
            (
                "ProcessOrders",
                ".orders.v1.OrderAction",
                ".orders.v1.OrderResult",
                true,
                true
            ),
        ]
    );

    // Messages: every field's name, number, type and label.
    let fields = |msg: &str| -> Vec<(std::string::String, i32, Type, bool, std::string::String)> {
        file.message_type
            .iter()
            .find(|m| m.name() == msg)
            .unwrap_or_else(|| panic!("message {msg} is served"))
            .field
            .iter()
            .map(|f| {
                (
                    f.name().to_string(),
                    f.number(),
                    f.r#type(),
                    f.label() == prost_types::field_descriptor_proto::Label::Repeated,
                    f.type_name().to_string(),
                )
            })
            .collect()
    };
    let f = |n: &str, num: i32, t: Type, rep: bool, tn: &str| {
        (n.to_string(), num, t, rep, tn.to_string())
    };
    use Type::*;
    assert_eq!(
        fields("CreateOrderRequest"),
        [
            f("customer_id", 1, String, false, ""),
            f("items", 2, Message, true, ".orders.v1.LineItem"),
            f("shipping_address", 3, Message, false, ".orders.v1.Address"),
        ]
    );
    assert_eq!(
        fields("CreateOrderResponse"),
        [
            f("order_id", 1, String, false, ""),
            f(
                "created_at",
                2,
                Message,
                false,
                ".google.protobuf.Timestamp"
            ),
        ]
    );
    assert_eq!(
        fields("GetOrderRequest"),
        [f("order_id", 1, String, false, "")]
    );
    assert_eq!(
        fields("Order"),
        [
            f("order_id", 1, String, false, ""),
            f("customer_id", 2, String, false, ""),
            f("status", 3, Enum, false, ".orders.v1.OrderStatus"),
            f("items", 4, Message, true, ".orders.v1.LineItem"),
            f(
                "created_at",
                5,
                Message,
                false,
                ".google.protobuf.Timestamp"
            ),
            f(
                "updated_at",
                6,
                Message,
                false,
                ".google.protobuf.Timestamp"
            ),
        ]
    );
    assert_eq!(
        fields("LineItem"),
        [
            f("product_id", 1, String, false, ""),
            f("quantity", 2, Int32, false, ""),
            f("price_cents", 3, Int64, false, ""),
        ]
    );
    assert_eq!(
        fields("Address"),
        [
            f("street", 1, String, false, ""),
            f("city", 2, String, false, ""),
            f("state", 3, String, false, ""),
            f("zip_code", 4, String, false, ""),
            f("country", 5, String, false, ""),
        ]
    );
    assert_eq!(
        fields("WatchOrderStatusRequest"),
        [f("order_id", 1, String, false, "")]
    );
    assert_eq!(
        fields("OrderStatusUpdate"),
        [
            f("order_id", 1, String, false, ""),
            f("status", 2, Enum, false, ".orders.v1.OrderStatus"),
            f("previous_status", 3, Enum, false, ".orders.v1.OrderStatus"),
            f(
                "updated_at",
                4,
                Message,
                false,
                ".google.protobuf.Timestamp"
            ),
        ]
    );
    assert_eq!(
        fields("SubmitLineItemsResponse"),
        [
            f("item_count", 1, Int32, false, ""),
            f("total_cents", 2, Int64, false, ""),
        ]
    );
    assert_eq!(
        fields("OrderAction"),
        [
            f("order_id", 1, String, false, ""),
            f("action", 2, Enum, false, ".orders.v1.OrderActionType"),
        ]
    );
    assert_eq!(
        fields("OrderResult"),
        [
            f("order_id", 1, String, false, ""),
            f("success", 2, Bool, false, ""),
            f("error", 3, String, false, ""),
            f("status", 4, Enum, false, ".orders.v1.OrderStatus"),
        ]
    );
    assert_eq!(file.message_type.len(), 11);

    let values = |e: &str| -> Vec<(std::string::String, i32)> {
        file.enum_type
            .iter()
            .find(|x| x.name() == e)
            .unwrap()
            .value
            .iter()
            .map(|v| (v.name().to_string(), v.number()))
            .collect()
    };
    let v = |n: &str, i: i32| (n.to_string(), i);
    assert_eq!(
        values("OrderStatus"),
        [
            v("ORDER_STATUS_UNSPECIFIED", 0),
            v("ORDER_STATUS_PENDING", 1),
            v("ORDER_STATUS_CONFIRMED", 2),
            v("ORDER_STATUS_SHIPPED", 3),
            v("ORDER_STATUS_DELIVERED", 4),
            v("ORDER_STATUS_CANCELLED", 5),
        ]
    );
    assert_eq!(
        values("OrderActionType"),
        [
            v("ORDER_ACTION_TYPE_UNSPECIFIED", 0),
            v("ORDER_ACTION_TYPE_CONFIRM", 1),
            v("ORDER_ACTION_TYPE_SHIP", 2),
            v("ORDER_ACTION_TYPE_DELIVER", 3),
            v("ORDER_ACTION_TYPE_CANCEL", 4),
        ]
    );
}

#[tokio::test]
async fn proto2_every_element_has_a_doc_comment_in_served_source_info() {
    let mock = OrderMock::start().await;
    let file = served_orders_file(&mock).await;
    let info = file
        .source_code_info
        .as_ref()
        .expect("source info is served");
    let comment = |path: Vec<i32>| -> String {
        info.location
            .iter()
            .find(|l| l.path == path)
            .map(|l| l.leading_comments().trim().to_string())
            .unwrap_or_default()
    };
    let mut missing = vec![];
    let mut check = |what: String, path: Vec<i32>| {
        if comment(path).is_empty() {
            missing.push(what);
        }
    };
    // descriptor.proto field numbers: message_type 4, field 2, enum_type 5,
    // enum value 2, service 6, method 2.
    for (i, m) in file.message_type.iter().enumerate() {
        check(m.name().to_string(), vec![4, i as i32]);
        for (j, f) in m.field.iter().enumerate() {
            check(
                format!("{}.{}", m.name(), f.name()),
                vec![4, i as i32, 2, j as i32],
            );
        }
    }
    for (i, e) in file.enum_type.iter().enumerate() {
        check(e.name().to_string(), vec![5, i as i32]);
        for (j, v) in e.value.iter().enumerate() {
            check(v.name().to_string(), vec![5, i as i32, 2, j as i32]);
        }
    }
    for (i, s) in file.service.iter().enumerate() {
        check(s.name().to_string(), vec![6, i as i32]);
        for (j, m) in s.method.iter().enumerate() {
            check(
                format!("{}.{}", s.name(), m.name()),
                vec![6, i as i32, 2, j as i32],
            );
        }
    }
    assert!(missing.is_empty(), "no doc comment: {missing:?}");
}
