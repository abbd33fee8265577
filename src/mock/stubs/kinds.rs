//! Which builder methods an RPC's stub has, by its streaming kind: marker
//! traits over the sealed [`Rpc`](crate::rpc::Rpc).

use super::StubSlot;
use super::responders::Replies;
use crate::rpc::{CreateOrder, GetOrder, ProcessOrders, SubmitLineItems, WatchOrderStatus};

/// Unary RPCs: `CreateOrder`, `GetOrder`.
///
/// ```
/// use orders_testkit::{mock::stubs::UnaryRpc, rpc::GetOrder};
/// fn unary<R: UnaryRpc>(_: R) {}
/// unary(GetOrder);
/// ```
pub trait UnaryRpc: SingleResponseRpc {}
impl UnaryRpc for CreateOrder {}
impl UnaryRpc for GetOrder {}

/// RPCs whose stub matchers see one request message at a time: the unary
/// ones, `WatchOrderStatus` (its request) and `ProcessOrders` (each action).
///
/// ```
/// use orders_testkit::{mock::stubs::PerMessageRpc, rpc::ProcessOrders};
/// fn per_message<R: PerMessageRpc>(_: R) {}
/// per_message(ProcessOrders);
/// ```
pub trait PerMessageRpc: StubSlot {}
impl PerMessageRpc for CreateOrder {}
impl PerMessageRpc for GetOrder {}
impl PerMessageRpc for WatchOrderStatus {}
impl PerMessageRpc for ProcessOrders {}

/// RPCs answered with one message, chosen from the request(s): unary and
/// client streaming.
///
/// ```
/// use orders_testkit::{mock::stubs::SingleResponseRpc, rpc::SubmitLineItems};
/// fn single<R: SingleResponseRpc>(_: R) {}
/// single(SubmitLineItems);
/// ```
pub trait SingleResponseRpc: StubSlot<Responder = Replies<Self>> {}
impl SingleResponseRpc for CreateOrder {}
impl SingleResponseRpc for GetOrder {}
impl SingleResponseRpc for SubmitLineItems {}
