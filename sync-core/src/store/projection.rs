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

impl Store {
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
    /// time, decoding on all cores. Returns how many were indexed; 0 when
    /// the lists are up to date. An app may call it in the background
    /// after a large sync; every list query catches up by itself first.
    pub fn index_pending(&self, limit: usize) -> Result<usize> {
        use rayon::prelude::*;
        let ids: Vec<String> = self
            .conn
            .prepare_cached("SELECT doc_id FROM p_pending LIMIT ?1")?
            .query_map([limit as i64], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        if ids.is_empty() {
            return Ok(0);
        }
        let mut raw = Vec::with_capacity(ids.len());
        for id in ids {
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
        let n = read.len();
        let own_tx = self.write.is_none();
        if own_tx {
            self.conn.execute_batch("BEGIN IMMEDIATE")?;
        }
        let written = (|| -> Result<()> {
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
            Ok(())
        })();
        if own_tx {
            match &written {
                Ok(()) => self.conn.execute_batch("COMMIT")?,
                Err(_) => {
                    let _ = self.conn.execute_batch("ROLLBACK");
                }
            }
        }
        written.map(|()| n)
    }

    /// Bring every list up to date before a query reads them.
    pub(crate) fn catch_up(&self) -> Result<()> {
        while self.index_pending(2000)? > 0 {}
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
                "p_visits",
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
    /// A grid.
    Grid(Grid),
    /// A household.
    Household(Box<Household>),
    /// Nothing listed (another kind, or a shape this version cannot read).
    Nothing,
}

impl Projected {
    /// Read what `doc` contributes.
    pub(crate) fn read(id: &str, doc: &automerge::Automerge) -> Self {
        match doc::kind_of(doc).as_deref() {
            Some(grid::KIND) => match doc::read::<Grid>(doc, None) {
                Ok(g) => Projected::Grid(g),
                Err(e) => {
                    tracing::warn!(doc = id, error = %e, "grid document has an unexpected shape; not listed");
                    Projected::Nothing
                }
            },
            Some(household::KIND) => match doc::read::<Household>(doc, None) {
                Ok(h) => Projected::Household(Box::new(h)),
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
        for table in [
            "p_grids",
            "p_households",
            "p_residents",
            "p_resident_tags",
            "p_visits",
            "p_distinct",
            "p_pending",
        ] {
            conn.prepare_cached(&format!("DELETE FROM {table} WHERE doc_id = ?1"))?
                .execute([id])?;
        }
        match self {
            Projected::Grid(g) => project_grid(conn, id, g),
            Projected::Household(h) => project_household(conn, id, h),
            Projected::Nothing => Ok(()),
        }
    }
}

/// Rewrite the projection rows of document `id` from `doc`.
pub(super) fn project_doc(conn: &Connection, id: &str, doc: &automerge::Automerge) -> Result<()> {
    Projected::read(id, doc).write(conn, id)
}

fn project_grid(conn: &Connection, id: &str, g: &Grid) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO p_grids (code, doc_id, name, community, street) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (code) DO NOTHING",
    )?
    .execute(params![g.grid, id, g.name, g.community, g.street])?;
    Ok(())
}

fn project_household(conn: &Connection, id: &str, h: &Household) -> Result<()> {
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
        h.current_residents().count() as i64,
        h.last_visit_at(),
        h.last_holder_contact_at(),
        h.merged_into,
    ])?;
    for (rid, r) in &h.residents {
        let removed = r.removed || r.merged_into.is_some() || h.merged_into.is_some();
        let reversed: Option<String> = r.id_number.as_ref().map(|s| s.chars().rev().collect());
        conn.prepare_cached(
            "INSERT INTO p_residents (doc_id, resident_id, name, id_number, id_reversed, sex,
                    birth_date, phone, status, removed)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?
        .execute(params![
            id,
            rid,
            r.name,
            r.id_number,
            reversed,
            r.sex,
            r.birth_date,
            r.phone,
            r.status,
            removed
        ])?;
        if !removed {
            for tag in r.tags.iter() {
                conn.prepare_cached(
                    "INSERT INTO p_resident_tags (tag, doc_id, resident_id) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![tag, id, rid])?;
            }
        }
    }
    for (vid, v) in &h.visits {
        conn.prepare_cached(
            "INSERT INTO p_visits (doc_id, visit_id, at, visitor, role, method, follow_up)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            id,
            vid,
            v.at,
            v.visitor,
            v.role,
            v.method,
            v.follow_up
        ])?;
    }
    for other in h.distinct_from.iter() {
        conn.prepare_cached("INSERT INTO p_distinct (doc_id, other) VALUES (?1, ?2)")?
            .execute(params![id, other])?;
    }
    Ok(())
}
