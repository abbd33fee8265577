//! SplitMix64: the one mixing step every seeded choice of the crate draws
//! from (fault schedules and jitter, the contract suite's proptest seeds),
//! so that a seed means the same everywhere and on every platform.

/// One SplitMix64 step: a well-mixed 64-bit value from any 64-bit value.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}
