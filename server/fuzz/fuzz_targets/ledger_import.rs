//! Fuzz target: A phone importing pulled ledger documents (sync-core's Store::apply_pulled) and listing them.
//! The checks live in `gridsync_server::fuzzing::ledger_import`, which the corpus
//! regression test (server/tests/fuzz_corpus.rs) calls too.

#![no_main]

libfuzzer_sys::fuzz_target!(
    // libfuzzer-sys aborts on every panic, even one the code under test
    // catches on purpose (push.rs catches Automerge's): report only those
    // that escape (they abort the process anyway).
    init: drop(std::panic::take_hook()),
    |data: &[u8]| {
        if let Err(violation) = gridsync_server::fuzzing::ledger_import(data) {
            panic!("{violation}");
        }
    }
);
