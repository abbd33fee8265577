//! The bridge for teams with their own generated orders.v1 types: every
//! message of a separately generated copy (`tests/bridge/`, kept current by
//! the e2e test `generated_code`) converts to the testkit's type and back,
//! stubs and the journal work through it, and two messages that are not
//! the same one give an error naming both.

use orders_testkit::pb;
use orders_testkit::pb::bridge::convert;
use orders_testkit::prelude::*;

/// The team's own generation (prost-build, messages only).
#[allow(clippy::all, dead_code)]
mod mine {
    include!("bridge/orders.v1.rs");
}

fn their_order() -> mine::Order {
    mine::Order {
        order_id: "o-1".into(),
        customer_id: "cust-ü".into(),
        items: vec![mine::LineItem {
            product_id: "p1".into(),
            quantity: 2,
            price_cents: 1999,
        }],
        status: mine::OrderStatus::Shipped as i32,
        created_at: Some(prost_types::Timestamp {
            seconds: 1,
            nanos: 2,
        }),
        updated_at: None,
    }
}

#[test]
fn every_field_survives_to_the_testkit_type_and_back() {
    let ours: pb::Order = convert(&their_order()).unwrap();
    assert_eq!(ours.order_id, "o-1");
    assert_eq!(ours.status(), pb::OrderStatus::Shipped);
    assert_eq!(ours.items[0].price_cents, 1999);
    assert_eq!(ours.created_at.map(|t| t.nanos), Some(2));
    let back: mine::Order = convert(&ours).unwrap();
    assert_eq!(back, their_order());
}

#[test]
fn a_different_message_is_an_error_naming_both_types() {
    // A field the target has no tag for (Order's items, tag 4) would be
    // lost in a LineItem.
    let items_only = mine::Order {
        items: their_order().items,
        ..Default::default()
    };
    let err = convert::<_, pb::LineItem>(&items_only).unwrap_err();
    assert!(err.from_type().ends_with("mine::Order"), "{err}");
    assert_eq!(err.to_type(), "orders_proto::LineItem");
    assert!(err.to_string().contains("does not survive"), "{err}");
    // A tag read with another wire type (Order's customer_id, a string, is
    // LineItem's quantity, a varint).
    let err = convert::<_, pb::LineItem>(&their_order()).unwrap_err();
    assert!(err.to_string().contains("does not decode"), "{err}");
}

#[tokio::test]
async fn a_stub_answers_and_the_journal_reads_back_in_the_teams_types() {
    let mock = OrderMock::start().await;
    Stub::on(GetOrder)
        .respond(convert(&their_order()).unwrap())
        .mount(&mock);
    let got = mock
        .client()
        .get_order(pb::GetOrderRequest {
            order_id: "o-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let got: mine::Order = convert(&got).unwrap();
    assert_eq!(got, their_order());
    let asked: Vec<mine::GetOrderRequest> = mock
        .journal()
        .requests(GetOrder)
        .iter()
        .map(|r| convert(r).unwrap())
        .collect();
    assert_eq!(
        asked,
        [mine::GetOrderRequest {
            order_id: "o-1".into()
        }]
    );
}
