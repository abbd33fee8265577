//! The gRPC frame decoder yields the same messages however the body is cut
//! into chunks, whether chunks are copied (`push`) or kept (`push_bytes`).

use bytes::Bytes;
use orders_testkit::grpc::frame::{FrameDecoder, encode_frame};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

fn decode(wire: &[u8], cuts: &[usize], zero_copy: &[bool]) -> Vec<Bytes> {
    let mut dec = FrameDecoder::default();
    let mut out = Vec::new();
    let mut at = 0;
    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
    bounds.push(wire.len());
    bounds.sort_unstable();
    for (i, end) in bounds.into_iter().enumerate() {
        let chunk = &wire[at..end.max(at)];
        if zero_copy.get(i).copied().unwrap_or(true) {
            dec.push_bytes(Bytes::copy_from_slice(chunk));
        } else {
            dec.push(chunk);
        }
        while let Some(m) = dec.next_message() {
            out.push(m.unwrap());
        }
        at = end.max(at);
    }
    assert_eq!(dec.pending(), 0);
    out
}

#[test]
fn frames_decode_alike_however_the_body_is_cut() {
    // Boundary cases first: one chunk, a cut inside every header byte, empty messages.
    let messages: Vec<Vec<u8>> = vec![b"a".to_vec(), Vec::new(), b"hello world".to_vec()];
    let wire: Vec<u8> = messages
        .iter()
        .flat_map(|m| encode_frame(m).to_vec())
        .collect();
    let want: Vec<Bytes> = messages.iter().map(|m| Bytes::copy_from_slice(m)).collect();
    assert_eq!(decode(&wire, &[], &[]), want);
    for cut in 0..=wire.len() {
        assert_eq!(decode(&wire, &[cut], &[true, false]), want, "cut at {cut}");
        assert_eq!(decode(&wire, &[cut], &[false, true]), want, "cut at {cut}");
    }
    let config = Config {
        cases: 256,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]));
    let strategy = (
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 1..6),
        prop::collection::vec(0usize..400, 0..8),
        prop::collection::vec(any::<bool>(), 0..9),
    );
    runner
        .run(&strategy, |(messages, cuts, zero_copy)| {
            let wire: Vec<u8> = messages
                .iter()
                .flat_map(|m| encode_frame(m).to_vec())
                .collect();
            let want: Vec<Bytes> = messages.iter().map(|m| Bytes::copy_from_slice(m)).collect();
            prop_assert_eq!(decode(&wire, &cuts, &zero_copy), want);
            Ok(())
        })
        .unwrap();
}
