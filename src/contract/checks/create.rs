//! CreateOrder: C-1 to C-5, E-2, E-4.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use proptest::prelude::*;
use tonic::Code;
use tonic_types::StatusExt;

use super::corpus;
use super::fixtures::{get, id_form};
use super::{Verdict, err_code, fail, listed_as_expected, ok, property, show, steps, violations};
use crate::contract::context::{Ctx, Svc};
use crate::contract::oracle::expected_create_violations;
use crate::contract::property::{Deviation, forall};
use crate::pb::order_service_client::OrderServiceClient;
use crate::pb::{
    Address, CreateOrderRequest, CreateOrderResponse, LineItem, OrderAction, OrderActionType,
};

/// The shape of a generated customer id.
#[derive(Debug, Clone, Copy)]
enum Customer {
    Empty,
    /// One byte: valid, sent only with items that make the request fail
    /// (an order of a customer not marked as this run's is never created).
    OneByte,
    Short,
    Exactly128,
    Bytes129,
    /// 128 bytes of two-byte characters: valid, 64 characters.
    Multibyte128,
    /// 130 bytes of two-byte characters: invalid although 65 characters.
    Multibyte130,
}

/// The shape of the generated items.
#[derive(Debug, Clone)]
enum Items {
    /// These items.
    Few(Vec<LineItem>),
    /// n copies of a valid item (1000 and 1001 are the boundary).
    Copies(usize),
    /// Two items whose total is i64::MAX plus `over` (0 fits, 1 overflows).
    Edge(i64),
    /// 1001 items whose total overflows: two violations on `items`.
    ManyOverflowing,
}

fn li(product_id: &str, quantity: i32, price_cents: i64) -> LineItem {
    LineItem {
        product_id: product_id.into(),
        quantity,
        price_cents,
    }
}

/// The boundary cases C-1 runs before any random one: each edge of the
/// total, the item count, and every id length in bytes, with multibyte
/// characters.
fn c1_boundaries() -> Vec<(Customer, Items, bool)> {
    let few = |v: Vec<LineItem>| (Customer::Short, Items::Few(v), false);
    let e64 = "é".repeat(64);
    let e65 = "é".repeat(65);
    vec![
        few(vec![li("p-1", 1, 1)]),
        (Customer::Short, Items::Edge(0), false),
        (Customer::Short, Items::Edge(1), false),
        few(vec![li("p-1", i32::MAX, i64::MAX)]),
        few(vec![li("p-1", 1, i64::MIN)]),
        few(vec![li("p-1", i32::MAX, i64::MIN)]),
        few(vec![li("p-1", 2, i64::MAX / 2), li("p-2", 1, 1)]),
        few(vec![]),
        (Customer::Short, Items::Copies(1000), false),
        (Customer::Short, Items::Copies(1001), false),
        (Customer::Short, Items::ManyOverflowing, false),
        (Customer::Empty, Items::Few(vec![li("p-1", 1, 1)]), true),
        (
            Customer::Exactly128,
            Items::Few(vec![li("p-1", 1, 1)]),
            false,
        ),
        (Customer::Bytes129, Items::Few(vec![li("p-1", 1, 1)]), false),
        (
            Customer::Multibyte128,
            Items::Few(vec![li("p-1", 1, 1)]),
            false,
        ),
        (
            Customer::Multibyte130,
            Items::Few(vec![li("p-1", 1, 1)]),
            false,
        ),
        few(vec![li(&"p".repeat(128), 1, 1), li(&"p".repeat(129), 1, 1)]),
        few(vec![li("p", 1, 1)]),
        (Customer::OneByte, Items::Few(vec![]), false),
        few(vec![li(&e64, 1, 1)]),
        few(vec![li(&e65, 1, 1)]),
        few(vec![li("", 0, -1), li("p-2", i32::MIN, 0)]),
    ]
}

fn item() -> impl Strategy<Value = LineItem> {
    let product = prop_oneof![
        3 => Just("p-1".to_string()),
        1 => Just(String::new()),
        1 => Just("p".repeat(128)),
        1 => Just("p".repeat(129)),
    ];
    let quantity = prop_oneof![4 => 1i32..5, 1 => -3i32..1, 1 => Just(i32::MAX)];
    let price = prop_oneof![4 => 0i64..10_000, 1 => -5i64..0, 1 => Just(i64::MAX)];
    (product, quantity, price).prop_map(|(product_id, quantity, price_cents)| LineItem {
        product_id,
        quantity,
        price_cents,
    })
}

fn customer() -> impl Strategy<Value = Customer> {
    prop_oneof![
        5 => Just(Customer::Short),
        1 => Just(Customer::Empty),
        1 => Just(Customer::Exactly128),
        1 => Just(Customer::Bytes129),
        1 => Just(Customer::Multibyte128),
        1 => Just(Customer::Multibyte130),
    ]
}

fn items() -> impl Strategy<Value = Items> {
    prop_oneof![
        8 => proptest::collection::vec(item(), 0..5).prop_map(Items::Few),
        1 => prop_oneof![Just(1000usize), Just(1001usize)].prop_map(Items::Copies),
        1 => (0i64..2).prop_map(Items::Edge),
    ]
}

fn padded(prefix: &str, len: usize, fill: &str) -> String {
    let mut s = format!("{prefix}-");
    while s.len() + fill.len() <= len {
        s.push_str(fill);
    }
    while s.len() < len {
        s.push('x');
    }
    s
}

fn build(ctx: &Ctx, c: Customer, items: &Items, address: bool) -> CreateOrderRequest {
    let run = ctx.customer();
    let customer_id = match c {
        Customer::Empty => String::new(),
        Customer::OneByte => "c".into(),
        Customer::Short => run,
        Customer::Exactly128 => padded(&run, 128, "x"),
        Customer::Bytes129 => padded(&run, 129, "x"),
        Customer::Multibyte128 => padded(&run, 128, "é"),
        Customer::Multibyte130 => {
            let mut s = padded(&run, 128, "é");
            s.push('é');
            s
        }
    };
    let items = match items {
        Items::Few(v) => v.clone(),
        Items::Copies(n) => vec![
            LineItem {
                product_id: "p-1".into(),
                quantity: 1,
                price_cents: 1,
            };
            *n
        ],
        Items::ManyOverflowing => {
            let mut v = vec![li("p-1", 1, 1); 1001];
            v[0] = li("p-0", 1, i64::MAX);
            v
        }
        Items::Edge(over) => vec![
            LineItem {
                product_id: "p-1".into(),
                quantity: 1,
                price_cents: i64::MAX - 1,
            },
            LineItem {
                product_id: "p-2".into(),
                quantity: 1,
                price_cents: 1 + over,
            },
        ],
    };
    CreateOrderRequest {
        customer_id,
        items,
        shipping_address: address.then(|| Address {
            street: "1 Contract St".into(),
            ..Default::default()
        }),
    }
}

/// C-1 (and E-2 on every invalid request): the violations reported are
/// exactly those the contract lists, in its order; a valid request succeeds.
pub(crate) async fn c1(ctx: &Ctx) -> Verdict {
    let strategy = (customer(), items(), any::<bool>());
    property(
        forall(
            strategy,
            c1_boundaries(),
            ctx.cases,
            ctx.seed,
            64,
            ctx.patience * 10,
            |(c, items, addr)| async move {
                let req = build(ctx, c, &items, addr);
                let expected = expected_create_violations(&req);
                let got = ctx.client().create_order(req).await;
                match (expected.is_empty(), got) {
                    (true, Ok(res)) => id_form(&res.into_inner().order_id),
                    (true, Err(st)) => {
                        Err(Deviation::new("C-1", "a valid request succeeds", show(&st)))
                    }
                    (false, Ok(res)) => Err(Deviation::new(
                        "C-1",
                        format!("INVALID_ARGUMENT on {expected:?}"),
                        format!("OK {:?}", res.into_inner()),
                    )),
                    (false, Err(st)) => {
                        let fields = violations("C-1", &st)?;
                        if fields.len() > 1 {
                            ctx.snapshot("C-1_several_violations", &st);
                        } else {
                            ctx.snapshot(
                                &format!("C-1_{}", fields.first().map_or("none", |f| f.as_str())),
                                &st,
                            );
                        }
                        if listed_as_expected(&expected, &fields, &st) {
                            Ok(())
                        } else {
                            Err(Deviation::new(
                                "C-1",
                                format!("violations {expected:?}"),
                                format!("violations {fields:?}"),
                            ))
                        }
                    }
                }
            },
        )
        .await,
    )
}

fn valid(ctx: &Ctx) -> CreateOrderRequest {
    CreateOrderRequest {
        customer_id: ctx.customer(),
        items: vec![
            LineItem {
                product_id: "p-2".into(),
                quantity: 3,
                price_cents: 250,
            },
            LineItem {
                product_id: "p-1".into(),
                quantity: 1,
                price_cents: 0,
            },
        ],
        shipping_address: None,
    }
}

fn with_key<T>(msg: T, key: &[u8]) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    if let Ok(v) = tonic::metadata::MetadataValue::try_from(key) {
        r.metadata_mut().insert("idempotency-key", v);
    }
    r
}

/// C-2: ids non-empty, ≤ 128 bytes of `[A-Za-z0-9._~-]`, unique; created_at now.
pub(crate) async fn c2(ctx: &Ctx) -> Verdict {
    let mut seen = HashSet::new();
    // Enough orders to see a repeated id whatever --cases is; created
    // concurrently (the suite's concurrency limit bounds them).
    let n = ctx.cases.clamp(64, 256);
    let before = SystemTime::now() - Duration::from_secs(300);
    let created = futures_util::future::join_all((0..n).map(|_| async {
        let req = valid(ctx);
        let got = ok(
            "C-2",
            "CreateOrder",
            ctx.client().create_order(req.clone()).await,
        );
        (req, got)
    }))
    .await;
    for (req, got) in created {
        let res = match got {
            Ok(r) => r,
            Err(m) => return fail(ctx, req, m),
        };
        let after = SystemTime::now() + Duration::from_secs(300);
        let id = &res.order_id;
        if let Err(m) = id_form(id) {
            return fail(ctx, req, m);
        }
        if !seen.insert(id.clone()) {
            return fail(
                ctx,
                req,
                Deviation::new("C-2", "a new id", format!("{id:?} again")),
            );
        }
        let created = res.created_at.and_then(|t| SystemTime::try_from(t).ok());
        if !created.is_some_and(|t| t >= before && t <= after) {
            return fail(
                ctx,
                req,
                Deviation::new(
                    "C-2",
                    "created_at set to the server's time (±5 min)",
                    format!("{:?}", res.created_at),
                ),
            );
        }
    }
    Verdict::Pass(Some(format!("{n} orders")))
}

/// C-3: GetOrder returns the request's customer and items, PENDING,
/// updated_at == created_at.
pub(crate) async fn c3(ctx: &Ctx) -> Verdict {
    let req = valid(ctx);
    let r = stored_as_sent(ctx, &req).await;
    if let Err(m) = r {
        return fail(ctx, req, m);
    }
    // Stored as sent: customer ids and product ids of the hostile corpus
    // (no trimming, no re-encoding, no lookup through a built-in name).
    let items: Vec<LineItem> = corpus::BUILTIN_NAMES
        .iter()
        .map(|s| s.to_string())
        .chain(corpus::SHAPES.iter().map(|s| s.to_string()))
        .map(|product_id| LineItem {
            product_id,
            quantity: 1,
            price_cents: 1,
        })
        .collect();
    for customer_id in corpus::owned(&ctx.customer()) {
        let req = CreateOrderRequest {
            customer_id,
            items: items.clone(),
            shipping_address: None,
        };
        if let Err(m) = stored_as_sent(ctx, &req).await {
            return fail(ctx, req, m);
        }
    }
    Verdict::Pass(None)
}

/// CreateOrder then GetOrder: the order is the request's (C-3).
async fn stored_as_sent(ctx: &Ctx, req: &CreateOrderRequest) -> Result<(), Deviation> {
    let res = ok(
        "C-3",
        "CreateOrder",
        ctx.client().create_order(req.clone()).await,
    )?;
    id_form(&res.order_id)?;
    let order = get(ctx, "C-3", &res.order_id).await?;
    let checks = [
        (order.order_id == res.order_id, "order_id as created"),
        (
            order.customer_id == req.customer_id,
            "the request's customer_id, as sent",
        ),
        (
            order.items == req.items,
            "the request's items, same order, unchanged",
        ),
        (
            order.status == crate::pb::OrderStatus::Pending as i32,
            "status PENDING",
        ),
        (
            order.created_at == res.created_at,
            "created_at as in the response",
        ),
        (
            order.updated_at == res.created_at,
            "updated_at == created_at",
        ),
    ];
    match checks.iter().find(|(ok, _)| !ok) {
        Some((_, what)) => Err(Deviation::new("C-3", *what, format!("{order:?}"))),
        None => Ok(()),
    }
}

/// C-4: replays, conflicts, failed validation and invalid keys.
pub(crate) async fn c4(ctx: &Ctx) -> Verdict {
    let key = format!("{}-key-{}", ctx.run_id, ctx.customer());
    let req = valid(ctx);
    let r: Result<(), (String, Deviation)> = async {
        let at = |what: &str| format!("{what} with idempotency-key {key:?}");
        let first = ok(
            "C-4",
            "CreateOrder",
            ctx.client()
                .create_order(with_key(req.clone(), key.as_bytes()))
                .await,
        )
        .map_err(|m| (at("first CreateOrder"), m))?;
        // The order changes in between: the replay still answers the first response.
        let _ = ctx
            .client()
            .process_orders(tokio_stream::iter([OrderAction {
                order_id: first.order_id.clone(),
                action: OrderActionType::Confirm as i32,
            }]))
            .await;
        replays(ctx.client(), &req, key.as_bytes(), &first, "the replay", "")
            .await
            .map_err(|m| (at("the same request again"), m))?;
        let mut other = req.clone();
        other.items[0].quantity += 1;
        let st = err_code(
            "C-4",
            Code::AlreadyExists,
            ctx.client()
                .create_order(with_key(other, key.as_bytes()))
                .await,
        )
        .map_err(|m| (at("a different request"), m))?;
        ctx.snapshot("C-4_already_exists", &st);
        // A request that fails validation records nothing under its key.
        let key2 = format!("{key}-2");
        let mut bad = valid(ctx);
        bad.items.clear();
        let _ = ctx
            .client()
            .create_order(with_key(bad, key2.as_bytes()))
            .await;
        ok(
            "C-4",
            "a valid request under a key only a failed request used",
            ctx.client()
                .create_order(with_key(valid(ctx), key2.as_bytes()))
                .await,
        )
        .map_err(|m| ("invalid then valid request under one key".to_string(), m))?;
        // Without a key every call creates.
        let a = ok(
            "C-4",
            "CreateOrder",
            ctx.client().create_order(req.clone()).await,
        )
        .map_err(|m| ("no key".to_string(), m))?;
        let b = ok(
            "C-4",
            "CreateOrder",
            ctx.client().create_order(req.clone()).await,
        )
        .map_err(|m| ("no key".to_string(), m))?;
        if a.order_id == b.order_id {
            return Err((
                "the same request twice without a key".into(),
                Deviation::new("C-4", "two orders", format!("one id {:?}", a.order_id)),
            ));
        }
        // Invalid keys.
        for (name, k) in [
            ("empty", Vec::new()),
            ("129 bytes", vec![b'k'; 129]),
            ("a space", b"has space".to_vec()),
        ] {
            let st = refused_key(
                name,
                ctx.client().create_order(with_key(valid(ctx), &k)).await,
            )?;
            ctx.snapshot(&format!("C-4_key_{}", name.replace(' ', "_")), &st);
        }
        outside_grpc_ascii(ctx).await?;
        key_edges(ctx).await?;
        across_tokens(ctx).await
    }
    .await;
    steps(ctx, r)
}

/// `got` must be an `INVALID_ARGUMENT` naming only `idempotency-key`.
fn refused_key(
    name: &str,
    got: Result<tonic::Response<CreateOrderResponse>, tonic::Status>,
) -> Result<tonic::Status, (String, Deviation)> {
    let what = || format!("idempotency-key {name}");
    let st = match got {
        Ok(r) => {
            return Err((
                what(),
                Deviation::new(
                    "C-4",
                    "INVALID_ARGUMENT on idempotency-key",
                    format!("OK {:?}", r.into_inner()),
                ),
            ));
        }
        Err(st) => st,
    };
    let fields = violations("C-4", &st).map_err(|m| (what(), m))?;
    if fields != ["idempotency-key"] {
        return Err((
            what(),
            Deviation::new(
                "C-4",
                "violations [\"idempotency-key\"]",
                format!("{fields:?}"),
            ),
        ));
    }
    Ok(st)
}

/// Keys with a tab, 0x80 or 0xFF: outside gRPC's ASCII header values
/// (0x20-0x7E), which grpc-js and others drop before the handler sees
/// them. Sent twice, such a key is refused both times, or (dropped by the
/// stack) both calls create an order of their own; what may never happen
/// is a key honoured: the second call replaying the first (CONTRACT.md,
/// reading of C-4).
async fn outside_grpc_ascii(ctx: &Ctx) -> Result<(), (String, Deviation)> {
    for (name, k) in corpus::DROPPED_HEADER_BYTES {
        let first = ctx.client().create_order(with_key(valid(ctx), k)).await;
        let second = ctx.client().create_order(with_key(valid(ctx), k)).await;
        match (first, second) {
            (Ok(a), Ok(b)) => {
                let (a, b) = (a.into_inner(), b.into_inner());
                if a.order_id == b.order_id {
                    return Err((
                        format!("the same request twice under idempotency-key {name}"),
                        Deviation::new(
                            "C-4",
                            "INVALID_ARGUMENT, or the key dropped (two orders)",
                            format!("the key honoured: one order {:?}", a.order_id),
                        ),
                    ));
                }
            }
            (first, second) => {
                refused_key(name, first)?;
                refused_key(name, second)?;
            }
        }
    }
    Ok(())
}

/// The same request under the same key, sent again through `client`, must
/// answer the `first` response (C-4); `why` follows the expectation.
async fn replays(
    mut client: OrderServiceClient<Svc>,
    req: &CreateOrderRequest,
    key: &[u8],
    first: &CreateOrderResponse,
    what: &str,
    why: &str,
) -> Result<(), Deviation> {
    let again = ok(
        "C-4",
        what,
        client.create_order(with_key(req.clone(), key)).await,
    )?;
    if again == *first {
        Ok(())
    } else {
        Err(Deviation::new(
            "C-4",
            format!("the first response {first:?}{why}"),
            format!("{again:?}"),
        ))
    }
}

/// The customer of the requests sent under fixed keys: always the same
/// message, so that a key an earlier run used replays instead of
/// conflicting (CONTRACT.md, reading of C-4).
const FIXED_KEY_CUSTOMER: &str = "orders-testkit-fixed-key";

/// Valid keys at the edges of C-4's grammar, all used and replayed: the
/// built-in names of other languages' maps, one byte at each end of the
/// charset, and 128 bytes.
async fn key_edges(ctx: &Ctx) -> Result<(), (String, Deviation)> {
    let fixed = CreateOrderRequest {
        customer_id: FIXED_KEY_CUSTOMER.into(),
        items: vec![li("p-1", 1, 1)],
        shipping_address: None,
    };
    let long = padded(&format!("{}-key", ctx.run_id), 128, "~");
    let keys = corpus::BUILTIN_NAMES
        .iter()
        .map(|k| (k.to_string(), fixed.clone()))
        .chain(["!", "~"].map(|k| (k.to_string(), fixed.clone())))
        .chain([(long, valid(ctx))]);
    for (key, req) in keys {
        let at = |what: &str| format!("{what} with idempotency-key {key:?}");
        let first = match ctx
            .client()
            .create_order(with_key(req.clone(), key.as_bytes()))
            .await
        {
            Ok(r) => r.into_inner(),
            // Used before with another message, by somebody else: nothing
            // to judge under this key.
            Err(st) if st.code() == Code::AlreadyExists && foreign_key(ctx, &st).await => continue,
            Err(st) => {
                return Err((
                    at("CreateOrder"),
                    Deviation::new("C-4", "a created (or replayed) order", show(&st)),
                ));
            }
        };
        id_form(&first.order_id).map_err(|m| (at("CreateOrder"), m))?;
        replays(ctx.client(), &req, key.as_bytes(), &first, "the replay", "")
            .await
            .map_err(|m| (at("the same request again"), m))?;
    }
    Ok(())
}

/// Whether an ALREADY_EXISTS names an order of somebody other than the
/// suite (an earlier user of a fixed key on a shared server).
async fn foreign_key(ctx: &Ctx, st: &tonic::Status) -> bool {
    let Some(info) = st.get_details_resource_info() else {
        return false;
    };
    match get(ctx, "C-4", &info.resource_name).await {
        Ok(order) => order.customer_id != FIXED_KEY_CUSTOMER,
        Err(_) => false,
    }
}

/// Keys are global to the server: the same key under another token that
/// may create replays, or conflicts (C-4).
async fn across_tokens(ctx: &Ctx) -> Result<(), (String, Deviation)> {
    let Some(other) = ctx.write_token.as_deref() else {
        return Ok(());
    };
    let key = format!("{}-shared-key-{}", ctx.run_id, ctx.customer());
    let req = valid(ctx);
    let at = |what: &str| format!("{what}, idempotency-key {key:?}, under the --write-token");
    let first = ok(
        "C-4",
        "CreateOrder",
        ctx.client()
            .create_order(with_key(req.clone(), key.as_bytes()))
            .await,
    )
    .map_err(|m| (at("CreateOrder under --token first"), m))?;
    replays(
        ctx.client_as(Some(other)),
        &req,
        key.as_bytes(),
        &first,
        "the replay under another token",
        " (keys are global to the server)",
    )
    .await
    .map_err(|m| (at("the same request"), m))?;
    let mut different = req;
    different.items[0].quantity += 1;
    err_code(
        "C-4",
        Code::AlreadyExists,
        ctx.client_as(Some(other))
            .create_order(with_key(different, key.as_bytes()))
            .await,
    )
    .map(drop)
    .map_err(|m| (at("a different request"), m))
}

/// C-5: the address is accepted unvalidated and counts in idempotency.
pub(crate) async fn c5(ctx: &Ctx) -> Verdict {
    let key = format!("{}-addr-{}", ctx.run_id, ctx.customer());
    let absent = valid(ctx);
    let mut empty = absent.clone();
    empty.shipping_address = Some(Address::default());
    let r: Result<(), Deviation> = async {
        ok(
            "C-5",
            "CreateOrder without address",
            ctx.client()
                .create_order(with_key(absent, key.as_bytes()))
                .await,
        )?;
        let st = ctx
            .client()
            .create_order(with_key(empty.clone(), key.as_bytes()))
            .await;
        match st {
            Err(st) if st.code() == Code::AlreadyExists => {}
            Err(st) => {
                return Err(Deviation::new(
                    "C-5",
                    "ALREADY_EXISTS: Address{} differs from no address",
                    show(&st),
                ));
            }
            Ok(_) => {
                return Err(Deviation::new(
                    "C-5",
                    "ALREADY_EXISTS: Address{} differs from no address",
                    "OK (treated as the same)",
                ));
            }
        }
        let mut odd = valid(ctx);
        odd.shipping_address = Some(Address {
            zip_code: "not a zip ✓".into(),
            country: String::new(),
            ..Default::default()
        });
        ok(
            "C-5",
            "any address is accepted",
            ctx.client().create_order(odd).await,
        )?;
        Ok(())
    }
    .await;
    steps(
        ctx,
        r.map_err(|m| (format!("the same key, then {empty:#?}"), m)),
    )
}

/// E-2: a request with violations of every kind lists them all, in order.
pub(crate) async fn e2(ctx: &Ctx) -> Verdict {
    let req = CreateOrderRequest {
        customer_id: String::new(),
        items: vec![
            LineItem {
                product_id: String::new(),
                quantity: 0,
                price_cents: -1,
            },
            LineItem {
                product_id: "ok".into(),
                quantity: 1,
                price_cents: 1,
            },
            LineItem {
                product_id: "p".repeat(129),
                quantity: i32::MAX,
                price_cents: i64::MAX,
            },
        ],
        shipping_address: None,
    };
    let expected = [
        "customer_id",
        "items[0].product_id",
        "items[0].quantity",
        "items[0].price_cents",
        "items[2].product_id",
        "items",
        "idempotency-key",
    ];
    let r = async {
        let st = match ctx
            .client()
            .create_order(with_key(req.clone(), b"bad key"))
            .await
        {
            Ok(res) => {
                return Err(Deviation::new(
                    "E-2",
                    "INVALID_ARGUMENT",
                    format!("OK {:?}", res.into_inner()),
                ));
            }
            Err(st) => st,
        };
        ctx.snapshot("E-2_every_kind", &st);
        let fields = violations("E-2", &st)?;
        if fields == expected {
            Ok(())
        } else {
            Err(Deviation::new(
                "E-2",
                format!("{expected:?}"),
                format!("{fields:?}"),
            ))
        }
    }
    .await;
    steps(
        ctx,
        r.map_err(|m| (format!("{req:#?} with idempotency-key \"bad key\""), m)),
    )
}

/// E-4: ALREADY_EXISTS names the existing order in a ResourceInfo.
pub(crate) async fn e4(ctx: &Ctx) -> Verdict {
    let key = format!("{}-e4-{}", ctx.run_id, ctx.customer());
    let r = async {
        let first = ok(
            "E-4",
            "CreateOrder",
            ctx.client()
                .create_order(with_key(valid(ctx), key.as_bytes()))
                .await,
        )?;
        let st = err_code(
            "E-4",
            Code::AlreadyExists,
            ctx.client()
                .create_order(with_key(valid(ctx), key.as_bytes()))
                .await,
        )?;
        match st.get_details_resource_info() {
            Some(info)
                if info.resource_type == "orders.v1.Order"
                    && info.resource_name == first.order_id =>
            {
                Ok(())
            }
            other => Err(Deviation::new(
                "E-4",
                format!(
                    "ResourceInfo {{ resource_type: \"orders.v1.Order\", resource_name: {:?} }}",
                    first.order_id
                ),
                format!("{other:?}"),
            )),
        }
    }
    .await;
    steps(
        ctx,
        r.map_err(|m| {
            (
                format!("two different requests under idempotency-key {key:?}"),
                m,
            )
        }),
    )
}
