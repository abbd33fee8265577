//! The contract's rules, each with its id and a one-line statement: what
//! `verify --list` prints and every failure quotes. `CONTRACT.md` at the
//! root of the repository holds the full text.

/// One rule of the contract.
///
/// ```
/// use orders_testkit::contract::rules;
///
/// let c1 = rules().iter().find(|r| r.id == "C-1").unwrap();
/// println!("{} ({}): {}", c1.id, c1.group, c1.statement);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rule {
    /// The stable id (`C-1`).
    pub id: &'static str,
    /// The group `--only` and `--skip` accept (`create`).
    pub group: &'static str,
    /// What the rule requires, in one line.
    pub statement: &'static str,
    /// Other checks that also exercise this rule on their own inputs.
    pub also_in: &'static [&'static str],
}

macro_rules! rule {
    ($id:literal, $group:literal, $statement:literal) => {
        rule!($id, $group, $statement, [])
    };
    ($id:literal, $group:literal, $statement:literal, [$($also:literal),*]) => {
        Rule { id: $id, group: $group, statement: $statement, also_in: &[$($also),*] }
    };
}

const RULES: &[Rule] = &[
    rule!(
        "REFL-1",
        "proto",
        "Server reflection (v1 and v1alpha on the mock; at least one elsewhere) lists orders.v1.OrderService and grpc.health.v1.Health."
    ),
    rule!(
        "PROTO-1",
        "proto",
        "The served descriptors match the contract's proto: messages, fields, numbers, types, enums, RPC signatures."
    ),
    rule!(
        "PROTO-2",
        "proto",
        "Every service, RPC, message, field and enum value served by reflection carries a doc comment (when source info is served)."
    ),
    rule!(
        "C-1",
        "create",
        "CreateOrder validates customer_id, items (1..=1000), each item and the int64 total, reporting every violation together.",
        ["E-2"]
    ),
    rule!(
        "C-2",
        "create",
        "A created order_id is 1..=128 bytes of [A-Za-z0-9._~-], unique among the server's orders; created_at is the server's time."
    ),
    rule!(
        "C-3",
        "create",
        "The stored order has the request's customer_id and items unchanged, status PENDING, updated_at == created_at."
    ),
    rule!(
        "C-4",
        "create",
        "An idempotency-key replays the first response for an identical request, ALREADY_EXISTS for a different one; invalid keys are INVALID_ARGUMENT.",
        ["C-5", "E-4"]
    ),
    rule!(
        "C-5",
        "create",
        "shipping_address is optional, not validated, and counts in the idempotency comparison (absent differs from empty)."
    ),
    rule!(
        "G-1",
        "get",
        "GetOrder with an order_id empty or over 128 bytes is INVALID_ARGUMENT on field order_id."
    ),
    rule!(
        "G-2",
        "get",
        "GetOrder of an unknown id is NOT_FOUND with the message `order <id> not found`."
    ),
    rule!(
        "G-3",
        "get",
        "GetOrder returns the order as created, with status and updated_at of its latest successful action.",
        ["P-2"]
    ),
    rule!(
        "W-1",
        "watch",
        "WatchOrderStatus validates like GetOrder (with BadRequest / ResourceInfo) and the error ends the call before any message."
    ),
    rule!(
        "W-2",
        "watch",
        "The first watch message is the current state: order_id, status, previous_status UNSPECIFIED, the order's updated_at.",
        ["P-2"]
    ),
    rule!(
        "W-3",
        "watch",
        "Then one message per status change, in order, none skipped or repeated, each with the previous status and the order's new updated_at.",
        ["P-2"]
    ),
    rule!(
        "W-4",
        "watch",
        "After a terminal status (DELIVERED, CANCELLED) the watch ends with OK; an order already terminal gets one message, then OK.",
        ["P-2"]
    ),
    rule!(
        "W-5",
        "watch",
        "Every watcher of an order gets the same sequence; a slow watcher loses nothing."
    ),
    rule!(
        "W-6",
        "watch",
        "A watcher that cancels or passes its deadline is released at once; the order's other watchers are unaffected."
    ),
    rule!(
        "S-1",
        "submit",
        "SubmitLineItems answers after half-close with item_count and the total of quantity x price_cents."
    ),
    rule!(
        "S-2",
        "submit",
        "An empty SubmitLineItems stream is OK with item_count 0 and total_cents 0."
    ),
    rule!(
        "S-3",
        "submit",
        "The first invalid item ends the call with INVALID_ARGUMENT on that item's fields only; a total past int64 is INVALID_ARGUMENT on items.",
        ["S-1"]
    ),
    rule!(
        "S-4",
        "submit",
        "SubmitLineItems is stateless: it creates and changes no order."
    ),
    rule!(
        "P-1",
        "process",
        "ProcessOrders sends exactly one result per action, in order, with its order_id, as each completes (not held to half-close).",
        ["P-2"]
    ),
    rule!(
        "P-2",
        "process",
        "Only CONFIRM PENDING->CONFIRMED, SHIP CONFIRMED->SHIPPED, DELIVER SHIPPED->DELIVERED, CANCEL PENDING|CONFIRMED->CANCELLED succeed."
    ),
    rule!(
        "P-3",
        "process",
        "A success has success=true, empty error, the new status; updated_at moves strictly forward and watchers see the change.",
        ["P-2"]
    ),
    rule!(
        "P-4",
        "process",
        "A failure keeps the stream open: success=false, the unchanged status, error `<REASON>: <words>` (INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, checked in that order).",
        ["P-2"]
    ),
    rule!(
        "P-5",
        "process",
        "ProcessOrders ends OK after half-close once every result is sent; an empty stream ends OK with no results.",
        ["P-2"]
    ),
    rule!(
        "P-6",
        "process",
        "Transitions are atomic per order: concurrent actions give the results of some serial order."
    ),
    rule!(
        "D-1",
        "deadline",
        "Every RPC, streams included, stops at the caller's deadline and the caller sees DEADLINE_EXCEEDED."
    ),
    rule!(
        "D-2",
        "deadline",
        "A call with less time left than the server's fail-fast threshold fails at once with DEADLINE_EXCEEDED and does nothing; auth, then fail-fast, then validation."
    ),
    rule!(
        "D-3",
        "deadline",
        "A cancelled call (any pattern) leaves no work and no subscription behind; the connection and other calls carry on."
    ),
    rule!(
        "D-4",
        "deadline",
        "A state change happens fully or not at all: a CreateOrder or an action cut by its deadline or a cancel never leaves half an order."
    ),
    rule!(
        "H-1",
        "health",
        "grpc.health.v1 Check(\"\") and Check(\"orders.v1.OrderService\") answer SERVING while the service is ready."
    ),
    rule!(
        "H-2",
        "health",
        "Health Check of an unknown service is NOT_FOUND."
    ),
    rule!(
        "H-3",
        "health",
        "Health Watch sends the current status at once and on every change; an unknown service gets SERVICE_UNKNOWN and the call stays open."
    ),
    rule!(
        "A-1",
        "auth",
        "With tokens configured, OrderService calls need `authorization: Bearer <token>`: else UNAUTHENTICATED; a token without the method's permission is PERMISSION_DENIED."
    ),
    rule!("A-2", "auth", "Health and reflection need no token."),
    rule!(
        "L-1",
        "concurrency",
        "Concurrent ProcessOrders streams, watches and GetOrders on the same orders give answers some serial order of the calls would give (each call placed within its own interval)."
    ),
    rule!(
        "L-2",
        "concurrency",
        "Concurrent CreateOrders with one idempotency key and the same request make one order: every one answers its id."
    ),
    rule!(
        "A-3",
        "auth",
        "Tokens never appear in any status message, log line, report or snapshot."
    ),
    rule!(
        "E-1",
        "errors",
        "Error codes follow the contract's table, and every non-OK status the service produces has a non-empty message."
    ),
    rule!(
        "E-2",
        "errors",
        "INVALID_ARGUMENT carries a BadRequest with one FieldViolation (path, description) per violation, in the contract's order.",
        ["C-1", "G-1", "W-1", "S-3"]
    ),
    rule!(
        "E-3",
        "errors",
        "NOT_FOUND of an order carries ResourceInfo(orders.v1.Order, <id>).",
        ["W-1"]
    ),
    rule!(
        "E-4",
        "errors",
        "ALREADY_EXISTS carries ResourceInfo(orders.v1.Order, <existing order id>)."
    ),
    rule!(
        "E-5",
        "errors",
        "When grpc-status-details-bin is present it is a google.rpc.Status with the call's code and message."
    ),
    rule!(
        "E-6",
        "errors",
        "INTERNAL and UNKNOWN messages are sanitized: no panic text, stack trace, source path or internal error text."
    ),
    rule!(
        "E-7",
        "errors",
        "A transient failure (UNAVAILABLE, RESOURCE_EXHAUSTED) may carry a RetryInfo; when it does, its delay is a valid, non-negative duration."
    ),
];

/// Every rule of the contract, in the order of `CONTRACT.md`.
pub fn rules() -> &'static [Rule] {
    RULES
}

/// The rule with this id (case-insensitive), if the contract has one.
///
/// ```
/// let d2 = orders_testkit::contract::rule("d-2").unwrap();
/// assert_eq!(d2.group, "deadline");
/// ```
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id.eq_ignore_ascii_case(id))
}
