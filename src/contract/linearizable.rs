//! Whether a concurrent history is linearizable against a sequential
//! model: Wing and Gong's search, with Lowe's memo of (operations done,
//! state) as Porcupine has it. Each operation is an interval (invocation,
//! response); the search tries, in every state, each pending operation
//! that no other pending one finished before, and succeeds when every
//! operation found a place. Histories are checked partition by partition
//! (one order each), which keeps them small; the search is bounded in
//! steps, and a search that reaches the bound says so ("undecided")
//! instead of passing.

use std::collections::HashSet;
use std::fmt::Debug;
use std::hash::Hash;

/// A sequential specification: the states and what an operation may
/// answer in one.
pub(crate) trait Model {
    /// A state of the object.
    type State: Clone + Eq + Hash;
    /// What an operation asks.
    type Input: Debug;
    /// What it answered.
    type Output: Debug;
    /// The state before any operation.
    fn init(&self) -> Self::State;
    /// Whether `input` only reads (it changes no state whatever it answers).
    fn observes(&self, input: &Self::Input) -> bool;
    /// The state after `input` answered `output` in `state`; `None` when
    /// the object could not have answered that there.
    fn step(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: &Self::Output,
    ) -> Option<Self::State>;
}

/// One operation of a history: who made it, when it was invoked and when
/// its answer came (in any unit, the same for all), and what it asked and
/// got.
#[derive(Debug, Clone)]
pub(crate) struct Op<I, O> {
    pub(crate) client: usize,
    pub(crate) call: u64,
    pub(crate) ret: u64,
    pub(crate) input: I,
    pub(crate) output: O,
}

/// What the search found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Some order of the operations, within their intervals, explains
    /// every answer.
    Linearizable,
    /// None does.
    Not,
    /// The bound on search steps was reached first.
    Undecided,
}

/// The most operations one partition may hold (they are a bit set).
pub(crate) const MAX_OPS: usize = 64;

/// Checks `ops` (at most [`MAX_OPS`]) against `model`, trying at most
/// `bound` steps.
pub(crate) fn check<M: Model>(model: &M, ops: &[Op<M::Input, M::Output>], bound: usize) -> Verdict {
    assert!(
        ops.len() <= MAX_OPS,
        "a partition holds at most {MAX_OPS} operations"
    );
    let all: u64 = if ops.len() == MAX_OPS {
        u64::MAX
    } else {
        (1u64 << ops.len()) - 1
    };
    let mut seen: HashSet<(u64, M::State)> = HashSet::new();
    let mut stack = vec![(0u64, model.init())];
    let mut steps = 0usize;
    while let Some((done, state)) = stack.pop() {
        if done == all {
            return Verdict::Linearizable;
        }
        steps += 1;
        if steps > bound {
            return Verdict::Undecided;
        }
        // An operation may go next unless a pending one returned before it
        // was invoked.
        let first_return = (0..ops.len())
            .filter(|i| done & (1 << i) == 0)
            .map(|i| ops[i].ret)
            .min()
            .unwrap_or(u64::MAX);
        for (i, op) in ops.iter().enumerate() {
            if done & (1 << i) != 0 || op.call > first_return {
                continue;
            }
            if let Some(next) = model.step(&state, &op.input, &op.output) {
                let key = (done | (1 << i), next);
                if seen.insert(key.clone()) {
                    stack.push(key);
                }
            }
        }
    }
    Verdict::Not
}

/// A small sub-history that is still not linearizable, the indices into
/// `ops` by invocation: the shortest prefix by invocation that fails
/// (widened to every operation invoked before one of it answered, since
/// a reader may have seen any of those), then without each read-only
/// operation ([`Model::observes`]) that is not needed for the failure.
/// Writes are never dropped from inside the prefix: a read of a dropped
/// write would fail for a reason the server never had.
pub(crate) fn shrink<M: Model>(
    model: &M,
    ops: &[Op<M::Input, M::Output>],
    bound: usize,
) -> Vec<usize>
where
    M::Input: Clone,
    M::Output: Clone,
{
    let mut order: Vec<usize> = (0..ops.len()).collect();
    order.sort_by_key(|k| (ops[*k].call, ops[*k].ret));
    let pick = |kept: &[usize]| -> Vec<Op<M::Input, M::Output>> {
        kept.iter().map(|k| ops[*k].clone()).collect()
    };
    // The shortest failing prefix, closed over what its answers may have seen.
    let mut kept = order.clone();
    for n in 1..=order.len() {
        let mut prefix: Vec<usize> = order[..n].to_vec();
        loop {
            let last_return = prefix.iter().map(|k| ops[*k].ret).max().unwrap_or(0);
            let wider: Vec<usize> = order
                .iter()
                .copied()
                .filter(|k| ops[*k].call < last_return)
                .collect();
            if wider.len() == prefix.len() {
                break;
            }
            prefix = wider;
        }
        if check(model, &pick(&prefix), bound) == Verdict::Not {
            kept = prefix;
            break;
        }
    }
    // Then the reads it does not need.
    let mut i = 0;
    while i < kept.len() {
        if model.observes(&ops[kept[i]].input) {
            let mut without = kept.clone();
            without.remove(i);
            if check(model, &pick(&without), bound) == Verdict::Not {
                kept = without;
                continue;
            }
        }
        i += 1;
    }
    kept
}

/// The operations as a timeline, one a line by invocation: when (from the
/// first invocation, in `unit`), who, what was asked and answered.
pub(crate) fn timeline<I: Debug, O: Debug>(ops: &[&Op<I, O>], unit: &str) -> String {
    let start = ops.iter().map(|o| o.call).min().unwrap_or(0);
    ops.iter()
        .map(|o| {
            format!(
                "  {:>6}..{:<6}{unit} client {}: {:?} -> {:?}\n",
                o.call - start,
                o.ret - start,
                o.client,
                o.input,
                o.output
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A register: write v answers (), read answers the value.
    struct Register;

    #[derive(Debug, Clone)]
    enum In {
        Write(u8),
        Read,
    }

    impl Model for Register {
        type State = u8;
        type Input = In;
        type Output = Option<u8>;
        fn init(&self) -> u8 {
            0
        }
        fn observes(&self, input: &In) -> bool {
            matches!(input, In::Read)
        }
        fn step(&self, s: &u8, input: &In, output: &Option<u8>) -> Option<u8> {
            match (input, output) {
                (In::Write(v), None) => Some(*v),
                (In::Read, Some(v)) if v == s => Some(*s),
                _ => None,
            }
        }
    }

    fn op(client: usize, call: u64, ret: u64, input: In, output: Option<u8>) -> Op<In, Option<u8>> {
        Op {
            client,
            call,
            ret,
            input,
            output,
        }
    }

    #[test]
    fn overlapping_write_and_read_may_see_either_value() {
        for seen in [0, 1] {
            let ops = [
                op(0, 0, 10, In::Write(1), None),
                op(1, 5, 15, In::Read, Some(seen)),
            ];
            assert_eq!(check(&Register, &ops, 1000), Verdict::Linearizable);
        }
    }

    #[test]
    fn a_read_after_a_finished_write_must_see_it() {
        let ops = [
            op(0, 0, 10, In::Write(1), None),
            op(1, 11, 15, In::Read, Some(0)),
        ];
        assert_eq!(check(&Register, &ops, 1000), Verdict::Not);
    }

    #[test]
    fn a_stale_read_is_shrunk_to_the_write_and_the_read() {
        let ops = [
            op(2, 0, 3, In::Read, Some(0)),
            op(0, 4, 10, In::Write(1), None),
            op(2, 4, 6, In::Read, Some(0)),
            op(1, 11, 15, In::Read, Some(0)),
            op(2, 16, 18, In::Read, Some(1)),
        ];
        assert_eq!(check(&Register, &ops, 1000), Verdict::Not);
        let kept = shrink(&Register, &ops, 1000);
        // The write, and the read after it that missed it; not the last
        // read, which is fine with the write it saw.
        assert_eq!(kept, [1, 3]);
        let shown: Vec<_> = kept.iter().map(|k| &ops[*k]).collect();
        let text = timeline(&shown, "ms");
        assert!(text.contains("Write(1)"), "{text}");
    }

    #[test]
    fn a_search_past_its_bound_is_undecided_not_passed() {
        // Many overlapping writes, then a read of a value none wrote.
        let mut ops: Vec<_> = (0..12)
            .map(|v| op(v as usize, 0, 100, In::Write(v + 1), None))
            .collect();
        ops.push(op(20, 200, 210, In::Read, Some(99)));
        assert_eq!(check(&Register, &ops, 50), Verdict::Undecided);
        assert_eq!(check(&Register, &ops, 10_000_000), Verdict::Not);
    }
}
