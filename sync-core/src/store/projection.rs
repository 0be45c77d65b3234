//! Projection tables: relational rows derived from the documents, for the
//! lists the app shows (households by building, residents by tag, households
//! not visited lately, search). Written in the same transaction as the edit
//! that changed the document; rebuilt from the documents if dropped.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

use super::Store;
use crate::grid::{self, Grid};
use crate::household::{self, Household, Place};
use crate::id_number::mask_phone;
use crate::{Result, doc};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// A household in a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HouseholdRow {
    /// Document id.
    pub id: String,
    /// Grid code.
    pub grid: String,
    /// Where it is.
    pub place: Place,
    /// Package-holder user id.
    pub holder: Option<String>,
    /// Residents currently in the ledger.
    pub residents: u32,
    /// Last contact of any kind (ms).
    pub last_visit: Option<i64>,
    /// Last contact by the package-holder (ms).
    pub last_holder_contact: Option<i64>,
}

/// A resident in a list: ID number and phone masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResidentRow {
    /// The household's document id.
    pub household_id: String,
    /// The resident's id within it.
    pub resident_id: String,
    /// Name.
    pub name: String,
    /// ID number, masked (110105********1234).
    pub id_number_masked: Option<String>,
    /// Sex code.
    pub sex: Option<String>,
    /// Birth date.
    pub birth_date: Option<String>,
    /// Phone, masked (138****1234).
    pub phone_masked: Option<String>,
    /// Residence status code.
    pub status: Option<String>,
}

/// Which households to list: every part given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlaceFilter {
    /// Grid code.
    pub grid: Option<String>,
    /// Area name.
    pub area: Option<String>,
    /// Compound name.
    pub compound: Option<String>,
    /// Building name.
    pub building: Option<String>,
    /// Unit name.
    pub unit: Option<String>,
}

const HOUSEHOLD_COLS: &str = "doc_id, grid, area, compound, building, unit, room, holder, residents, last_visit, last_contact";

fn household_row(r: &Row<'_>) -> rusqlite::Result<HouseholdRow> {
    Ok(HouseholdRow {
        id: r.get(0)?,
        grid: r.get(1)?,
        place: Place {
            area: r.get(2)?,
            compound: r.get(3)?,
            building: r.get(4)?,
            unit: r.get(5)?,
            room: r.get(6)?,
        },
        holder: r.get(7)?,
        residents: r.get(8)?,
        last_visit: r.get(9)?,
        last_holder_contact: r.get(10)?,
    })
}

const RESIDENT_COLS: &str =
    "r.doc_id, r.resident_id, r.name, r.id_number, r.sex, r.birth_date, r.phone, r.status";

fn resident_row(r: &Row<'_>) -> rusqlite::Result<ResidentRow> {
    let id: Option<String> = r.get(3)?;
    let phone: Option<String> = r.get(6)?;
    Ok(ResidentRow {
        household_id: r.get(0)?,
        resident_id: r.get(1)?,
        name: r.get(2)?,
        id_number_masked: id.map(|s| {
            household::Resident {
                id_number: Some(s),
                ..Default::default()
            }
            .id_number_masked()
            .unwrap_or_default()
        }),
        sex: r.get(4)?,
        birth_date: r.get(5)?,
        phone_masked: phone.map(|p| mask_phone(&p)),
        status: r.get(7)?,
    })
}

/// At least this many documents pending at once (and no fewer than the
/// households already listed) are indexed in bulk: see
/// [`Store::index_pending_until`].
const BULK_MIN: usize = 500;

/// Documents read and written per step of an indexing transaction: what
/// is held in memory at once.
const STEP: usize = 2000;

impl Store {
    /// The list rows of document `id` as derived from it (`None`: not
    /// stored, or nothing of it is listed).
    pub fn listing(&mut self, id: &str) -> Result<Option<Listing>> {
        self.load(id)?;
        Ok(match self.cache.peek(id) {
            Some(d) => match Projected::read(id, d) {
                Projected::Listed(l) => Some(*l),
                Projected::Nothing => None,
            },
            None => None,
        })
    }

    /// Re-derive the projection rows of one document.
    pub(super) fn project(&mut self, id: &str) -> Result<()> {
        self.load(id)?;
        let Store { conn, cache, .. } = self;
        match cache.peek(id) {
            Some(d) => project_doc(conn, id, d),
            None => Ok(()),
        }
    }

    /// Build the list rows of documents stored without them (a pulled
    /// page, see [`Store::apply_pulled`]), at most `limit` documents at a
    /// time: from the rows the server sent with a document when they are
    /// readable, else by decoding it, on all cores. Returns how many were
    /// indexed; 0 when the lists are up to date. An app may call it in the
    /// background after a large sync; every list query catches up by
    /// itself first.
    pub fn index_pending(&self, limit: usize) -> Result<usize> {
        self.index_pending_until(limit, &|| false)
    }

    /// [`Store::index_pending`], leaving the documents not yet decoded
    /// once `stop` says so (checked before each): what was built is
    /// written, the rest stays pending. A sync indexes while its request is
    /// on the wire and stops when the answer is in, so the answer waits for
    /// one document's decoding at most, not a whole step's.
    ///
    /// One transaction for the call. The rows are derived data (rebuilt
    /// from the documents if lost), so it commits without waiting for the
    /// disk (`synchronous=NORMAL` in WAL mode): a power loss may take the
    /// step back whole, never half, and the documents stay pending. The
    /// next commit of anything a person wrote syncs the log, this with it.
    ///
    /// Many documents at once into lists at least as small (the first
    /// sync of a supervisor's phone): the lists' secondary indexes are
    /// dropped and built again after the rows are in, in the same
    /// transaction. Building an index from its rows is a sort; inserting
    /// into it row by row is a random B-tree write each, three times the
    /// work.
    pub fn index_pending_until(
        &self,
        limit: usize,
        stop: &(dyn Fn() -> bool + Sync),
    ) -> Result<usize> {
        let bulk = limit >= BULK_MIN && self.bulk_pending(limit)?;
        let own_tx = self.write.is_none();
        let durability = self.relax_durability()?;
        let indexed = (|| {
            if own_tx {
                self.conn.execute_batch("BEGIN IMMEDIATE")?;
            }
            let written = (|| -> Result<usize> {
                let dropped = if bulk {
                    self.drop_list_indexes()?
                } else {
                    Vec::new()
                };
                let mut done = 0;
                while done < limit {
                    let n = self.index_step((limit - done).min(STEP), stop)?;
                    done += n;
                    if n == 0 || stop() {
                        break;
                    }
                }
                for sql in &dropped {
                    self.conn.execute_batch(sql)?;
                }
                Ok(done)
            })();
            if own_tx {
                // Ended either way (a failed commit too), so that the
                // durability can be put back.
                let committed = match &written {
                    Ok(_) => self.conn.execute_batch("COMMIT"),
                    Err(_) => Ok(()),
                };
                if written.is_err() || committed.is_err() {
                    let _ = self.conn.execute_batch("ROLLBACK");
                }
                committed?;
            }
            written
        })();
        self.restore_durability(durability)?;
        indexed
    }

    /// Whether indexing the pending documents, at most `limit` of them,
    /// is bulk work: at least [`BULK_MIN`] of them, and no fewer than the
    /// households already listed. A sync waiting for its answer leaves
    /// such work to the first list query, which does it at a third of the
    /// cost of a few rows at a time.
    pub(crate) fn bulk_pending(&self, limit: usize) -> Result<bool> {
        let count = |sql: &str| -> Result<usize> {
            Ok(self.conn.query_row(sql, [], |r| r.get::<_, i64>(0))? as usize)
        };
        let n = limit.min(count("SELECT count(*) FROM p_pending")?);
        Ok(n >= BULK_MIN && n >= count("SELECT count(*) FROM p_households")?)
    }

    /// Drop the secondary indexes of the household and resident lists,
    /// returning the statements that create them again. Their primary
    /// keys stay (they lead with the document, which deleting a
    /// document's rows looks up).
    fn drop_list_indexes(&self) -> Result<Vec<String>> {
        let indexes: Vec<(String, String)> = self
            .conn
            .prepare(
                "SELECT name, sql FROM sqlite_schema WHERE type = 'index'
                     AND tbl_name IN ('p_households', 'p_residents') AND sql IS NOT NULL",
            )?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (name, _) in &indexes {
            self.conn.execute_batch(&format!("DROP INDEX \"{name}\""))?;
        }
        Ok(indexes.into_iter().map(|(_, sql)| sql).collect())
    }

    /// Build the list rows of at most `limit` pending documents, in the
    /// transaction at hand. Returns how many were indexed.
    fn index_step(&self, limit: usize, stop: &(dyn Fn() -> bool + Sync)) -> Result<usize> {
        use rayon::prelude::*;
        let pending: Vec<(String, Option<String>)> = self
            .conn
            .prepare_cached("SELECT doc_id, listing FROM p_pending LIMIT +?1")?
            .query_map([limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        if pending.is_empty() {
            return Ok(0);
        }
        let mut listed = Vec::new();
        let mut raw = Vec::with_capacity(pending.len());
        for (id, listing) in pending {
            if let Some(l) = listing.as_deref().and_then(Listing::from_json) {
                listed.push((id, l));
                continue;
            }
            let bytes = self.doc_bytes(&id)?;
            let loose: i64 = self
                .conn
                .prepare_cached("SELECT loose FROM docs WHERE id = ?1")?
                .query_row([&id], |r| r.get(0))
                .optional()?
                .unwrap_or(0);
            raw.push((id, bytes, loose));
        }
        type Read = (String, String, Projected, Option<Vec<u8>>);
        let read: Vec<(String, Option<Read>)> = raw
            .into_par_iter()
            .filter(|_| !stop())
            .map(|(id, bytes, loose)| {
                use automerge::ReadDoc;
                let read = match automerge::Automerge::load(&bytes) {
                    Ok(d) => Some((
                        doc::kind_of(&d).unwrap_or_default(),
                        doc::scope_of(&d).unwrap_or_default(),
                        Projected::read(&id, &d),
                        // Many loose chunks: fold them into a snapshot (not
                        // while changes wait for their dependencies).
                        (loose >= super::COMPACT_AFTER && d.get_missing_deps(&[]).is_empty())
                            .then(|| d.save()),
                    )),
                    Err(e) => {
                        tracing::warn!(doc = %id, error = %e, "stored document cannot be decoded; not listed");
                        None
                    }
                };
                (id, read)
            })
            .collect();
        let n = read.len() + listed.len();
        // New here, stored whole with the kind and grid the server
        // gave: no rows yet.
        for (id, listing) in &listed {
            listing.insert(&self.conn, id)?;
            self.conn
                .prepare_cached("DELETE FROM p_pending WHERE doc_id = ?1")?
                .execute([id])?;
        }
        for (id, r) in &read {
            match r {
                Some((kind, scope, projected, snapshot)) => {
                    projected.write(&self.conn, id)?;
                    self.conn
                        .prepare_cached("UPDATE docs SET kind = ?2, scope = ?3 WHERE id = ?1")?
                        .execute(params![id, kind, scope])?;
                    if let Some(snapshot) = snapshot {
                        self.conn
                            .prepare_cached(
                                "UPDATE docs SET snapshot = ?2, loose = 0 WHERE id = ?1",
                            )?
                            .execute(params![id, snapshot])?;
                        self.conn
                            .prepare_cached("DELETE FROM chunks WHERE doc_id = ?1")?
                            .execute([id])?;
                    }
                }
                None => {
                    self.conn
                        .prepare_cached("DELETE FROM p_pending WHERE doc_id = ?1")?
                        .execute([id])?;
                }
            }
        }
        Ok(n)
    }

    /// Documents whose list rows are still to be built, and of them how
    /// many came with rows from the server (built without decoding).
    pub fn pending_index(&self) -> Result<(usize, usize)> {
        Ok(self
            .conn
            .query_row("SELECT count(*), count(listing) FROM p_pending", [], |r| {
                Ok((r.get::<_, i64>(0)? as usize, r.get::<_, i64>(1)? as usize))
            })?)
    }

    /// Bring every list up to date before a query reads them.
    pub(crate) fn catch_up(&self) -> Result<()> {
        while self.index_pending(usize::MAX)? > 0 {}
        Ok(())
    }

    /// Drop and re-derive every projection row from the documents. Returns
    /// how many documents were read. Documents are read one at a time.
    pub fn rebuild_projections(&mut self) -> Result<usize> {
        let ids: Vec<String> = self.documents()?.into_iter().map(|(id, _, _)| id).collect();
        self.write(|s| {
            for table in [
                "p_grids",
                "p_households",
                "p_residents",
                "p_resident_tags",
                "p_distinct",
                "p_pending",
            ] {
                s.conn.execute(&format!("DELETE FROM {table}"), [])?;
            }
            for id in &ids {
                s.project(id)?;
            }
            Ok(ids.len())
        })
    }

    /// Households at a place, in address order. Merged duplicates are left out.
    pub fn households(&self, filter: &PlaceFilter) -> Result<Vec<HouseholdRow>> {
        self.catch_up()?;
        let mut sql =
            format!("SELECT {HOUSEHOLD_COLS} FROM p_households WHERE merged_into IS NULL");
        let mut args: Vec<&str> = Vec::new();
        for (col, value) in [
            ("grid", &filter.grid),
            ("area", &filter.area),
            ("compound", &filter.compound),
            ("building", &filter.building),
            ("unit", &filter.unit),
        ] {
            if let Some(v) = value {
                args.push(v);
                sql.push_str(&format!(" AND {col} = ?{}", args.len()));
            }
        }
        sql.push_str(" ORDER BY grid, area, compound, building, unit, room");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args), household_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Households with no contact of any kind within `days` of now.
    pub fn households_not_visited(&self, days: u32) -> Result<Vec<HouseholdRow>> {
        self.catch_up()?;
        let cutoff = self.clock.now_ms() - i64::from(days) * DAY_MS;
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {HOUSEHOLD_COLS} FROM p_households
             WHERE merged_into IS NULL AND (last_visit IS NULL OR last_visit < ?1)
             ORDER BY grid, area, compound, building, unit, room"
        ))?;
        let rows = stmt
            .query_map([cutoff], household_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Households whose package-holder has not contacted them within `days`
    /// (the 1+X coverage); only `holder`'s households when given.
    pub fn households_not_contacted(
        &self,
        days: u32,
        holder: Option<&str>,
    ) -> Result<Vec<HouseholdRow>> {
        self.catch_up()?;
        let cutoff = self.clock.now_ms() - i64::from(days) * DAY_MS;
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {HOUSEHOLD_COLS} FROM p_households
             WHERE merged_into IS NULL AND holder IS NOT NULL AND (?2 IS NULL OR holder = ?2)
               AND (last_contact IS NULL OR last_contact < ?1)
             ORDER BY holder, grid, area, compound, building, unit, room"
        ))?;
        let rows = stmt
            .query_map(params![cutoff, holder], household_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Residents carrying an attention tag, by name.
    pub fn residents_with_tag(&self, tag: &str) -> Result<Vec<ResidentRow>> {
        self.catch_up()?;
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {RESIDENT_COLS} FROM p_resident_tags t
             JOIN p_residents r ON r.doc_id = t.doc_id AND r.resident_id = t.resident_id
             WHERE t.tag = ?1 ORDER BY r.name"
        ))?;
        let rows = stmt
            .query_map([tag], resident_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Search residents in the ledger: by the last digits of the ID number
    /// when `query` is 4 or more digits (an `X` may end it), otherwise by
    /// part of the name. At most 200 rows.
    pub fn search_residents(&self, query: &str) -> Result<Vec<ResidentRow>> {
        self.catch_up()?;
        let q = query.trim();
        if q.is_empty() {
            return Ok(Vec::new());
        }
        let digits = q.len() >= 4
            && q.chars()
                .enumerate()
                .all(|(i, c)| c.is_ascii_digit() || (i == q.len() - 1 && (c == 'x' || c == 'X')));
        let (sql, arg) = if digits {
            let reversed: String = q.to_ascii_uppercase().chars().rev().collect();
            (
                format!(
                    "SELECT {RESIDENT_COLS} FROM p_residents r
                     WHERE r.removed = 0 AND r.id_reversed GLOB ?1 ORDER BY r.name LIMIT 200"
                ),
                format!("{reversed}*"),
            )
        } else {
            let escaped = q
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            (
                format!(
                    "SELECT {RESIDENT_COLS} FROM p_residents r
                     WHERE r.removed = 0 AND r.name LIKE ?1 ESCAPE '\\' ORDER BY r.name LIMIT 200"
                ),
                format!("%{escaped}%"),
            )
        };
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt
            .query_map([arg], resident_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// A package-holder's coverage: (households contacted within `days`,
    /// households held).
    pub fn holder_coverage(&self, holder: &str, days: u32) -> Result<(u32, u32)> {
        self.catch_up()?;
        let cutoff = self.clock.now_ms() - i64::from(days) * DAY_MS;
        Ok(self.conn.query_row(
            "SELECT count(*) FILTER (WHERE last_contact >= ?2), count(*) FROM p_households
             WHERE merged_into IS NULL AND holder = ?1",
            params![holder, cutoff],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }
}

/// What a document contributes to the projections, read from it (the
/// expensive part, safe to do on any thread).
pub(crate) enum Projected {
    /// Its list rows.
    Listed(Box<Listing>),
    /// Nothing listed (another kind, or a shape this version cannot read).
    Nothing,
}

impl Projected {
    /// Read what `doc` contributes.
    pub(crate) fn read(id: &str, doc: &automerge::Automerge) -> Self {
        match doc::kind_of(doc).as_deref() {
            Some(grid::KIND) => match doc::read::<Grid>(doc, None) {
                Ok(g) => Projected::Listed(Box::new(Listing::of_grid(&g))),
                Err(e) => {
                    tracing::warn!(doc = id, error = %e, "grid document has an unexpected shape; not listed");
                    Projected::Nothing
                }
            },
            Some(household::KIND) => match doc::read::<Household>(doc, None) {
                Ok(h) => Projected::Listed(Box::new(Listing::of_household(&h))),
                Err(e) => {
                    tracing::warn!(doc = id, error = %e, "household document has an unexpected shape; not listed");
                    Projected::Nothing
                }
            },
            _ => Projected::Nothing,
        }
    }

    /// Replace document `id`'s projection rows with these.
    pub(crate) fn write(&self, conn: &Connection, id: &str) -> Result<()> {
        delete_rows(conn, id)?;
        match self {
            Projected::Listed(l) => l.insert(conn, id),
            Projected::Nothing => Ok(()),
        }
    }
}

/// Delete document `id`'s projection rows.
fn delete_rows(conn: &Connection, id: &str) -> Result<()> {
    for table in [
        "p_grids",
        "p_households",
        "p_residents",
        "p_resident_tags",
        "p_distinct",
        "p_pending",
    ] {
        conn.prepare_cached(&format!("DELETE FROM {table} WHERE doc_id = ?1"))?
            .execute([id])?;
    }
    Ok(())
}

/// Rewrite the projection rows of document `id` from `doc`.
pub(super) fn project_doc(conn: &Connection, id: &str, doc: &automerge::Automerge) -> Result<()> {
    Projected::read(id, doc).write(conn, id)
}

/// The list rows of one document, as data: what a device derives from
/// the document for its lists, and what the server derives when it
/// validates a pushed document and sends with it (`list` in a pull,
/// docs/protocol.md), so that a device storing a pulled document as it
/// came need not decode it just to list it. Holds what the document
/// holds (names, ID numbers and phones included): never logged.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listing {
    /// Format version ([`Listing::VERSION`]); a device ignores a listing
    /// of another and derives the rows itself.
    pub v: u32,
    /// A grid's row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid: Option<GridListing>,
    /// A household's rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub household: Option<HouseholdListing>,
}

impl std::fmt::Debug for Listing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Personal data stays out of logs and panics.
        f.debug_struct("Listing")
            .field("v", &self.v)
            .field("grid", &self.grid.is_some())
            .field("household", &self.household.is_some())
            .finish_non_exhaustive()
    }
}

/// A grid's list row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GridListing {
    /// Grid code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Community name.
    pub community: String,
    /// Street name.
    pub street: String,
}

/// A household's list rows.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HouseholdListing {
    /// Grid code.
    pub grid: String,
    /// Where it is.
    pub place: Place,
    /// Package-holder user id.
    pub holder: Option<String>,
    /// Residents currently in the ledger.
    pub residents: u32,
    /// Last contact of any kind (ms).
    pub last_visit: Option<i64>,
    /// Last contact by the package-holder (ms).
    pub last_contact: Option<i64>,
    /// The survivor, when merged as a duplicate.
    pub merged_into: Option<String>,
    /// Every resident, removed ones marked.
    pub people: Vec<ResidentListing>,
    /// Households confirmed not to be duplicates of this one.
    pub distinct: Vec<String>,
}

/// A resident's list row; sent as an array, in field order (a grid's
/// rows are sent to every phone that pulls it: names are not repeated).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "ResidentTuple", from = "ResidentTuple")]
pub struct ResidentListing {
    /// The resident's id within the household.
    pub id: String,
    /// Name.
    pub name: String,
    /// ID number, whole (for search by its last digits).
    pub id_number: Option<String>,
    /// Sex code.
    pub sex: Option<String>,
    /// Birth date.
    pub birth_date: Option<String>,
    /// Phone, whole.
    pub phone: Option<String>,
    /// Residence status code.
    pub status: Option<String>,
    /// Removed, merged into another, or in a merged household: not listed.
    pub removed: bool,
    /// Attention tags (none when removed).
    pub tags: Vec<String>,
}

type ResidentTuple = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    bool,
    Vec<String>,
);

impl From<ResidentListing> for ResidentTuple {
    fn from(r: ResidentListing) -> Self {
        (
            r.id,
            r.name,
            r.id_number,
            r.sex,
            r.birth_date,
            r.phone,
            r.status,
            r.removed,
            r.tags,
        )
    }
}

impl From<ResidentTuple> for ResidentListing {
    fn from(t: ResidentTuple) -> Self {
        let (id, name, id_number, sex, birth_date, phone, status, removed, tags) = t;
        ResidentListing {
            id,
            name,
            id_number,
            sex,
            birth_date,
            phone,
            status,
            removed,
            tags,
        }
    }
}

impl Listing {
    /// The format this version writes and reads.
    pub const VERSION: u32 = 1;

    /// A grid's row.
    pub fn of_grid(g: &Grid) -> Self {
        Listing {
            v: Self::VERSION,
            grid: Some(GridListing {
                code: g.grid.clone(),
                name: g.name.clone(),
                community: g.community.clone(),
                street: g.street.clone(),
            }),
            household: None,
        }
    }

    /// A household's rows.
    pub fn of_household(h: &Household) -> Self {
        let people = h
            .residents
            .iter()
            .map(|(rid, r)| {
                let removed = r.removed || r.merged_into.is_some() || h.merged_into.is_some();
                ResidentListing {
                    id: rid.clone(),
                    name: r.name.clone(),
                    id_number: r.id_number.clone(),
                    sex: r.sex.clone(),
                    birth_date: r.birth_date.clone(),
                    phone: r.phone.clone(),
                    status: r.status.clone(),
                    removed,
                    tags: if removed {
                        Vec::new()
                    } else {
                        r.tags.iter().map(|t| t.to_string()).collect()
                    },
                }
            })
            .collect();
        Listing {
            v: Self::VERSION,
            grid: None,
            household: Some(HouseholdListing {
                grid: h.grid.clone(),
                place: h.place.clone(),
                holder: h.holder.clone(),
                residents: h.current_residents().count() as u32,
                last_visit: h.last_visit_at(),
                last_contact: h.last_holder_contact_at(),
                merged_into: h.merged_into.clone(),
                people,
                distinct: h.distinct_from.iter().map(|t| t.to_string()).collect(),
            }),
        }
    }

    /// The listing as sent (JSON).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A listing as received, if it is in this version's format. Why one
    /// is not is never said: the text may hold personal data.
    pub fn from_json(json: &str) -> Option<Self> {
        serde_json::from_str::<Listing>(json)
            .ok()
            .filter(|l| l.v == Self::VERSION)
    }

    /// Insert document `id`'s rows (it has none yet).
    pub(crate) fn insert(&self, conn: &Connection, id: &str) -> Result<()> {
        if let Some(g) = &self.grid {
            project_grid(conn, id, g)?;
        }
        if let Some(h) = &self.household {
            project_household(conn, id, h)?;
        }
        Ok(())
    }
}

fn project_grid(conn: &Connection, id: &str, g: &GridListing) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO p_grids (code, doc_id, name, community, street) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (code) DO NOTHING",
    )?
    .execute(params![g.code, id, g.name, g.community, g.street])?;
    Ok(())
}

fn project_household(conn: &Connection, id: &str, h: &HouseholdListing) -> Result<()> {
    let p = &h.place;
    conn.prepare_cached(
        "INSERT INTO p_households (doc_id, grid, area, compound, building, unit, room, address_key,
                holder, residents, last_visit, last_contact, merged_into)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        id,
        h.grid,
        p.area,
        p.compound,
        p.building,
        p.unit,
        p.room,
        p.address_key(),
        h.holder,
        h.residents,
        h.last_visit,
        h.last_contact,
        h.merged_into,
    ])?;
    for r in &h.people {
        let reversed: Option<String> = r.id_number.as_ref().map(|s| s.chars().rev().collect());
        conn.prepare_cached(
            "INSERT INTO p_residents (doc_id, resident_id, name, id_number, id_reversed, sex,
                    birth_date, phone, status, removed)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?
        .execute(params![
            id,
            r.id,
            r.name,
            r.id_number,
            reversed,
            r.sex,
            r.birth_date,
            r.phone,
            r.status,
            r.removed
        ])?;
        for tag in &r.tags {
            conn.prepare_cached(
                "INSERT INTO p_resident_tags (tag, doc_id, resident_id) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![tag, id, r.id])?;
        }
    }
    for other in &h.distinct {
        conn.prepare_cached("INSERT INTO p_distinct (doc_id, other) VALUES (?1, ?2)")?
            .execute(params![id, other])?;
    }
    Ok(())
}
