//! Live calls driven from outside the test's code (the admin API and its
//! page): the desk takes every call of the RPCs it drives, keeps each open
//! call with what its client sent, and carries out the commands it is
//! given (send a message, end with a status, reset). One task per driven
//! RPC takes the calls; one per call reads its client and obeys.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tonic::Status;

use super::{Live, LiveBoard, LiveCall, LiveRpc};
use crate::rpc::{
    CreateOrder, GetOrder, Method, ProcessOrders, RequestMessage, ResponseMessage, SubmitLineItems,
    WatchOrderStatus,
};

/// How long a driven call's reads wait between two looks (they loop).
const READ_WAIT: Duration = Duration::from_secs(3600);

/// How many of a client's streamed messages the desk shows; later ones
/// are counted (`unshown`), as the journal does past its budget.
const SHOWN: usize = 1000;

/// What the desk is told to do with an open call.
#[derive(Debug)]
pub(crate) enum Command {
    /// Send this message (the one answer of a unary or client stream).
    Send(ResponseMessage),
    /// End with this status (OK finishes a stream).
    End(Status),
    /// Reset the stream.
    Reset,
}

/// An open call as the desk shows it.
#[derive(Debug, Clone)]
pub(crate) struct DeskCall {
    /// The live call's id.
    pub(crate) id: u64,
    /// Its RPC.
    pub(crate) rpc: Method,
    /// The request message (unary and server streams).
    pub(crate) request: Option<RequestMessage>,
    /// What the client streamed so far (client and bidi streams), the
    /// first `SHOWN` of it.
    pub(crate) received: Vec<RequestMessage>,
    /// Messages streamed past those.
    pub(crate) unshown: usize,
    /// Whether the client half-closed.
    pub(crate) half_closed: bool,
    /// The messages the desk sent.
    pub(crate) sent: usize,
}

/// A command, and where its outcome goes.
type Order = (Command, tokio::sync::oneshot::Sender<Result<(), String>>);

struct Entry {
    view: DeskCall,
    commands: mpsc::UnboundedSender<Order>,
}

/// The RPCs driven from outside, and their open calls.
#[derive(Default)]
pub(crate) struct Desk {
    driven: Mutex<BTreeMap<&'static str, JoinHandle<()>>>,
    calls: Arc<Mutex<BTreeMap<u64, Entry>>>,
}

impl Drop for Desk {
    fn drop(&mut self) {
        for (_, taker) in std::mem::take(self.driven.get_mut().unwrap_or_else(|p| p.into_inner())) {
            taker.abort();
        }
    }
}

impl Desk {
    /// Starts driving `rpc` from the desk (no change if it is already);
    /// `false` when it was.
    pub(crate) fn drive(&self, board: &LiveBoard, rpc: Method) -> bool {
        let mut driven = self.driven.lock().unwrap_or_else(|p| p.into_inner());
        if driven.contains_key(rpc.name()) {
            return false;
        }
        let calls = Arc::clone(&self.calls);
        let taker = match rpc {
            Method::CreateOrder => tokio::spawn(take(Live::<CreateOrder>::on(board), calls)),
            Method::GetOrder => tokio::spawn(take(Live::<GetOrder>::on(board), calls)),
            Method::WatchOrderStatus => {
                tokio::spawn(take(Live::<WatchOrderStatus>::on(board), calls))
            }
            Method::SubmitLineItems => {
                tokio::spawn(take(Live::<SubmitLineItems>::on(board), calls))
            }
            Method::ProcessOrders => tokio::spawn(take(Live::<ProcessOrders>::on(board), calls)),
        };
        driven.insert(rpc.name(), taker);
        true
    }

    /// Stops driving `rpc`: later calls go to stubs and the model; calls
    /// not yet taken end with `UNAVAILABLE`; open ones stay. `false` when
    /// it was not driven.
    pub(crate) fn stop(&self, rpc: Method) -> bool {
        let taker = self
            .driven
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(rpc.name());
        taker.map(|t| t.abort()).is_some()
    }

    /// The RPCs driven, by name.
    pub(crate) fn driven(&self) -> Vec<&'static str> {
        let driven = self.driven.lock().unwrap_or_else(|p| p.into_inner());
        driven.keys().copied().collect()
    }

    /// The open calls, oldest first.
    pub(crate) fn calls(&self) -> Vec<DeskCall> {
        let calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        calls.values().map(|e| e.view.clone()).collect()
    }

    /// Carries out `command` on open call `id`; the error says why not.
    pub(crate) async fn command(&self, id: u64, command: Command) -> Result<(), String> {
        let (done, result) = tokio::sync::oneshot::channel();
        {
            let calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
            let entry = calls
                .get(&id)
                .ok_or_else(|| format!("no open live call {id}"))?;
            entry
                .commands
                .send((command, done))
                .map_err(|_| format!("live call {id} has ended"))?;
        }
        result
            .await
            .unwrap_or_else(|_| Err(format!("live call {id} has ended")))
    }
}

/// Takes every call of `R` onto the desk, until aborted.
async fn take<R: LiveRpc>(live: Live<R>, calls: Arc<Mutex<BTreeMap<u64, Entry>>>) {
    let live = live.within(READ_WAIT);
    loop {
        let Ok(call) = live.next().await else {
            continue;
        };
        let (commands, inbox) = mpsc::unbounded_channel();
        let id = call.id();
        let one_request = !matches!(R::METHOD, Method::SubmitLineItems | Method::ProcessOrders);
        let view = DeskCall {
            id,
            rpc: R::METHOD,
            request: one_request
                .then(|| decoded::<R>(call.first_request()))
                .flatten(),
            received: Vec::new(),
            unshown: 0,
            half_closed: one_request,
            sent: 0,
        };
        calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, Entry { view, commands });
        tokio::spawn(obey(call, inbox, Arc::clone(&calls)));
    }
}

type Inbox = mpsc::UnboundedReceiver<Order>;

/// Reads the call's client and carries out the desk's commands, until the
/// call ends.
async fn obey<R: LiveRpc>(
    mut call: LiveCall<R>,
    mut inbox: Inbox,
    calls: Arc<Mutex<BTreeMap<u64, Entry>>>,
) {
    let id = call.id();
    let mut inbound = call.take_inbound();
    let gone = call.gone();
    let mut gone = std::pin::pin!(gone);
    let update = |f: &dyn Fn(&mut DeskCall)| {
        if let Some(entry) = calls.lock().unwrap_or_else(|p| p.into_inner()).get_mut(&id) {
            f(&mut entry.view);
        }
    };
    loop {
        tokio::select! {
            () = &mut gone => break,
            read = async { inbound.as_mut()?.message().await.ok() }, if inbound.is_some() => {
                match read {
                    Some(Some(message)) => {
                        if let Some(message) = decoded::<R>(&message) {
                            update(&|v| {
                                if v.received.len() < SHOWN {
                                    v.received.push(message.clone());
                                } else {
                                    v.unshown += 1;
                                }
                            });
                        }
                    }
                    // Half-closed (unless the client is gone: a reset can
                    // end its stream as quietly).
                    Some(None) => {
                        inbound = None;
                        if !call.is_gone() {
                            update(&|v| v.half_closed = true);
                        }
                    }
                    // The client's stream failed: it went away, which the
                    // `gone` branch sees; not a half-close.
                    None => inbound = None,
                }
            }
            command = inbox.recv() => {
                let Some((command, done)) = command else { break };
                let (result, ended) = match command {
                    Command::Send(message) => match R::response(&message) {
                        Some(message) => match call.deliver(message.clone()) {
                            Ok(ended) => (Ok(()), ended),
                            Err(e) => (Err(e.to_string()), true),
                        },
                        None => (Err(format!("not a message {} answers with", R::METHOD)), false),
                    },
                    Command::End(status) => (call.end_checked(status).map_err(|e| e.to_string()), true),
                    Command::Reset => (call.end_with(crate::fault::reset_status()).map_err(|e| e.to_string()), true),
                };
                if result.is_ok() {
                    update(&|v| v.sent += 1);
                }
                let _ = done.send(result);
                if ended {
                    break;
                }
            }
        }
    }
    calls.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
}

/// `message` as a decoded message of `R`'s method (for the desk's view).
fn decoded<R: LiveRpc>(message: &R::Request) -> Option<RequestMessage> {
    R::METHOD
        .decode_request(&prost::Message::encode_to_vec(message))
        .ok()
}
