//! Server storage of documents and the change log, behind [`DocStore`].
use async_trait::async_trait;

/// Documents and the append-only change log.
#[async_trait]
pub trait DocStore: Send + Sync + 'static {}
