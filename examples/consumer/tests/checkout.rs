//! Checkout's tests: the testkit's mock, stubbed, faulted and read back with
//! the very `orders_proto` types that `src/` uses (no conversion anywhere).

use std::time::Duration;

use checkout::{Checkout, CheckoutError};
use orders_proto::{CreateOrderRequest, Order, OrderStatus};
use orders_testkit::prelude::*;

#[tokio::test]
async fn a_retried_order_keeps_its_key_and_is_created_once() {
    let mock = OrderMock::start().await;
    mock.inject(
        Fault::unavailable("warming up", Duration::from_millis(1))
            .on(CreateOrder)
            .first(1),
    );
    let mut checkout = Checkout::new(mock.channel());

    let id = checkout
        .place("cust-1", &[("p1", 2, 1999)], "cart-42")
        .await
        .unwrap();

    // The journal gives back production's own request type.
    let sent: Vec<CreateOrderRequest> = mock.journal().requests(CreateOrder);
    assert_eq!(sent.last().map(|r| r.items.len()), Some(1));
    let calls = mock.journal().calls_to(CreateOrder);
    assert_eq!(calls.len(), 2, "one failed attempt, one retry");
    let keys: Vec<_> = calls
        .iter()
        .map(|call| call.header("idempotency-key").map(str::to_owned))
        .collect();
    assert_eq!(keys, [Some("cart-42".into()), Some("cart-42".into())]);
    assert_eq!(mock.store().order_count(), 1, "created once");
    let order: Order = checkout.order(&id).await.unwrap();
    assert_eq!(order.status(), OrderStatus::Pending);
}

#[tokio::test]
async fn a_stubbed_order_is_production_s_order_type() {
    let mock = OrderMock::start().await;
    let shipped = Order {
        order_id: "o-7".into(),
        customer_id: "cust-1".into(),
        status: OrderStatus::Shipped.into(),
        ..Default::default()
    };
    Stub::on(GetOrder)
        .when(|req| req.order_id == "o-7")
        .respond(shipped.clone())
        .expect(1)
        .mount(&mock);

    let got = Checkout::new(mock.channel()).order("o-7").await.unwrap();
    assert_eq!(got, shipped);
    mock.verify().assert_ok();
}

#[tokio::test]
async fn the_services_bad_request_becomes_checkouts_own_error() {
    let mock = OrderMock::start().await;
    let err = Checkout::new(mock.channel())
        .place("", &[("p1", 0, 1999)], "cart-1")
        .await
        .unwrap_err();
    assert_eq!(
        err,
        CheckoutError::Invalid(vec!["customer_id".into(), "items[0].quantity".into()])
    );
}
