//! Fuzz target: Pushed Automerge changes through decoding, applying and validation with the scope guard, by each role.
//! The checks live in `gridsync_server::fuzzing::push`, which the corpus
//! regression test (server/tests/fuzz_corpus.rs) calls too.

#![no_main]

libfuzzer_sys::fuzz_target!(
    // libfuzzer-sys aborts on every panic, even one the code under test
    // catches on purpose (push.rs catches Automerge's): report only those
    // that escape (they abort the process anyway).
    init: drop(std::panic::take_hook()),
    |data: &[u8]| {
        if let Err(violation) = gridsync_server::fuzzing::push(data) {
            panic!("{violation}");
        }
    }
);
