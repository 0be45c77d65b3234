//! The read model's queries for the review queue ([`crate::web::review`]):
//! same-field conflicts, households recorded twice at one address, one
//! ID number in two households, one person twice in a household, and
//! households recorded on a phone whose clock was off. Each list is
//! capped at [`QUEUE_MAX`] rows and names the household by its address
//! ([`ADDRESS`]).

use rusqlite::{Connection, params};

use super::{ClockFlag, ReadModel, upper};
use crate::db::DbError;

/// Rows of each list the queue shows at most.
pub const QUEUE_MAX: i64 = 200;

/// A household's address as the queue writes it (小区 楼栋 单元 and the
/// room with 室, e.g. `阳光小区 3栋 2单元 301室`), from the household
/// joined as `h`.
const ADDRESS: &str = "h.compound || ' ' || h.building || ' ' || h.unit || ' ' || h.room || '室'";

/// A same-field conflict waiting for a supervisor's choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflictEntry {
    /// The document (a household or a report).
    pub doc_id: String,
    /// The field's path, JSON array, as stored.
    pub path: String,
    /// The values standing, JSON array of the core's `ConflictValue`s.
    pub values: String,
    /// The household's address, or 事件 for a report.
    pub place: String,
}

/// Two households recorded at the same address of one grid and not
/// marked as distinct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicatePair {
    /// The household with the smaller id.
    pub a: String,
    /// The other.
    pub b: String,
    /// Their address.
    pub place: String,
}

/// One ID number on residents of two households at different addresses
/// (the first not marked distinct from the second).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedIdNumber {
    /// The household with the smaller id.
    pub a: String,
    /// The other.
    pub b: String,
    /// The ID number, in full (the page masks it).
    pub id_number: String,
    /// The first household's address.
    pub place: String,
}

/// One ID number on two entries of one household.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonTwice {
    /// The household.
    pub household_id: String,
    /// The entry with the smaller key.
    pub a: String,
    /// The other.
    pub b: String,
    /// The ID number, in full (the page masks it).
    pub id_number: String,
    /// The household's address.
    pub place: String,
}

/// A household recorded on a phone whose clock was off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClockFlagged {
    /// The household.
    pub doc_id: String,
    /// Who, how far off and how many changes.
    pub flag: ClockFlag,
    /// The household's address.
    pub place: String,
}

/// Everything the review queue of a territory lists.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReviewQueue {
    /// Same-field conflicts, by document.
    pub conflicts: Vec<ConflictEntry>,
    /// Households recorded twice.
    pub pairs: Vec<DuplicatePair>,
    /// ID numbers in two households.
    pub shared: Vec<SharedIdNumber>,
    /// People recorded twice in one household.
    pub twice: Vec<PersonTwice>,
    /// Households recorded with a clock off, the furthest off first.
    pub clocks: Vec<ClockFlagged>,
}

/// The review queue of the territory under `prefix`.
pub async fn review_queue(model: &ReadModel, prefix: &str) -> Result<ReviewQueue, DbError> {
    let (lo, hi) = (prefix.to_owned(), upper(prefix));
    model
        .run(move |c| {
            let (lo, hi) = (lo.as_str(), hi.as_str());
            Ok(ReviewQueue {
                conflicts: listed(
                    c,
                    &format!(
                        "SELECT c.doc_id, c.path, c.vals, coalesce({ADDRESS}, '事件')
                         FROM conflicts c LEFT JOIN households h ON h.id = c.doc_id
                         WHERE c.grid >= ?1 AND c.grid < ?2 ORDER BY c.doc_id, c.n LIMIT +?3"
                    ),
                    (lo, hi),
                    |r| {
                        Ok(ConflictEntry {
                            doc_id: r.get(0)?,
                            path: r.get(1)?,
                            values: r.get(2)?,
                            place: r.get(3)?,
                        })
                    },
                )?,
                pairs: listed(
                    c,
                    &format!(
                        "SELECT h.id, b.id, {ADDRESS}
                         FROM households h JOIN households b
                           ON h.grid = b.grid AND h.address_key = b.address_key AND h.id < b.id
                         WHERE h.grid >= ?1 AND h.grid < ?2
                           AND instr(',' || h.distinct_from || ',', ',' || b.id || ',') = 0
                           AND instr(',' || b.distinct_from || ',', ',' || h.id || ',') = 0
                         ORDER BY h.id LIMIT +?3"
                    ),
                    (lo, hi),
                    |r| {
                        Ok(DuplicatePair {
                            a: r.get(0)?,
                            b: r.get(1)?,
                            place: r.get(2)?,
                        })
                    },
                )?,
                shared: listed(
                    c,
                    &format!(
                        "SELECT ra.household_id, rb.household_id, ra.id_number, {ADDRESS}
                         FROM residents ra JOIN residents rb
                           ON ra.id_number = rb.id_number AND ra.household_id < rb.household_id
                         JOIN households h ON h.id = ra.household_id
                         JOIN households hb ON hb.id = rb.household_id
                         WHERE ra.grid >= ?1 AND ra.grid < ?2 AND ra.id_number IS NOT NULL
                           AND h.address_key <> hb.address_key
                           AND instr(',' || h.distinct_from || ',', ',' || hb.id || ',') = 0
                         ORDER BY ra.household_id LIMIT +?3"
                    ),
                    (lo, hi),
                    |r| {
                        Ok(SharedIdNumber {
                            a: r.get(0)?,
                            b: r.get(1)?,
                            id_number: r.get(2)?,
                            place: r.get(3)?,
                        })
                    },
                )?,
                twice: listed(
                    c,
                    &format!(
                        "SELECT ra.household_id, ra.key, rb.key, ra.id_number, {ADDRESS}
                         FROM residents ra JOIN residents rb
                           ON ra.household_id = rb.household_id AND ra.id_number = rb.id_number
                             AND ra.key < rb.key
                         JOIN households h ON h.id = ra.household_id
                         WHERE ra.grid >= ?1 AND ra.grid < ?2 AND ra.id_number IS NOT NULL
                         ORDER BY ra.household_id LIMIT +?3"
                    ),
                    (lo, hi),
                    |r| {
                        Ok(PersonTwice {
                            household_id: r.get(0)?,
                            a: r.get(1)?,
                            b: r.get(2)?,
                            id_number: r.get(3)?,
                            place: r.get(4)?,
                        })
                    },
                )?,
                clocks: listed(
                    c,
                    &format!(
                        "SELECT f.doc_id, f.author, f.offset_ms, f.changes, {ADDRESS}
                         FROM clock_flags f JOIN households h ON h.id = f.doc_id
                         WHERE f.grid >= ?1 AND f.grid < ?2
                         ORDER BY abs(f.offset_ms) DESC, f.doc_id LIMIT +?3"
                    ),
                    (lo, hi),
                    |r| {
                        Ok(ClockFlagged {
                            doc_id: r.get(0)?,
                            flag: ClockFlag {
                                author: r.get(1)?,
                                offset_ms: r.get(2)?,
                                changes: r.get(3)?,
                            },
                            place: r.get(4)?,
                        })
                    },
                )?,
            })
        })
        .await
}

/// The first [`QUEUE_MAX`] rows of `sql` over the codes `lo`..`hi` (`?1`,
/// `?2`; the cap is `?3`), each read by `row`.
fn listed<T>(
    c: &Connection,
    sql: &str,
    (lo, hi): (&str, &str),
    row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<Vec<T>> {
    c.prepare(sql)?
        .query_map(params![lo, hi, QUEUE_MAX], row)?
        .collect()
}
