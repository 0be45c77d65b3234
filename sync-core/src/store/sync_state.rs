//! What the store keeps for sync: the feed cursors, changes the server
//! refused, and purging what this device may no longer hold.

use std::collections::{BTreeMap, HashSet};

use automerge::{Automerge, Change, ChangeHash};
use rusqlite::params;
use serde::{Deserialize, Serialize};

use super::{Store, meta_get, meta_set};
use crate::{Error, Reason, Result, doc};

const CURSORS: &str = "sync.cursors";

/// A local change the server refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedChange {
    /// Change hash, hex.
    pub hash: String,
    /// Its document.
    pub doc_id: String,
    /// The server's code (`out_of_scope`, `role_forbids`, …).
    pub code: String,
    /// The server's reason, for the person.
    pub reason: String,
    /// When it was refused (ms).
    pub at: i64,
}

impl Store {
    /// The feed cursors: feed name → the position the server last gave
    /// (opaque to the device; sent back as is).
    pub fn cursors(&self) -> Result<BTreeMap<String, serde_json::Value>> {
        Ok(match meta_get(&self.conn, CURSORS)? {
            Some(json) => serde_json::from_str(&json).unwrap_or_default(),
            None => BTreeMap::new(),
        })
    }

    /// Replace the feed cursors (inside the write that stored the page).
    pub(crate) fn set_cursors(
        &mut self,
        cursors: &BTreeMap<String, serde_json::Value>,
    ) -> Result<()> {
        let json = serde_json::to_string(cursors).map_err(|e| Error::Shape(e.to_string()))?;
        meta_set(&self.conn, CURSORS, &json)
    }

    /// Delete documents from this device: the documents, their unsent
    /// changes and their list rows. Returns how many were here.
    pub fn purge(&mut self, ids: &[String]) -> Result<usize> {
        self.write(|s| {
            let mut n = 0;
            for id in ids {
                for sql in [
                    "DELETE FROM chunks WHERE doc_id = ?1",
                    "DELETE FROM outbox WHERE doc_id = ?1",
                    "DELETE FROM rejected WHERE doc_id = ?1",
                    "DELETE FROM p_grids WHERE doc_id = ?1",
                    "DELETE FROM p_households WHERE doc_id = ?1",
                    "DELETE FROM p_residents WHERE doc_id = ?1",
                    "DELETE FROM p_resident_tags WHERE doc_id = ?1",
                    "DELETE FROM p_visits WHERE doc_id = ?1",
                    "DELETE FROM p_distinct WHERE doc_id = ?1",
                    "DELETE FROM p_pending WHERE doc_id = ?1",
                ] {
                    s.conn.prepare_cached(sql)?.execute([id])?;
                }
                n += s
                    .conn
                    .prepare_cached("DELETE FROM docs WHERE id = ?1")?
                    .execute([id])?;
                s.cache.pop(id);
                if let Some(w) = s.write.as_mut() {
                    w.dirty.remove(id);
                    w.touched.remove(id);
                }
            }
            Ok(n)
        })
    }

    /// Delete everything this device holds (a revoked device).
    pub fn purge_all(&mut self) -> Result<usize> {
        let ids: Vec<String> = self.documents()?.into_iter().map(|(id, _, _)| id).collect();
        let n = self.purge(&ids)?;
        self.write(|s| {
            s.conn
                .execute("DELETE FROM meta WHERE key = ?1", [CURSORS])?;
            Ok(())
        })?;
        Ok(n)
    }

    /// Documents readable through none of `feeds` (`g:<grid>`, `h:<holder>`)
    /// and with nothing waiting to be pushed.
    pub fn uncovered_docs(&self, feeds: &[String]) -> Result<Vec<String>> {
        self.catch_up()?;
        let feeds: HashSet<&str> = feeds.iter().map(String::as_str).collect();
        let mut stmt = self.conn.prepare_cached(
            "SELECT d.id, d.scope, h.holder FROM docs d LEFT JOIN p_households h ON h.doc_id = d.id
             WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.doc_id = d.id)",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, scope, holder) = row?;
            let by_grid = feeds.contains(format!("g:{scope}").as_str());
            let by_holder = holder.is_some_and(|h| feeds.contains(format!("h:{h}").as_str()));
            if !by_grid && !by_holder {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// The server stored these pushed outbox entries (by outbox seq) and
    /// refused the others listed in `refused` (seq, code, reason).
    pub(crate) fn settle_push(
        &mut self,
        pushed: &[i64],
        refused: &[(i64, String, String)],
    ) -> Result<()> {
        let now = self.clock.now_ms();
        self.write(|s| {
            for (seq, code, reason) in refused {
                s.conn
                    .prepare_cached(
                        "INSERT OR REPLACE INTO rejected (hash, doc_id, code, reason, data, at)
                         SELECT hash, doc_id, ?2, ?3, data, ?4 FROM outbox WHERE seq = ?1",
                    )?
                    .execute(params![seq, code, reason, now])?;
            }
            let mut seqs = pushed.to_vec();
            seqs.sort_unstable();
            seqs.dedup();
            if let (Some(&first), Some(&last)) = (seqs.first(), seqs.last())
                && usize::try_from(last - first + 1).is_ok_and(|n| n == seqs.len())
            {
                let others: bool = s
                    .conn
                    .prepare_cached(
                        "SELECT EXISTS (SELECT 1 FROM outbox WHERE seq < ?1)
                             OR EXISTS (SELECT 1 FROM outbox WHERE seq > ?2)",
                    )?
                    .query_row([first, last], |r| r.get(0))?;
                if !others {
                    // The push settled a whole run and the outbox holds
                    // nothing outside it: empty the outbox in one go, which
                    // SQLite does without visiting the rows (a grid's 5,530
                    // changes: 6 ms a run at a time, 1.3 ms this way).
                    s.conn.prepare_cached("DELETE FROM outbox")?.execute([])?;
                    return Ok(());
                }
            }
            // Otherwise a push settles long runs of consecutive entries:
            // delete them a run at a time rather than row by row.
            for run in seqs.chunk_by(|a, b| b - a == 1) {
                if let (Some(first), Some(last)) = (run.first(), run.last()) {
                    s.conn
                        .prepare_cached("DELETE FROM outbox WHERE seq BETWEEN ?1 AND ?2")?
                        .execute([first, last])?;
                }
            }
            Ok(())
        })
    }

    /// Local changes the server refused, newest first.
    pub fn rejected_changes(&self) -> Result<Vec<RejectedChange>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT hash, doc_id, code, reason, at FROM rejected ORDER BY at DESC, doc_id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(RejectedChange {
                    hash: hex::encode(r.get::<_, Vec<u8>>(0)?),
                    doc_id: r.get(1)?,
                    code: r.get(2)?,
                    reason: r.get(3)?,
                    at: r.get(4)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Undo the refused changes of a document on this device, so the phone
    /// agrees with the server again. The document is rebuilt without them,
    /// and the local edits made after them (which the server could not take
    /// either, as they depend on them) are replayed as new changes, so only
    /// what was refused is lost. A document whose creation was refused is
    /// removed. Returns the number of changes discarded.
    ///
    /// A compensating change written on top would not do: it would depend
    /// on the refused change, so the server could never accept it.
    pub fn discard_rejected(&mut self, doc_id: &str) -> Result<usize> {
        let refused: HashSet<ChangeHash> = self
            .rejected_changes()?
            .into_iter()
            .filter(|r| r.doc_id == doc_id)
            .filter_map(|r| r.hash.parse().ok())
            .collect();
        if refused.is_empty() {
            return Err(Reason::new(
                "该记录没有被拒绝的修改",
                "no refused changes for this document",
            )
            .on("doc_id"));
        }
        let pending: Vec<(i64, Vec<u8>)> = self
            .conn
            .prepare_cached("SELECT seq, data FROM outbox WHERE doc_id = ?1 ORDER BY seq")?
            .query_map([doc_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let original = self.with_doc(doc_id, |d| Ok(d.clone()))?;

        // Everything that depends on a refused change goes too.
        let mut tainted: HashSet<ChangeHash> = refused.clone();
        let mut replay: Vec<Change> = Vec::new();
        for (_, data) in &pending {
            let change =
                Change::from_bytes(data.clone()).map_err(|e| Error::Shape(e.to_string()))?;
            if change.deps().iter().any(|d| tainted.contains(d)) || tainted.contains(&change.hash())
            {
                tainted.insert(change.hash());
                if !refused.contains(&change.hash()) {
                    replay.push(change);
                }
            }
        }
        let keep: Vec<Change> = original
            .get_changes(&[])
            .into_iter()
            .filter(|c| !tainted.contains(&c.hash()))
            .collect();
        let discarded = refused.len();
        if keep.is_empty() {
            self.purge(&[doc_id.to_string()])?;
            return Ok(discarded);
        }
        let mut base = Automerge::new().with_actor(self.actor.clone());
        base.apply_changes(keep)?;
        let options = self.commit_options("replay_after_refusal");
        let mut new_changes = Vec::new();
        for change in &replay {
            let before = doc::to_json(&original, Some(change.deps()));
            let after = doc::to_json(&original, Some(&[change.hash()]));
            let opts = automerge::transaction::CommitOptions {
                message: options.message.clone(),
                time: options.time,
            };
            let result = base
                .transact_with(
                    |_| opts,
                    |tx| doc::write_diff(tx, &automerge::ROOT, &before, &after),
                )
                .map_err(|f| f.error)?;
            if let Some(hash) = result.hash {
                new_changes.push(hash);
            }
        }
        self.write(|s| {
            let snapshot = base.save();
            s.conn
                .prepare_cached("UPDATE docs SET snapshot = ?2, loose = 0 WHERE id = ?1")?
                .execute(params![doc_id, snapshot])?;
            s.conn
                .prepare_cached("DELETE FROM chunks WHERE doc_id = ?1")?
                .execute([doc_id])?;
            for (seq, data) in &pending {
                let hash = Change::from_bytes(data.clone()).map(|c| c.hash());
                if hash.is_ok_and(|h| tainted.contains(&h)) {
                    s.conn
                        .prepare_cached("DELETE FROM outbox WHERE seq = ?1")?
                        .execute([seq])?;
                }
            }
            for hash in &refused {
                s.conn
                    .prepare_cached("DELETE FROM rejected WHERE hash = ?1")?
                    .execute([hash.as_ref()])?;
            }
            for hash in &new_changes {
                s.push_outbox(&base, doc_id, *hash)?;
            }
            s.cache.pop(doc_id);
            s.touch(doc_id);
            Ok(())
        })?;
        Ok(discarded)
    }
}

#[cfg(test)]
mod tests {
    use crate::grid::NewGrid;
    use crate::{OpenOptions, Result, Store};

    fn seqs(s: &Store) -> Result<Vec<i64>> {
        Ok(s.outbox(100)?.iter().map(|e| e.seq).collect())
    }

    /// Settling removes exactly the settled entries: the whole outbox at
    /// once only when nothing else is in it.
    #[test]
    fn settling_keeps_every_entry_not_settled() -> Result<()> {
        let mut s = Store::open_in_memory(OpenOptions::default())?;
        s.create_grid(NewGrid {
            code: "110105001001001".into(),
            name: "网格".into(),
            community: "社区".into(),
            street: "街道".into(),
        })?;
        for b in ["1号楼", "2号楼", "3号楼"] {
            s.add_place("110105001001001", "", "小区", b, "1单元")?;
        }
        let all = seqs(&s)?;
        assert_eq!(all.len(), 4);
        let (a, b, c, d) = (all[0], all[1], all[2], all[3]);
        // A run in the middle: the entries around it stay.
        s.settle_push(&[b, c], &[])?;
        assert_eq!(seqs(&s)?, vec![a, d]);
        // A run with an entry after it (held back, say): that one stays.
        s.settle_push(&[a], &[])?;
        assert_eq!(seqs(&s)?, vec![d]);
        // All that is left: the outbox is emptied.
        s.settle_push(&[d], &[])?;
        assert!(seqs(&s)?.is_empty());
        // Numbering goes on after an emptied outbox.
        s.add_place("110105001001001", "", "小区", "4号楼", "1单元")?;
        assert!(seqs(&s)?[0] > d);
        Ok(())
    }
}
