//! `TagSet`: a set of short codes stored as an Automerge map `{code: true}`.
//!
//! A map, not a list, so that two phones adding tags at the same time merge by
//! union and removing a tag is a delete of its key: no duplicates, no order
//! fights. Unknown codes (written by a newer app) are kept, never dropped.

use std::collections::BTreeSet;

use autosurgeon::reconcile::{MapReconciler, NoKey};
use autosurgeon::{Hydrate, HydrateError, ReadDoc, Reconcile, Reconciler};
use serde::{Deserialize, Serialize};

/// A set of tag codes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TagSet(pub BTreeSet<String>);

impl TagSet {
    /// The set of the given codes.
    pub fn of<I: IntoIterator<Item = S>, S: Into<String>>(codes: I) -> Self {
        Self(codes.into_iter().map(Into::into).collect())
    }
    /// Whether `code` is in the set.
    pub fn contains(&self, code: &str) -> bool {
        self.0.contains(code)
    }
    /// Add a code.
    pub fn insert(&mut self, code: impl Into<String>) -> bool {
        self.0.insert(code.into())
    }
    /// Remove a code.
    pub fn remove(&mut self, code: &str) -> bool {
        self.0.remove(code)
    }
    /// The codes, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Reconcile for TagSet {
    type Key<'a> = NoKey;

    fn reconcile<R: Reconciler>(&self, mut reconciler: R) -> Result<(), R::Error> {
        let mut m = reconciler.map()?;
        let stale: Vec<String> = m
            .entries()
            .map(|(k, _)| k.to_string())
            .filter(|k| !self.0.contains(k))
            .collect();
        for k in stale {
            m.delete(&k)?;
        }
        for code in &self.0 {
            if m.entry(code).is_none() {
                m.put(code, true)?;
            }
        }
        Ok(())
    }
}

impl Hydrate for TagSet {
    fn hydrate_map<D: ReadDoc>(doc: &D, obj: &automerge::ObjId) -> Result<Self, HydrateError> {
        Ok(Self(
            doc.map_range(obj, ..)
                .map(|item| item.key.into_owned())
                .collect(),
        ))
    }
}
