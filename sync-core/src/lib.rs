//! gridsync-core: the heart of gridsync.
//!
//! - [`household`], [`grid`], [`issue`]: the records people edit, each an
//!   Automerge document with a typed API (issue reports carry their
//!   closed-loop workflow as an append-only event map);
//! - [`contact`]: what 楼栋长/单元长 record at the door, and the masked
//!   roster of their building they record it from;
//! - [`codes`], [`id_number`]: the national standard code tables and the
//!   citizen ID number, used to validate what is typed;
//! - [`doc`]: what all documents share (authorship, conflicts, history);
//! - [`store`]: the device's SQLite store, its outbox and projections.
//!
//! This crate knows nothing of HTTP servers, UniFFI or any UI.

pub mod clock;
pub mod codes;
pub mod contact;
pub mod demo;
pub mod doc;
mod error;
pub mod grid;
pub mod household;
pub mod id_number;
pub mod issue;
pub mod shape;
pub mod store;
pub mod sync;
pub mod tagset;

pub use error::{Error, Reason, Result};
pub use store::ledger::HouseholdFields;
pub use store::{Applied, Durability, Listing, OpenOptions, OutboxEntry, PulledDoc, Store};
