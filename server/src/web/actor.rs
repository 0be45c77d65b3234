//! The server editing documents on a person's behalf, as a phone would:
//! the documents are loaded into a throwaway in-memory device store
//! (sync-core's [`Store`]) signed in as that person, the core's own
//! operation runs there (resolve a conflict, merge or dismiss duplicates),
//! and the changes it made are pushed through [`DocStore::push`] with the
//! person's [`Guard`] and the server's validation — the path every phone's
//! push takes. Phones receive the result on their next sync.
//!
//! [`DocStore::push`]: crate::store::DocStore::push
//! [`Guard`]: crate::scope::Guard

use gridsync_core::doc::Author;
use gridsync_core::{OpenOptions, Store};

use super::{WebError, WebResult};
use crate::principal::Principal;
use crate::state::AppState;
use crate::store::IncomingChange;

/// Load `docs` into a device store signed in as `p`, run `f` on it, push
/// what it changed as `p`. The refusal (in Chinese) if the server refuses.
pub async fn edit_as<T, F>(state: &AppState, p: &Principal, docs: &[String], f: F) -> WebResult<T>
where
    F: FnOnce(&mut Store) -> gridsync_core::Result<T> + Send + 'static,
    T: Send + 'static,
{
    let mut loaded = Vec::with_capacity(docs.len());
    for id in docs {
        let bytes = state.docs.load(id).await?.ok_or(WebError::NotFound)?;
        loaded.push((id.clone(), bytes));
    }
    let author = Author {
        user: p.user_id.clone(),
        role: p.role.code().to_owned(),
    };
    let (value, changes) = tokio::task::spawn_blocking(move || {
        let mut device = Store::open_in_memory(OpenOptions::default())?;
        device.set_author(author)?;
        for (id, bytes) in &loaded {
            device.apply_remote(id, std::slice::from_ref(bytes))?;
        }
        let value = f(&mut device)?;
        let changes: Vec<IncomingChange> = device
            .outbox(usize::MAX >> 1)?
            .into_iter()
            .map(|e| IncomingChange {
                doc_id: e.doc_id,
                data: e.data,
            })
            .collect();
        Ok::<_, gridsync_core::Error>((value, changes))
    })
    .await?
    .map_err(|e| match e {
        gridsync_core::Error::Invalid { reason, .. } => WebError::Bad(reason.zh),
        other => WebError::Bad(format!("无法完成：{}", core_error_zh(&other))),
    })?;
    if changes.is_empty() {
        return Ok(value);
    }
    let guard = crate::scope::Guard::new(p.clone(), crate::sync::validate::document);
    let outcome = state
        .docs
        .push(changes, Some(p.user_id.clone()), None, Box::new(guard))
        .await?;
    if let Some(r) = outcome.rejected.first() {
        let zh = r.refusal.reason.split(" / ").next().unwrap_or("操作被拒绝");
        return Err(WebError::Bad(zh.to_owned()));
    }
    Ok(value)
}

fn core_error_zh(e: &gridsync_core::Error) -> &'static str {
    match e {
        gridsync_core::Error::NotFound { .. } | gridsync_core::Error::Merged { .. } => {
            "记录不存在或已被合并"
        }
        _ => "记录状态已变化，请刷新后重试",
    }
}
