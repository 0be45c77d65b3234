//! What the store keeps for sync: the feed cursors, changes the server
//! refused, and purging what this device may no longer hold.

use std::collections::{BTreeMap, HashSet};

use automerge::{Automerge, Change, ChangeHash};
use rusqlite::{OptionalExtension as _, params};
use serde::{Deserialize, Serialize};

use super::{Store, meta_get, meta_set};
use crate::{Error, Reason, Result, doc};

const CURSORS: &str = "sync.cursors";
const LOG: &str = "sync.log";
/// Where the measured clock offset is kept.
pub(crate) const CLOCK_OFFSET: &str = "sync.clock_offset_ms";
const DEPENDS_ON_REFUSED: &str = "depends_on_refused";

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
    /// What the change did (`add_visit`, `edit_household`, …), from its
    /// note; empty if it has none.
    pub op: String,
    /// What the change did, for the worker, in Chinese ([`op_name`]).
    pub what: String,
    /// What the worker can do about it, in Chinese then English.
    pub advice: String,
}

/// What a change with note `op` did, in Chinese, for the worker (the
/// core's [`Op`](crate::codes::Op) table); the code itself when unknown.
/// An issue reported before `report_issue` was the op said `report`.
pub fn op_name(op: &str) -> String {
    let op = if op == "report" { "report_issue" } else { op };
    crate::codes::Op::from_code(op).map_or_else(|_| op.to_string(), |o| o.name_zh().to_string())
}

/// What a worker can do about a change refused with `code`.
pub fn refusal_advice(code: &str) -> &'static str {
    match code {
        "invalid_document" => {
            "内容不符合规则（如日期晚于今天，请先核对手机时间）：改正后重新录入，或放弃这条修改 / \
             the record breaks a rule (e.g. a date after today: check the phone's clock): \
             enter it again corrected, or discard this change"
        }
        "out_of_scope" => {
            "该记录不在您负责的范围内：请放弃这条修改，需要时请有权限的人员录入 / \
             the record is outside your grids or households: discard this change"
        }
        "role_forbids" => {
            "您的角色不能进行这项操作：请放弃这条修改，交由有权限的人员处理 / \
             your role may not do this: discard this change and ask whoever may"
        }
        "depends_on_refused" => {
            "依赖于被拒绝的修改：放弃那条修改后会自动重新提交 / \
             depends on a refused change: it is sent again once that one is discarded"
        }
        _ => "请放弃这条修改，需要时重新录入 / discard this change, and enter it again if needed",
    }
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
            "SELECT hash, doc_id, code, reason, at, data FROM rejected ORDER BY at DESC, doc_id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                let code: String = r.get(2)?;
                let op = Change::from_bytes(r.get::<_, Vec<u8>>(5)?)
                    .ok()
                    .and_then(|c| doc::ChangeNote::parse(c.message()))
                    .map(|n| n.op)
                    .unwrap_or_default();
                Ok(RejectedChange {
                    hash: hex::encode(r.get::<_, Vec<u8>>(0)?),
                    doc_id: r.get(1)?,
                    advice: refusal_advice(&code).to_string(),
                    what: op_name(&op),
                    code,
                    reason: r.get(3)?,
                    at: r.get(4)?,
                    op,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Set the refused changes of a document aside, so they block nothing:
    /// the document is rebuilt without them, and the local edits made
    /// after them (which the server could not take, as they depend on
    /// them) are made again as new changes that do not, and go out with
    /// the next push. The refused changes stay listed (with their reason)
    /// until a person discards them; the document keeps only what the
    /// server can take. A document whose creation was refused is left as
    /// it is (nothing of it can reach the server) until it is discarded.
    /// Returns the number of changes set aside.
    ///
    /// A compensating change written on top would not do: it would depend
    /// on the refused change, so the server could never accept it.
    pub fn set_aside_refused(&mut self, doc_id: &str) -> Result<usize> {
        let rows: Vec<(Vec<u8>, String)> = self
            .conn
            .prepare_cached("SELECT hash, code FROM rejected WHERE doc_id = ?1")?
            .query_map([doc_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let exists: bool = self
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM docs WHERE id = ?1)")?
            .query_row([doc_id], |r| r.get(0))?;
        if rows.is_empty() || !exists {
            return Ok(0);
        }
        let original = self.with_doc(doc_id, |d| Ok(d.clone()))?;
        // The refusals proper; a change refused only for depending on one
        // of them is the person's valid edit: it is made again.
        let refused: HashSet<ChangeHash> = rows
            .iter()
            .filter(|(_, code)| code != DEPENDS_ON_REFUSED)
            .filter_map(|(h, _)| ChangeHash::try_from(h.as_slice()).ok())
            .filter(|h| original.get_change_meta_by_hash(h).is_some())
            .collect();
        if refused.is_empty() {
            return Ok(0);
        }
        let all = original.get_changes(&[]);
        let mut tainted: HashSet<ChangeHash> = HashSet::new();
        let mut keep = Vec::new();
        let mut replay = Vec::new();
        for change in all {
            let hash = change.hash();
            if refused.contains(&hash) || change.deps().iter().any(|d| tainted.contains(d)) {
                tainted.insert(hash);
                if !refused.contains(&hash) {
                    replay.push(change);
                }
            } else {
                keep.push(change);
            }
        }
        if keep.is_empty() {
            return Ok(0);
        }
        let mut base = Automerge::new().with_actor(self.actor.clone());
        base.apply_changes(keep)?;
        let mut new_changes = Vec::new();
        for change in &replay {
            // Only what this change did: keys it left as they were are
            // not written (a nested object the refused change added would
            // otherwise be written again whole).
            let (before, after) = only_changed(
                &doc::to_json(&original, Some(change.deps())),
                &doc::to_json(&original, Some(&[change.hash()])),
            );
            let opts = automerge::transaction::CommitOptions {
                message: change.message().map(str::to_string),
                time: Some(change.timestamp()),
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
            for hash in &tainted {
                s.conn
                    .prepare_cached("DELETE FROM outbox WHERE doc_id = ?1 AND hash = ?2")?
                    .execute(params![doc_id, hash.as_ref()])?;
                if !refused.contains(hash) {
                    s.conn
                        .prepare_cached("DELETE FROM rejected WHERE hash = ?1")?
                        .execute([hash.as_ref()])?;
                }
            }
            for hash in &new_changes {
                s.push_outbox(&base, doc_id, *hash)?;
            }
            s.cache.pop(doc_id);
            s.touch(doc_id);
            Ok(())
        })?;
        Ok(refused.len())
    }

    /// Discard the refused changes of a document on this device, so the
    /// phone agrees with the server again: they are set aside
    /// ([`Store::set_aside_refused`]) if they were not already, and no
    /// longer listed. Every later valid edit is kept and pushed. A
    /// document whose creation was refused is removed. Returns the number
    /// of changes discarded.
    pub fn discard_rejected(&mut self, doc_id: &str) -> Result<usize> {
        let listed = self
            .rejected_changes()?
            .into_iter()
            .filter(|r| r.doc_id == doc_id)
            .count();
        if listed == 0 {
            return Err(Reason::new(
                "该记录没有被拒绝的修改",
                "no refused changes for this document",
            )
            .on("doc_id"));
        }
        self.set_aside_refused(doc_id)?;
        // Still in the document: its creation was refused.
        let created_refused = self
            .rejected_hashes(doc_id)?
            .iter()
            .any(|h| self.has_change(doc_id, h).unwrap_or(false));
        if created_refused {
            self.purge(&[doc_id.to_string()])?;
            return Ok(listed);
        }
        self.write(|s| {
            s.conn
                .prepare_cached("DELETE FROM rejected WHERE doc_id = ?1")?
                .execute([doc_id])?;
            Ok(())
        })?;
        Ok(listed)
    }

    fn rejected_hashes(&self, doc_id: &str) -> Result<Vec<ChangeHash>> {
        Ok(self
            .conn
            .prepare_cached("SELECT hash FROM rejected WHERE doc_id = ?1")?
            .query_map([doc_id], |r| r.get::<_, Vec<u8>>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?
            .into_iter()
            .filter_map(|h| ChangeHash::try_from(h.as_slice()).ok())
            .collect())
    }

    fn has_change(&mut self, doc_id: &str, hash: &ChangeHash) -> Result<bool> {
        self.with_doc(doc_id, |d| Ok(d.get_change_meta_by_hash(hash).is_some()))
    }

    /// Where the server's change log stood in the last answer, as given
    /// (opaque here; sent back with the next sync).
    pub fn log_mark(&self) -> Result<Option<serde_json::Value>> {
        Ok(meta_get(&self.conn, LOG)?.and_then(|j| serde_json::from_str(&j).ok()))
    }

    /// Remember where the log stood (inside the write that stored the page).
    pub(crate) fn set_log_mark(&mut self, mark: &serde_json::Value) -> Result<()> {
        meta_set(&self.conn, LOG, &mark.to_string())
    }

    /// The server's clock minus this device's, ms, as the last sync
    /// measured it (`None`: never measured).
    pub fn clock_offset_ms(&self) -> Option<i64> {
        self.clock_offset_ms
    }

    /// Remember the measured clock offset: changes made from now on carry
    /// it in their note when it is more than a minute.
    pub(crate) fn set_clock_offset(&mut self, offset_ms: i64) -> Result<()> {
        meta_set(&self.conn, CLOCK_OFFSET, &offset_ms.to_string())?;
        self.clock_offset_ms = Some(offset_ms);
        Ok(())
    }

    /// Documents the server may lack changes of, with the server's heads
    /// when known ([`Store::heal_changes`]).
    pub fn heal_docs(&self) -> Result<Vec<(String, Option<Vec<String>>)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT doc_id, heads FROM heal ORDER BY doc_id")?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows
            .into_iter()
            .map(|(d, h)| (d, h.and_then(|h| serde_json::from_str(&h).ok())))
            .collect())
    }

    /// The server may lack changes of `doc_id`; `heads` are its heads, if
    /// it said.
    pub(crate) fn set_heal(&mut self, doc_id: &str, heads: Option<&[String]>) -> Result<()> {
        let heads = heads.map(|h| serde_json::Value::from(h.to_vec()).to_string());
        self.conn
            .prepare_cached("INSERT OR REPLACE INTO heal (doc_id, heads) VALUES (?1, ?2)")?
            .execute(params![doc_id, heads])?;
        Ok(())
    }

    /// The server has every change of `doc_id` this device can send.
    pub(crate) fn clear_heal(&mut self, doc_id: &str) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM heal WHERE doc_id = ?1")?
            .execute([doc_id])?;
        Ok(())
    }

    /// The server's log lost changes: it may lack any of this device's
    /// documents (their heads unknown).
    pub(crate) fn heal_all(&mut self) -> Result<()> {
        self.conn.execute(
            "INSERT OR REPLACE INTO heal (doc_id, heads) SELECT id, NULL FROM docs",
            [],
        )?;
        Ok(())
    }

    /// The changes of `doc_id` to push back to a server that may lack
    /// them, oldest first: this user's (`me`) changes after the server's
    /// `heads`; when the heads are not known, this user's latest change
    /// of each device, which the server either has (and with it all
    /// before) or answers with its heads. Other people's changes are left
    /// to their own phones (a server refuses a change pushed by anyone
    /// but its author), and so are refused changes and what depends on
    /// them.
    pub fn heal_changes(
        &mut self,
        doc_id: &str,
        heads: Option<&[String]>,
        me: &str,
    ) -> Result<Vec<(String, Vec<u8>)>> {
        let exists: bool = self
            .conn
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM docs WHERE id = ?1)")?
            .query_row([doc_id], |r| r.get(0))?;
        if !exists {
            return Ok(Vec::new());
        }
        let refused: HashSet<ChangeHash> = self.rejected_hashes(doc_id)?.into_iter().collect();
        self.with_doc(doc_id, |d| {
            let mine = |c: &Change| doc::ChangeNote::parse(c.message()).is_some_and(|n| n.by == me);
            let mut tainted: HashSet<ChangeHash> = HashSet::new();
            let mut clean = |c: &Change| {
                if refused.contains(&c.hash()) || c.deps().iter().any(|h| tainted.contains(h)) {
                    tainted.insert(c.hash());
                    false
                } else {
                    true
                }
            };
            let out: Vec<Change> = match heads {
                Some(heads) => {
                    // Heads this copy does not know yet are left out: what
                    // is sent is then more than needed, never less.
                    let known: Vec<ChangeHash> = heads
                        .iter()
                        .filter_map(|h| h.parse::<ChangeHash>().ok())
                        .filter(|h| d.get_change_meta_by_hash(h).is_some())
                        .collect();
                    let all = d.get_changes(&[]);
                    let after: HashSet<ChangeHash> =
                        d.get_changes(&known).iter().map(Change::hash).collect();
                    all.into_iter()
                        .filter(|c| clean(c) && after.contains(&c.hash()) && mine(c))
                        .collect()
                }
                None => {
                    let mut last: BTreeMap<Vec<u8>, Change> = BTreeMap::new();
                    for c in d.get_changes(&[]) {
                        if clean(&c) && mine(&c) {
                            last.insert(c.actor_id().to_bytes().to_vec(), c);
                        }
                    }
                    last.into_values().collect()
                }
            };
            Ok(out
                .into_iter()
                .map(|c| (c.hash().to_string(), c.raw_bytes().to_vec()))
                .collect())
        })
    }

    /// Changes of `doc_id` the server has now (pushed back from the
    /// document): any of them still in the outbox is settled too. Returns
    /// how many were.
    pub(crate) fn settle_by_hash(&mut self, doc_id: &str, hashes: &[String]) -> Result<usize> {
        self.write(|s| {
            let mut n = 0;
            for h in hashes {
                if let Ok(bytes) = hex::decode(h) {
                    n += s
                        .conn
                        .prepare_cached("DELETE FROM outbox WHERE doc_id = ?1 AND hash = ?2")?
                        .execute(params![doc_id, bytes])?;
                }
            }
            Ok(n)
        })
    }

    /// Record a change pushed back from a document that the server refused
    /// (not for missing dependencies): listed like a refused outbox change.
    pub(crate) fn record_refusal(
        &mut self,
        doc_id: &str,
        hash: &str,
        data: &[u8],
        code: &str,
        reason: &str,
    ) -> Result<()> {
        let now = self.clock.now_ms();
        let Ok(bytes) = hex::decode(hash) else {
            return Ok(());
        };
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO rejected (hash, doc_id, code, reason, data, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![bytes, doc_id, code, reason, data, now])?;
        Ok(())
    }

    /// When the oldest edit made here that the server does not have yet
    /// was made (ms, by this device's clock): waiting in the outbox or
    /// refused.
    pub fn oldest_unsynced_ms(&self) -> Result<Option<i64>> {
        let mut oldest: Option<i64> = None;
        let first: Option<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT data FROM outbox ORDER BY seq LIMIT 1")?
            .query_row([], |r| r.get(0))
            .optional()?;
        let refused: Vec<Vec<u8>> = self
            .conn
            .prepare_cached("SELECT data FROM rejected")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for data in first.into_iter().chain(refused) {
            if let Ok(c) = Change::from_bytes(data) {
                let t = c.timestamp().saturating_mul(1000);
                oldest = Some(oldest.map_or(t, |o| o.min(t)));
            }
        }
        Ok(oldest)
    }
}

/// The parts of `before` and `after` (document JSON) that differ: keys
/// equal in both are left out of both, nested objects compared key by key.
fn only_changed(
    before: &serde_json::Value,
    after: &serde_json::Value,
) -> (serde_json::Value, serde_json::Value) {
    use serde_json::Value as J;
    let (Some(b), Some(a)) = (before.as_object(), after.as_object()) else {
        return (before.clone(), after.clone());
    };
    let (mut ob, mut oa) = (serde_json::Map::new(), serde_json::Map::new());
    for (k, av) in a {
        match b.get(k) {
            Some(bv) if bv == av => {}
            Some(bv @ J::Object(_)) if av.is_object() => {
                let (nb, na) = only_changed(bv, av);
                ob.insert(k.clone(), nb);
                oa.insert(k.clone(), na);
            }
            Some(bv) => {
                ob.insert(k.clone(), bv.clone());
                oa.insert(k.clone(), av.clone());
            }
            None => {
                oa.insert(k.clone(), av.clone());
            }
        }
    }
    for (k, bv) in b {
        if !a.contains_key(k) {
            ob.insert(k.clone(), bv.clone());
        }
    }
    (J::Object(ob), J::Object(oa))
}

#[cfg(test)]
mod tests {
    use crate::grid::NewGrid;
    use crate::household::{NewHousehold, Place, Resident, Visit};
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

    /// A refused visit set aside takes nothing else with it: the resident
    /// added after it is made again (without the visit) and waits in the
    /// outbox; the visit is listed until discarded.
    #[test]
    fn setting_a_refused_change_aside_keeps_the_edits_after_it() -> Result<()> {
        let mut s = Store::open_in_memory(OpenOptions::default())?;
        s.create_grid(NewGrid {
            code: "110105001001001".into(),
            name: "网格".into(),
            community: "社区".into(),
            street: "街道".into(),
        })?;
        s.add_place("110105001001001", "", "小区", "1号楼", "1单元")?;
        let h = s.create_household(NewHousehold {
            grid: "110105001001001".into(),
            place: Place {
                compound: "小区".into(),
                building: "1号楼".into(),
                unit: "1单元".into(),
                room: "101".into(),
                ..Place::default()
            },
            residents: vec![Resident::named("张三")],
            ..NewHousehold::default()
        })?;
        s.settle_push(&seqs(&s)?, &[])?;
        s.add_visit(
            &h,
            Visit {
                at: s.clock().now_ms() - 60_000,
                method: "in_person".into(),
                findings: "被拒绝的走访".into(),
                ..Visit::default()
            },
        )?;
        s.add_resident(&h, Resident::named("李四"))?;
        let outbox = s.outbox(10)?;
        assert_eq!(outbox.len(), 2);
        // The server refuses the visit; the resident depends on it.
        s.settle_push(
            &[outbox[0].seq, outbox[1].seq],
            &[
                (outbox[0].seq, "invalid_document".into(), "日期".into()),
                (outbox[1].seq, "depends_on_refused".into(), "依赖".into()),
            ],
        )?;
        assert_eq!(s.set_aside_refused(&h)?, 1);
        let doc = s.household(&h)?;
        assert!(
            doc.visits.is_empty(),
            "the refused visit is not written again"
        );
        assert!(doc.residents.values().any(|r| r.name == "李四"));
        let again = s.outbox(10)?;
        assert_eq!(again.len(), 1, "the resident, made again");
        assert_ne!(again[0].hash, outbox[1].hash);
        let listed = s.rejected_changes()?;
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].op, "add_visit");
        // Setting aside again changes nothing; discarding unlists it.
        assert_eq!(s.set_aside_refused(&h)?, 0);
        assert_eq!(s.discard_rejected(&h)?, 1);
        assert!(s.rejected_changes()?.is_empty());
        assert_eq!(s.outbox(10)?.len(), 1);
        assert!(
            s.household(&h)?
                .residents
                .values()
                .any(|r| r.name == "李四")
        );
        Ok(())
    }
}
