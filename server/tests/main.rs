//! Server integration tests: one binary, a module per area.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod auth;
mod blobs;
mod directory;
mod fuzz_corpus;
mod ledger_import;
mod openapi;
mod postgres;
mod process;
mod reports;
mod reveals;
mod rules;
mod store;
mod support;
mod territory;
mod web;
