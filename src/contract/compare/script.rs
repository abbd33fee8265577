//! The sequences a behaviour comparison sends: the same for every target
//! and every run of one seed. The first covers the boundary cases (every
//! validation, every wrong transition, replays and conflicts of a key, a
//! watch to each end, a deadline that runs out); the others are drawn from
//! the seed. The suite's oracle drives them, so that they act on orders
//! that exist and follow each watched order to its end.

use std::collections::HashSet;

use crate::contract::oracle::{self, Machine};
use crate::pb::{CreateOrderRequest, LineItem, OrderActionType, OrderStatus};

/// An order a step names: the one the create at step `n` of the sequence
/// answered, or an id no order has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Who {
    /// The order the create at this step answered.
    Order(usize),
    /// An id of the run that no order has.
    Unknown,
    /// The empty id.
    Empty,
    /// An id of 129 bytes.
    TooLong,
}

/// The customer of a create.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Customer {
    /// The sequence's customer number `n` (the same number, the same id).
    Numbered(u8),
    /// The empty id.
    Empty,
    /// An id of 129 bytes.
    TooLong,
}

/// One call, or one conversation (a watch and the actions it watches).
#[derive(Debug, Clone)]
pub(super) enum Step {
    /// CreateOrder, with idempotency key `n` of the sequence.
    Create {
        customer: Customer,
        items: Vec<LineItem>,
        key: Option<u8>,
        address: bool,
    },
    /// GetOrder.
    Get(Who),
    /// ProcessOrders: each action sent after the previous result.
    Process(Vec<(Who, i32)>),
    /// SubmitLineItems.
    Submit(Vec<LineItem>),
    /// WatchOrderStatus, and meanwhile ProcessOrders with these actions on
    /// the order (the last of them take it to its end).
    Watch { order: Who, actions: Vec<i32> },
    /// WatchOrderStatus of an order that does not change, with a short
    /// deadline.
    WatchUntilDeadline(Who),
}

const CONFIRM: i32 = OrderActionType::Confirm as i32;
const SHIP: i32 = OrderActionType::Ship as i32;
const DELIVER: i32 = OrderActionType::Deliver as i32;
const CANCEL: i32 = OrderActionType::Cancel as i32;

fn item(product: &str, quantity: i32, price_cents: i64) -> LineItem {
    LineItem {
        product_id: product.into(),
        quantity,
        price_cents,
    }
}

/// The sequences of a seed: the boundary cases first, then `count - 1`
/// drawn ones.
pub(super) fn sequences(seed: u64, count: u32) -> Vec<Vec<Step>> {
    let mut out = vec![boundary()];
    for n in 1..count.max(1) {
        out.push(drawn(seed, n));
    }
    out
}

/// Sequence 0: what each rule's edges look like.
fn boundary() -> Vec<Step> {
    use Step::*;
    let a = Who::Order(3);
    let b = Who::Order(14);
    let valid = vec![item("p-1", 2, 150), item("p-2", 1, 0)];
    vec![
        // 0-2: validation, every violation at once, the int64 total.
        Create {
            customer: Customer::Empty,
            items: vec![],
            key: None,
            address: false,
        },
        Create {
            customer: Customer::TooLong,
            items: vec![item("", 0, -1), item("p-1", 1, 10)],
            key: None,
            address: false,
        },
        Create {
            customer: Customer::Numbered(0),
            items: vec![item("p-1", 1, i64::MAX), item("p-2", 2, 1)],
            key: None,
            address: false,
        },
        // 3-5: a key, its replay, its conflict.
        Create {
            customer: Customer::Numbered(1),
            items: valid.clone(),
            key: Some(0),
            address: true,
        },
        Create {
            customer: Customer::Numbered(1),
            items: valid.clone(),
            key: Some(0),
            address: true,
        },
        Create {
            customer: Customer::Numbered(2),
            items: valid.clone(),
            key: Some(0),
            address: false,
        },
        // 6-9: reads.
        Get(Who::Empty),
        Get(Who::TooLong),
        Get(Who::Unknown),
        Get(a),
        // 10: every failure of an action, and the transitions from PENDING.
        Process(vec![
            (a, SHIP),
            (a, DELIVER),
            (a, CONFIRM),
            (a, CONFIRM),
            (a, DELIVER),
            (Who::Unknown, CONFIRM),
            (Who::Empty, SHIP),
            (a, 0),
            (a, 99),
        ]),
        // 11-13: a watch through SHIPPED (CANCEL refused there), one of a
        // terminal order, an action on it.
        Watch {
            order: a,
            actions: vec![SHIP, CANCEL, CONFIRM, DELIVER],
        },
        Watch {
            order: a,
            actions: vec![],
        },
        Process(vec![(a, CANCEL)]),
        // 14-16: a deadline that runs out on a watch; CANCEL from PENDING.
        Create {
            customer: Customer::Numbered(3),
            items: vec![item("p-3", 3, 999)],
            key: None,
            address: false,
        },
        WatchUntilDeadline(b),
        Process(vec![(b, CANCEL), (b, CONFIRM)]),
        // 17-18: watches that cannot open.
        Watch {
            order: Who::Unknown,
            actions: vec![],
        },
        Watch {
            order: Who::Empty,
            actions: vec![],
        },
        // 19-22: client streams: empty, valid, an invalid item, an overflow.
        Submit(vec![]),
        Submit(valid),
        Submit(vec![item("p-1", 1, 5), item("", 0, -3), item("p-2", 0, 1)]),
        Submit(vec![item("p-1", 1, i64::MAX), item("p-2", 1, 1)]),
        // 23: the final state.
        Get(a),
        Get(b),
    ]
}

/// A small random source: SplitMix64 over the seed and the sequence.
struct Draw(u64);

impl Draw {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = crate::grpc::seed::mix(self.0);
        self.0 % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// A drawn sequence: creates (some with shared keys), reads, actions,
/// client streams and watches on the orders the oracle says exist.
fn drawn(seed: u64, sequence: u32) -> Vec<Step> {
    let mut draw = Draw(seed ^ (u64::from(sequence) << 32) ^ 0xbe4a_710e);
    let mut machine = Machine::default();
    // Orders by the step that created them; the keys used so far.
    let mut orders: Vec<usize> = Vec::new();
    let mut keys: HashSet<u8> = HashSet::new();
    let mut steps = Vec::new();
    let len = 4 + draw.below(7) as usize;
    let products = ["p-1", "p-2", "p-3"];
    let items = |draw: &mut Draw, max: u64| -> Vec<LineItem> {
        (0..draw.below(max + 1))
            .map(|_| {
                if draw.chance(10) {
                    item("", draw.below(2) as i32 - 1, -(draw.below(3) as i64))
                } else {
                    item(
                        products[draw.below(3) as usize],
                        1 + draw.below(3) as i32,
                        draw.below(6) as i64 * 125,
                    )
                }
            })
            .collect()
    };
    while steps.len() < len {
        let at = steps.len();
        let pick = |draw: &mut Draw, orders: &[usize]| -> Who {
            if orders.is_empty() || draw.chance(15) {
                Who::Unknown
            } else {
                Who::Order(orders[draw.below(orders.len() as u64) as usize])
            }
        };
        match draw.below(11) {
            0..=2 => {
                let customer = Customer::Numbered(draw.below(3) as u8);
                let mut its = items(&mut draw, 3);
                if its.is_empty() {
                    its.push(item("p-1", 1, 100));
                }
                let key = draw.chance(40).then(|| draw.below(2) as u8);
                let request = CreateOrderRequest {
                    customer_id: "c".into(),
                    items: its.clone(),
                    shipping_address: None,
                };
                let valid = oracle::expected_create_violations(&request).is_empty();
                // A new order unless the request is invalid or its key was
                // taken (a replay or a conflict).
                if valid && key.is_none_or(|k| !keys.contains(&k)) {
                    orders.push(at);
                    machine
                        .orders
                        .insert(format!("o{at}"), OrderStatus::Pending);
                    if let Some(k) = key {
                        keys.insert(k);
                    }
                }
                steps.push(Step::Create {
                    customer,
                    items: its,
                    key,
                    address: false,
                });
            }
            3 | 4 => steps.push(Step::Get(pick(&mut draw, &orders))),
            5..=7 => {
                let actions = (0..1 + draw.below(4))
                    .map(|_| {
                        let who = pick(&mut draw, &orders);
                        let action = 1 + draw.below(4) as i32;
                        if let Who::Order(s) = who {
                            machine.apply(&format!("o{s}"), action);
                        }
                        (who, action)
                    })
                    .collect();
                steps.push(Step::Process(actions));
            }
            8 => steps.push(Step::Submit(items(&mut draw, 4))),
            _ => {
                let order = pick(&mut draw, &orders);
                let mut actions: Vec<i32> = (0..draw.below(3))
                    .map(|_| 1 + draw.below(4) as i32)
                    .collect();
                if let Who::Order(s) = order {
                    let name = format!("o{s}");
                    for a in &actions {
                        machine.apply(&name, *a);
                    }
                    let end = finish(&machine, &name);
                    for a in &end {
                        machine.apply(&name, *a);
                    }
                    actions.extend(end);
                } else {
                    // A watch that cannot open sends nothing.
                    actions.clear();
                }
                steps.push(Step::Watch { order, actions });
            }
        }
    }
    steps
}

/// The actions that take an order to a terminal status (P-2's shortest
/// ways: CANCEL from PENDING or CONFIRMED, DELIVER from SHIPPED), as the
/// oracle has it.
fn finish(machine: &Machine, name: &str) -> Vec<i32> {
    match machine.orders.get(name) {
        Some(OrderStatus::Pending | OrderStatus::Confirmed) => vec![CANCEL],
        Some(OrderStatus::Shipped) => vec![DELIVER],
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_are_the_same_for_a_seed_and_differ_between_seeds() {
        let show = |s: u64| format!("{:?}", sequences(s, 6));
        assert_eq!(show(1), show(1));
        assert_ne!(show(1), show(2));
        assert_eq!(sequences(1, 6).len(), 6);
        assert_eq!(sequences(1, 0).len(), 1, "the boundary cases always run");
    }

    #[test]
    fn drawn_watches_end_their_order() {
        // Replayed through the oracle, every watched order ends: the watch
        // closes with OK instead of waiting out the patience.
        for seed in 1..20 {
            for steps in sequences(seed, 8).iter().skip(1) {
                let mut machine = Machine::default();
                for (at, step) in steps.iter().enumerate() {
                    match step {
                        Step::Create { .. } => {
                            machine
                                .orders
                                .insert(format!("o{at}"), OrderStatus::Pending);
                        }
                        Step::Process(actions) => {
                            for (who, a) in actions {
                                if let Who::Order(s) = who {
                                    machine.apply(&format!("o{s}"), *a);
                                }
                            }
                        }
                        Step::Watch {
                            order: Who::Order(s),
                            actions,
                        } => {
                            let name = format!("o{s}");
                            for a in actions {
                                machine.apply(&name, *a);
                            }
                            let status = machine.orders[&name];
                            assert!(oracle::terminal(status), "seed {seed}: {steps:?}");
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}
