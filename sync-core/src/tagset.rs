//! `TagSet`: a set of short codes stored as an Automerge map `{code: true}`.
//!
//! A map, not a list, so that two phones adding tags at the same time merge by
//! union and removing a tag is a delete of its key: no duplicates, no order
//! fights. Unknown codes (written by a newer app) are kept, never dropped.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize, Serializer};

/// A set of tag codes.
///
/// As JSON it is written in the document's form, `{"code": true, …}`, and
/// read from that or from an array of codes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(from = "TagSetRepr")]
pub struct TagSet(pub BTreeSet<String>);

#[derive(Deserialize)]
#[serde(untagged)]
enum TagSetRepr {
    List(BTreeSet<String>),
    Map(std::collections::BTreeMap<String, serde_json::Value>),
}

impl From<TagSetRepr> for TagSet {
    fn from(r: TagSetRepr) -> Self {
        match r {
            TagSetRepr::List(s) => Self(s),
            TagSetRepr::Map(m) => Self(m.into_keys().collect()),
        }
    }
}

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

impl Serialize for TagSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|code| (code, true)))
    }
}
