//! Fuzz target: A phone importing pulled ledger documents (sync-core's Store::apply_pulled) and listing them.
//! The checks live in `gridsync_server::fuzzing::ledger_import`, which the corpus
//! regression test (server/tests/fuzz_corpus.rs) calls too.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Err(violation) = gridsync_server::fuzzing::ledger_import(data) {
        panic!("{violation}");
    }
});
