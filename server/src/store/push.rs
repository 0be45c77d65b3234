//! What to store of a push, decided without the database: shared by every
//! [`DocStore`](super::DocStore) implementation so they judge pushes
//! identically. Grouping by document, dropping changes already stored,
//! applying the rest to a copy and letting the guard judge it, and, when the
//! whole lot is refused, finding the changes at fault one by one.

use std::collections::{HashMap, HashSet};

use automerge::{Automerge, Change, ChangeHash, ReadDoc};

use super::{DocFacts, IncomingChange, Refusal, Rejected, WriteGuard};

/// A pushed change not yet decoded: its position in the push and its bytes.
pub(crate) type Raw = (usize, Vec<u8>);

/// The changes of a push grouped by document, in order of first
/// appearance, and the ones refused before any database work (a document
/// id that is not a UUID). The changes stay undecoded: each document's are
/// decoded where it is decided ([`decide_all`]), on all cores, next to the
/// Automerge work that reads them.
pub(crate) fn group(
    incoming: Vec<IncomingChange>,
    rejected: &mut Vec<Rejected>,
) -> Vec<(String, Vec<Raw>)> {
    let mut order: Vec<(String, Vec<Raw>)> = Vec::new();
    let mut position: HashMap<String, usize> = HashMap::new();
    for (index, c) in incoming.into_iter().enumerate() {
        // Phones send ids in canonical form: the common case keeps the
        // string it was given.
        let doc_id = match uuid::Uuid::parse_str(&c.doc_id) {
            Ok(id) if is_canonical(&id, &c.doc_id) => c.doc_id,
            Ok(id) => id.to_string(),
            Err(_) => {
                rejected.push(Rejected {
                    index,
                    doc: String::new(),
                    hash: None,
                    refusal: Refusal::new(
                        "invalid_change",
                        "文档编号不是有效的UUID / doc id is not a UUID",
                    ),
                });
                continue;
            }
        };
        let at = match position.get(&doc_id) {
            Some(at) => *at,
            None => {
                position.insert(doc_id.clone(), order.len());
                order.push((doc_id, Vec::new()));
                order.len() - 1
            }
        };
        if let Some((_, changes)) = order.get_mut(at) {
            changes.push((index, c.data));
        }
    }
    order
}

/// Whether `s` is how `id` is written canonically (compared through a
/// stack buffer, nothing allocated).
fn is_canonical(id: &uuid::Uuid, s: &str) -> bool {
    id.hyphenated()
        .encode_lower(&mut uuid::Uuid::encode_buffer())
        == s
}

/// One pushed change decoded (its hash checked), `None` if it is not an
/// Automerge change. Automerge 0.12 panics on some malformed ones instead
/// of answering an error (an out-of-range integer: `try_into().unwrap()`
/// in `types.rs`, found by the `push` fuzz target): those are not changes
/// either, not a 500.
pub(crate) fn decode_change(data: &[u8]) -> Option<Change> {
    std::panic::catch_unwind(|| Change::try_from(data).ok())
        .ok()
        .flatten()
}

/// Decode one document's pushed changes (checking each one's hash); the
/// ones that are not Automerge changes are refused.
fn decode(doc_id: &str, raw: &[Raw], rejected: &mut Vec<Rejected>) -> Vec<(usize, Change)> {
    let mut out = Vec::with_capacity(raw.len());
    for (index, data) in raw {
        match decode_change(data) {
            Some(change) => out.push((*index, change)),
            None => rejected.push(Rejected {
                index: *index,
                doc: doc_id.to_owned(),
                hash: None,
                refusal: Refusal::new(
                    "invalid_change",
                    "不是有效的Automerge变更 / not a valid Automerge change",
                ),
            }),
        }
    }
    out
}

/// A change to store: its position in the push, its hash and its bytes.
pub(crate) struct Accepted {
    pub(crate) index: usize,
    pub(crate) hash: ChangeHash,
    pub(crate) data: Vec<u8>,
}

impl Accepted {
    fn of(index: usize, change: &Change) -> Self {
        Accepted {
            index,
            hash: change.hash(),
            data: change.raw_bytes().to_vec(),
        }
    }
}

thread_local! {
    /// What a document new to the server was before the push.
    static EMPTY: Automerge = Automerge::new();
}

/// Apply `changes` to `doc`; `None` if some are not causally ready.
///
/// Automerge 0.12 panics on some malformed changes instead of answering an
/// error (the `push` fuzz target found six places in `op_set2/change/
/// batch.rs` and `change_graph.rs`, e.g. a change naming an actor it never
/// registered: `lookup_actor(..).unwrap()`); such a change is refused like
/// any invalid one, not a 500. The
/// document it panicked on is dropped: callers pass a copy, or an empty
/// document they do not keep.
fn applied(
    mut doc: Automerge,
    changes: Vec<Change>,
) -> Result<Option<Automerge>, automerge::AutomergeError> {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        doc.apply_changes(changes)?;
        let ready = doc.get_missing_deps(&[]).is_empty();
        Ok::<_, automerge::AutomergeError>(ready.then_some(doc))
    }));
    outcome.unwrap_or(Err(automerge::AutomergeError::Fail))
}

/// The decision on one pushed document.
pub(crate) struct Decision {
    /// The document after the accepted changes.
    pub(crate) working: Automerge,
    /// Changes to store, in push order.
    pub(crate) accepted: Vec<Accepted>,
    /// The document's facts after them (`None` if nothing passed).
    pub(crate) facts: Option<DocFacts>,
    /// Changes refused.
    pub(crate) rejected: Vec<Rejected>,
    /// Changes already stored (or repeated in this push).
    pub(crate) duplicates: usize,
}

/// Decide on the pushed `changes` of document `doc_id`, now `working`
/// (with facts `before`, `None` if new to the server).
pub(crate) fn decide(
    doc_id: &str,
    working: Automerge,
    before: Option<&DocFacts>,
    changes: Vec<(usize, Change)>,
    guard: &dyn WriteGuard,
) -> Decision {
    // Drop changes already stored (an earlier push was interrupted after
    // storing them) and repeats within this push.
    let mut duplicates = 0;
    let mut seen: HashSet<ChangeHash> = HashSet::new();
    let mut fresh: Vec<(usize, Change)> = Vec::new();
    for (index, change) in changes {
        let hash = change.hash();
        if working.get_change_meta_by_hash(&hash).is_some() || !seen.insert(hash) {
            duplicates += 1;
        } else {
            fresh.push((index, change));
        }
    }
    if fresh.is_empty() {
        return Decision {
            working,
            accepted: Vec::new(),
            facts: None,
            rejected: Vec::new(),
            duplicates,
        };
    }
    // Each change on its own first (its size and author), before any is
    // applied.
    let admitted: Vec<Result<String, Refusal>> =
        fresh.iter().map(|(_, c)| guard.admit(c)).collect();
    // The common case: all of it is fine. A document new to the server is
    // empty: the changes are applied to it rather than to a copy. The
    // changes themselves go into Automerge; what is stored of them is kept
    // aside (cheaper than cloning them).
    let accepted: Vec<Accepted> = fresh.iter().map(|(i, c)| Accepted::of(*i, c)).collect();
    let all: Vec<Change> = fresh.into_iter().map(|(_, c)| c).collect();
    let (base, kept) = if before.is_none() && working.get_heads().is_empty() {
        (working, None)
    } else {
        (working.clone(), Some(working))
    };
    let ops: Option<Vec<String>> = admitted.iter().map(|a| a.as_ref().ok().cloned()).collect();
    if let Some(ops) = ops
        && let Ok(Some(candidate)) = applied(base, all)
    {
        let bytes: Vec<&[u8]> = accepted.iter().map(|a| a.data.as_slice()).collect();
        let check = match &kept {
            Some(w) => guard.check(doc_id, before, w, &candidate, &ops, &bytes),
            None => {
                EMPTY.with(|empty| guard.check(doc_id, before, empty, &candidate, &ops, &bytes))
            }
        };
        if let Ok(f) = check {
            return Decision {
                working: candidate,
                accepted,
                facts: Some(f),
                rejected: Vec::new(),
                duplicates,
            };
        }
    }
    // Some change is at fault: decode them again (they were valid) and
    // find which, one by one.
    let fresh: Vec<(usize, Change, Result<String, Refusal>)> = accepted
        .into_iter()
        .zip(admitted)
        .filter_map(|(a, admit)| {
            Change::try_from(a.data.as_slice())
                .ok()
                .map(|c| (a.index, c, admit))
        })
        .collect();
    let mut working = kept.unwrap_or_default();
    let mut decision = Decision {
        working: Automerge::new(),
        accepted: Vec::new(),
        facts: None,
        rejected: Vec::new(),
        duplicates,
    };
    let mut refused: HashSet<ChangeHash> = HashSet::new();
    for (index, change, admit) in fresh {
        let hash = change.hash();
        let reject = |refusal: Refusal| Rejected {
            index,
            doc: doc_id.to_owned(),
            hash: Some(hash.to_string()),
            refusal,
        };
        if change.deps().iter().any(|d| refused.contains(d)) {
            refused.insert(hash);
            decision.rejected.push(reject(Refusal::new(
                "depends_on_refused",
                "依赖于被拒绝的修改 / depends on a refused change",
            )));
            continue;
        }
        let op = match admit {
            Ok(op) => op,
            Err(refusal) => {
                refused.insert(hash);
                decision.rejected.push(reject(refusal));
                continue;
            }
        };
        match applied(working.clone(), vec![change.clone()]) {
            Ok(Some(candidate)) => {
                let current = decision.facts.as_ref().or(before);
                match guard.check(
                    doc_id,
                    current,
                    &working,
                    &candidate,
                    &[op],
                    &[change.raw_bytes()],
                ) {
                    Ok(f) => {
                        working = candidate;
                        decision.facts = Some(f);
                        decision.accepted.push(Accepted::of(index, &change));
                    }
                    Err(refusal) => {
                        refused.insert(hash);
                        decision.rejected.push(reject(refusal));
                    }
                }
            }
            Ok(None) => decision.rejected.push(reject(Refusal::new(
                "missing_dependencies",
                "缺少前序修改，请先同步之前的修改 / earlier changes it depends on are missing",
            ))),
            Err(_) => {
                refused.insert(hash);
                decision.rejected.push(reject(Refusal::new(
                    "invalid_change",
                    "不是有效的Automerge变更 / not a valid Automerge change",
                )));
            }
        }
    }
    decision.working = working;
    decision
}

/// A pushed document as read before the store's write lock: what it was
/// then, and the changes pushed to it.
pub(crate) struct Planned {
    pub(crate) doc_id: String,
    /// Its facts then (`None`: new to the server).
    pub(crate) facts: Option<DocFacts>,
    /// Its `last_seq` then.
    pub(crate) seq: Option<i64>,
    /// The document then.
    pub(crate) working: Automerge,
    /// The changes pushed to it, undecoded.
    pub(crate) changes: Vec<Raw>,
}

/// A decision made before the write lock, valid while the document is
/// still at the version it was made on.
pub(crate) struct Early {
    pub(crate) doc_id: String,
    seq: Option<i64>,
    decision: Decision,
    redo: Redo,
}

/// What is needed to decide on a document again: its pushed changes.
pub(crate) struct Redo(Vec<Raw>);

impl Redo {
    /// Decide again on the document, now `working` with facts `before`.
    pub(crate) fn decide(
        self,
        doc_id: &str,
        working: Automerge,
        before: Option<&DocFacts>,
        guard: &dyn WriteGuard,
    ) -> Decision {
        let mut undecodable = Vec::new();
        let changes = decode(doc_id, &self.0, &mut undecodable);
        let mut d = decide(doc_id, working, before, changes, guard);
        d.rejected.extend(undecodable);
        d
    }
}

impl Early {
    /// The changes it decided to store.
    pub(crate) fn accepted(&self) -> &[Accepted] {
        &self.decision.accepted
    }

    /// Whether the document was new to the server when decided on.
    pub(crate) fn was_new(&self) -> bool {
        self.seq.is_none()
    }

    /// The decision, if the document's `last_seq` under the lock is still
    /// the one decided on; otherwise what is needed to decide again.
    pub(crate) fn confirm(self, seq_now: Option<i64>) -> Result<Decision, Redo> {
        if seq_now == self.seq {
            Ok(self.decision)
        } else {
            Err(self.redo)
        }
    }
}

/// Decide on every planned document, on all cores when there are many
/// (the Automerge work and the validation; no database). Both stores run
/// this before taking their write lock, so pushes serialize on storing
/// alone, and confirm each decision under the lock ([`Early::confirm`]).
pub(crate) fn decide_all(planned: Vec<Planned>, guard: &dyn WriteGuard) -> Vec<Early> {
    let one = |p: Planned| {
        let mut undecodable = Vec::new();
        let changes = decode(&p.doc_id, &p.changes, &mut undecodable);
        let mut decision = decide(&p.doc_id, p.working, p.facts.as_ref(), changes, guard);
        decision.rejected.extend(undecodable);
        Early {
            decision,
            doc_id: p.doc_id,
            seq: p.seq,
            redo: Redo(p.changes),
        }
    };
    if planned.len() < 16 {
        planned.into_iter().map(one).collect()
    } else {
        use rayon::prelude::*;
        planned.into_par_iter().map(one).collect()
    }
}
