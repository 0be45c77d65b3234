//! Fuzz target: The cursors a device sends: bare numbers or {base, cursor} positions.
//! The checks live in `gridsync_server::fuzzing::cursors`, which the corpus
//! regression test (server/tests/fuzz_corpus.rs) calls too.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(violation) = gridsync_server::fuzzing::cursors(data) {
        panic!("{violation}");
    }
});
