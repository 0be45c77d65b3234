//! gridsync-ffi: the phone SDK. UniFFI exports of gridsync-core for Kotlin
//! (Android) and Swift (iOS), generated from these proc-macros (no UDL).
//!
//! Thin wrappers only: [`Gridsync`] is the one object an app holds; it owns
//! a `gridsync_core::Store` behind a mutex and forwards each call to the
//! core. Records ([`records`]) are plain copies of the core's types, and
//! every core error becomes one flat [`GridsyncError`] in one place
//! ([`error`]). No business logic lives here.
//!
//! Threading: every method blocks (disk, and network for `login`/`sync`):
//! call it from a background thread (`Dispatchers.IO`, a Swift `Task` off
//! the main actor). The object is safe to share between threads; calls are
//! serialised by its mutex, which a sync holds for its local steps only,
//! never across a request (see `client.rs`). See
//! docs/adr/0004-ffi-and-threading.md.

uniffi::setup_scaffolding!();

mod client;
mod codes;
mod contacts;
mod error;
mod issues;
mod privacy;
mod records;

pub use client::{ChangeListener, Gridsync, SyncListener};
pub use codes::{Code, CodeTable, codes};
pub use contacts::*;
pub use error::GridsyncError;
pub use issues::*;
pub use privacy::RevealedResident;
pub use records::*;
