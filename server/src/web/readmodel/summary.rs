//! Per-grid summaries of what an overview adds up: households, residents,
//! visited households, the unheld, attention tags, residence status, age
//! bands, each 包保责任人's coverage and the open 群众诉求/需跟进.
//!
//! A street's or a district's overview used to aggregate every household,
//! resident and visit under it on every view (518 ms at 200 grids, linear
//! in the district). It now adds up one stored row per grid, and only a
//! grid whose rows changed, or whose figures time has moved, is computed
//! again, from its own rows by the grid indexes.
//!
//! Kept exact by the database itself:
//! - triggers on every table a summary reads mark its grid stale (row
//!   kept, figures cleared) on any insert, delete or update, whichever
//!   code path wrote it (the projector, a closure mirrored in
//!   [`mirror_closures`]);
//! - a summary is stored for a day (age bands count birthdays) and for
//!   the window of period starts that count the same visits: from the
//!   start it was computed for up to the earliest visit or contact at or
//!   after it; a later start (the period moving on) beyond that computes
//!   it again;
//! - it is computed and stored in one write transaction, so a projection
//!   committed meanwhile either comes before (and is counted) or after
//!   (and marks it stale again).

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use super::{ReadModel, upper};
use crate::db::DbError;

/// The tables and triggers (part of the read model's schema).
pub(super) fn schema() -> String {
    let mut sql = String::from(
        "
CREATE TABLE grid_summaries (
    grid TEXT PRIMARY KEY,
    -- NULL: stale. Otherwise the figures, for `today` and for period
    -- starts from `since` up to `until` (NULL: any later start).
    data TEXT,
    today TEXT,
    since INTEGER,
    until INTEGER
);
-- Visits whose need was marked handled (the main database's
-- needs_closed, mirrored by mirror_closures).
CREATE TABLE closed_needs (visit_key TEXT PRIMARY KEY) WITHOUT ROWID;
",
    );
    let mark = |grid: &str| {
        format!(
            "INSERT OR REPLACE INTO grid_summaries (grid) SELECT {grid}
             WHERE NOT EXISTS (SELECT 1 FROM grid_summaries WHERE grid = {grid} AND data IS NULL);"
        )
    };
    for table in ["households", "residents", "resident_tags", "visits"] {
        for (event, rows) in [
            ("INSERT", &["NEW"][..]),
            ("DELETE", &["OLD"][..]),
            ("UPDATE", &["OLD", "NEW"][..]),
        ] {
            let mut body: String = rows.iter().map(|r| mark(&format!("{r}.grid"))).collect();
            if table == "households" {
                // A 楼栋长's contact is counted where it was made only while
                // its household is at that building: the contact's grid
                // depends on the household too.
                for r in rows {
                    body.push_str(&format!(
                        "INSERT OR REPLACE INTO grid_summaries (grid)
                         SELECT DISTINCT grid FROM visits WHERE household_id = {r}.id AND contact = 1;"
                    ));
                }
            }
            sql.push_str(&format!(
                "CREATE TRIGGER {table}_{e}_summary AFTER {event} ON {table} BEGIN {body} END;\n",
                e = event.to_lowercase()
            ));
        }
    }
    sql
}

/// What a visit must be to count as an open need (its partial indexes
/// carry the same condition).
pub(super) const OPEN_NEED: &str =
    "(v.needs <> '' OR v.follow_up = 1) AND v.corrected = 0 AND v.closed = 0";

/// The overview's figures of one grid, or, added up, of a territory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Households.
    pub households: i64,
    /// Current residents.
    pub residents: i64,
    /// Households visited since the period start.
    pub visited: i64,
    /// Households without a 包保责任人.
    pub unheld: i64,
    /// 群众诉求/需跟进 not marked handled.
    pub open_needs: i64,
    /// Residents per attention tag code.
    pub tags: BTreeMap<String, i64>,
    /// Residents per residence status code (`None`: not recorded).
    pub status: Vec<(Option<String>, i64)>,
    /// Residents aged 0–17, 18–59, 60–79, 80 and over, unknown.
    pub ages: [i64; 5],
    /// Per 包保责任人: households held, and contacted since the start.
    pub holders: BTreeMap<String, (i64, i64)>,
}

impl Summary {
    /// Add `other`'s figures to these.
    pub fn add(&mut self, other: &Summary) {
        self.households += other.households;
        self.residents += other.residents;
        self.visited += other.visited;
        self.unheld += other.unheld;
        self.open_needs += other.open_needs;
        for (tag, n) in &other.tags {
            *self.tags.entry(tag.clone()).or_default() += n;
        }
        let mut status: BTreeMap<Option<String>, i64> = self.status.drain(..).collect();
        for (s, n) in &other.status {
            *status.entry(s.clone()).or_default() += n;
        }
        self.status = status.into_iter().collect();
        for (a, b) in self.ages.iter_mut().zip(other.ages) {
            *a += b;
        }
        for (holder, (held, contacted)) in &other.holders {
            let e = self.holders.entry(holder.clone()).or_default();
            e.0 += held;
            e.1 += contacted;
        }
    }
}

/// The age band of a resident (0–4, as [`Summary::ages`]) on `?3`
/// (`YYYY-MM-DD`): whole years from the birth date.
pub(super) const AGE_BAND: &str = "CASE
    WHEN birth_date IS NULL
      OR birth_date NOT GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'
      OR birth_date > ?3 THEN 4
    WHEN age < 18 THEN 0 WHEN age < 60 THEN 1 WHEN age < 80 THEN 2 ELSE 3 END";

/// Birth date and whole years on `?3`, for [`AGE_BAND`].
pub(super) const AGE: &str = "birth_date,
    CAST(substr(?3, 1, 4) AS INTEGER) - CAST(substr(birth_date, 1, 4) AS INTEGER)
      - (substr(?3, 6, 5) < substr(birth_date, 6, 5)) AS age";

/// Grids summarised in one write transaction at most.
const CHUNK: usize = 50;

/// The summary of every grid under `prefix` with rows in the read model,
/// by grid code: visits and contacts counted from `since` (ms), ages on
/// `today` (`YYYY-MM-DD`). Stale ones are computed and stored.
pub async fn summaries(
    model: &ReadModel,
    prefix: &str,
    since: i64,
    today: String,
) -> Result<BTreeMap<String, Summary>, DbError> {
    let (lo, hi) = (prefix.to_owned(), upper(prefix));
    model
        .run(move |c| {
            let mut out = BTreeMap::new();
            let mut stale = Vec::new();
            {
                let mut st = c.prepare_cached(
                    "SELECT grid, data, today, since, until FROM grid_summaries
                     WHERE grid >= ?1 AND grid < ?2",
                )?;
                let mut rows = st.query(params![lo, hi])?;
                while let Some(r) = rows.next()? {
                    let grid: String = r.get(0)?;
                    let data: Option<String> = r.get(1)?;
                    let day: Option<String> = r.get(2)?;
                    let (from, until): (Option<i64>, Option<i64>) = (r.get(3)?, r.get(4)?);
                    let fresh = day.as_deref() == Some(today.as_str())
                        && from.is_some_and(|f| f <= since)
                        && until.is_none_or(|u| since <= u);
                    match data
                        .filter(|_| fresh)
                        .and_then(|d| serde_json::from_str::<Summary>(&d).ok())
                    {
                        Some(s) => {
                            out.insert(grid, s);
                        }
                        None => stale.push(grid),
                    }
                }
            }
            for chunk in stale.chunks(CHUNK) {
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                for grid in chunk {
                    let (summary, until) = compute(&tx, grid, since, &today)?;
                    let data = serde_json::to_string(&summary)
                        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
                    tx.prepare_cached(
                        "UPDATE grid_summaries SET data = ?2, today = ?3, since = ?4, until = ?5
                         WHERE grid = ?1",
                    )?
                    .execute(params![grid, data, today, since, until])?;
                    out.insert(grid.clone(), summary);
                }
                tx.commit()?;
            }
            Ok(out)
        })
        .await
}

/// One grid's figures from its rows, and the latest period start they
/// hold for (the earliest visit or contact counted).
fn compute(
    c: &rusqlite::Connection,
    grid: &str,
    since: i64,
    today: &str,
) -> rusqlite::Result<(Summary, Option<i64>)> {
    let mut s = Summary::default();
    let (until_visit, until_contact): (Option<i64>, Option<i64>);
    (
        s.households,
        s.residents,
        s.visited,
        s.unheld,
        until_visit,
        until_contact,
    ) = c
        .prepare_cached(
            "SELECT count(*), coalesce(sum(residents), 0), coalesce(sum(last_visit_at >= ?2), 0),
                    coalesce(sum(holder IS NULL OR holder = ''), 0),
                    min(CASE WHEN last_visit_at >= ?2 THEN last_visit_at END),
                    min(CASE WHEN last_holder_contact_at >= ?2 THEN last_holder_contact_at END)
             FROM households WHERE grid = ?1",
        )?
        .query_row(params![grid, since], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?;
    s.holders = c
        .prepare_cached(
            "SELECT holder, count(*), coalesce(sum(last_holder_contact_at >= ?2), 0)
             FROM households WHERE grid = ?1 AND holder IS NOT NULL GROUP BY holder",
        )?
        .query_map(params![grid, since], |r| {
            Ok((r.get(0)?, (r.get(1)?, r.get(2)?)))
        })?
        .collect::<rusqlite::Result<_>>()?;
    s.tags = c
        .prepare_cached("SELECT tag, count(*) FROM resident_tags WHERE grid = ?1 GROUP BY tag")?
        .query_map([grid], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    s.status = c
        .prepare_cached(
            "SELECT status, count(*) FROM residents WHERE grid = ?1 GROUP BY status ORDER BY status",
        )?
        .query_map([grid], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut st = c.prepare_cached(&format!(
        "SELECT {AGE_BAND}, count(*) FROM (SELECT {AGE} FROM residents WHERE grid = ?1)
         GROUP BY 1"
    ))?;
    let mut rows = st.query(params![grid, since, today])?;
    while let Some(r) = rows.next()? {
        let band: i64 = r.get(0)?;
        s.ages[band.clamp(0, 4) as usize] += r.get::<_, i64>(1)?;
    }
    s.open_needs = c
        .prepare_cached(&format!(
            "SELECT count(*) FROM visits v WHERE v.grid = ?1 AND {OPEN_NEED}
               AND (v.contact = 0 OR EXISTS (SELECT 1 FROM households h
                    WHERE h.id = v.household_id AND v.place_key = h.compound || '|' || h.building))"
        ))?
        .query_row([grid], |r| r.get(0))?;
    let until = match (until_visit, until_contact) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Ok((s, until))
}

/// How many closures of the main database the mirror was last brought
/// up to (`None`: never).
pub async fn mirrored(model: &ReadModel) -> Result<Option<i64>, DbError> {
    model
        .run(|c| {
            c.query_row(
                "SELECT value FROM meta WHERE key = 'closures_mirrored'",
                [],
                |r| r.get(0),
            )
            .optional()
        })
        .await
}

/// Mirror the main database's closures: `keys`, every visit key closed
/// there, read after it counted `count` rows. A visit newly closed leaves
/// the open needs (and marks its grid's summary stale by the trigger).
pub async fn mirror(model: &ReadModel, keys: Vec<String>, count: i64) -> Result<(), DbError> {
    model
        .run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for key in &keys {
                let new = tx
                    .prepare_cached("INSERT OR IGNORE INTO closed_needs (visit_key) VALUES (?1)")?
                    .execute([key])?;
                if new > 0 {
                    tx.prepare_cached(
                        "UPDATE visits SET closed = 1
                         WHERE key = ?1 AND (needs <> '' OR follow_up = 1) AND closed = 0",
                    )?
                    .execute([key])?;
                }
            }
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('closures_mirrored', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [count],
            )?;
            tx.commit()
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::super::{counts_by, holder_coverage, needs, profile, tag_counts, unheld_count};
    use super::*;

    const DAY: i64 = 86_400_000;
    const GRIDS: [&str; 4] = [
        "110105001001001",
        "110105001001002",
        "110105001002001",
        "110105002001001",
    ];

    /// Rows of every kind a summary reads, varied by a seeded generator,
    /// written straight into the tables (the triggers see them as they
    /// see the projector's).
    fn fill(c: &rusqlite::Connection, rng: &mut fastrand::Rng, n: usize) -> rusqlite::Result<()> {
        let statuses = [None, Some("resident"), Some("away"), Some("renting")];
        let tags = ["elderly_alone", "disabled", "low_income"];
        for h in 0..n {
            let grid = GRIDS[rng.usize(..GRIDS.len())];
            let id = format!("h{}", rng.u64(..));
            let holder = [None, Some(""), Some("u1"), Some("u2")][rng.usize(..4)];
            let visit = rng.bool().then(|| rng.i64(0..60) * DAY);
            let contact = rng.bool().then(|| rng.i64(0..60) * DAY);
            let building = format!("{}", h % 3);
            let people = rng.i64(0..4);
            c.execute(
                "INSERT INTO households (id, grid, area, compound, building, unit, room, address_key,
                    holder, residents, visits, last_visit_at, last_holder_contact_at)
                 VALUES (?1, ?2, '', 'c', ?3, '1', ?4, ?4, ?5, ?6, 0, ?7, ?8)",
                params![id, grid, building, format!("{h}"), holder, people, visit, contact],
            )?;
            for r in 0..people {
                let birth = [
                    None,
                    Some("1940-06-01".to_owned()),
                    Some(format!("19{:02}-12-{:02}", rng.u8(10..99), rng.u8(1..28))),
                    Some("2010-01-01".to_owned()),
                    Some("not a date".to_owned()),
                ][rng.usize(..5)]
                .clone();
                c.execute(
                    "INSERT INTO residents (household_id, key, grid, name, birth_date, status, tags)
                     VALUES (?1, ?2, ?3, 'x', ?4, ?5, '')",
                    params![id, r, grid, birth, statuses[rng.usize(..4)]],
                )?;
                if rng.bool() {
                    c.execute(
                        "INSERT INTO resident_tags (household_id, key, grid, tag) VALUES (?1, ?2, ?3, ?4)",
                        params![id, r, grid, tags[rng.usize(..3)]],
                    )?;
                }
            }
            for v in 0..rng.usize(0..4) {
                visit_row(c, rng, &id, &format!("{id}v{v}"), grid, false, &building)?;
            }
            if rng.u8(..5) == 0 {
                // A head's contact, at the household's building or not.
                let at = [building.as_str(), "elsewhere"][rng.usize(..2)];
                let key = format!("k{}", rng.u64(..));
                visit_row(c, rng, &id, &key, grid, true, at)?;
            }
        }
        Ok(())
    }

    fn visit_row(
        c: &rusqlite::Connection,
        rng: &mut fastrand::Rng,
        household: &str,
        key: &str,
        grid: &str,
        contact: bool,
        building: &str,
    ) -> rusqlite::Result<()> {
        c.execute(
            "INSERT INTO visits (household_id, key, grid, visitor, role, at, method, findings,
                needs, follow_up, corrected, contact, place_key, closed)
             VALUES (?1, ?2, ?3, 'u1', 'grid_worker', ?4, 'door', 'f', ?5, ?6, ?7, ?8, ?9,
                EXISTS (SELECT 1 FROM closed_needs WHERE visit_key = ?2))",
            params![
                household,
                key,
                grid,
                rng.i64(0..60) * DAY + rng.i64(0..DAY),
                ["", "", "漏水"][rng.usize(..3)],
                rng.u8(..4) == 0,
                rng.u8(..6) == 0,
                contact,
                format!("c|{building}"),
            ],
        )?;
        Ok(())
    }

    /// The figures of `prefix` the way the overview read them before
    /// summaries: straight from the rows.
    async fn direct(
        model: &ReadModel,
        prefix: &str,
        since: i64,
        today: &str,
        closed: &[String],
    ) -> Result<Summary, DbError> {
        let counts = counts_by(model, prefix, 15, since).await?;
        let p = profile(model, prefix, today.to_owned()).await?;
        Ok(Summary {
            households: counts.values().map(|c| c.households).sum(),
            residents: counts.values().map(|c| c.residents).sum(),
            visited: counts.values().map(|c| c.visited).sum(),
            unheld: unheld_count(model, prefix).await?,
            open_needs: needs(model, prefix)
                .await?
                .iter()
                .filter(|n| !closed.contains(&n.visit_key))
                .count() as i64,
            tags: tag_counts(model, prefix).await?.into_iter().collect(),
            status: p.status,
            ages: p.ages,
            holders: holder_coverage(model, prefix, since)
                .await?
                .into_iter()
                .map(|(h, held, contacted)| (h, (held, contacted)))
                .collect(),
        })
    }

    async fn summed(
        model: &ReadModel,
        prefix: &str,
        since: i64,
        today: &str,
    ) -> Result<Summary, DbError> {
        let mut whole = Summary::default();
        for s in summaries(model, prefix, since, today.to_owned())
            .await?
            .values()
        {
            whole.add(s);
        }
        Ok(whole)
    }

    async fn stale(model: &ReadModel) -> Result<Vec<String>, DbError> {
        model
            .run(|c| {
                c.prepare("SELECT grid FROM grid_summaries WHERE data IS NULL ORDER BY grid")?
                    .query_map([], |r| r.get(0))?
                    .collect()
            })
            .await
    }

    /// Summed summaries equal the figures read straight from the rows, for
    /// every level, after rows change, a need is closed, the period moves
    /// and the day turns; and a grid nothing touched is not computed again.
    #[tokio::test]
    async fn summed_summaries_are_the_figures_of_the_rows() -> Result<(), DbError> {
        let dir = tempfile::tempdir().map_err(|e| DbError::Task(e.to_string()))?;
        let model = ReadModel::open(&dir.path().join("rm.sqlite3")).await?;
        model
            .run(|c| fill(c, &mut fastrand::Rng::with_seed(7), 400))
            .await?;
        let prefixes = ["", "110105001", "110105001001", GRIDS[0], GRIDS[3]];
        let mut closed: Vec<String> = Vec::new();
        let check = async |since: i64, today: &str, closed: &[String]| {
            for prefix in prefixes {
                let want = direct(&model, prefix, since, today, closed).await?;
                assert!(want.households > 0, "{prefix}: no data to compare");
                assert_eq!(
                    summed(&model, prefix, since, today).await?,
                    want,
                    "{prefix}"
                );
                // Stored and read back the same.
                assert_eq!(
                    summed(&model, prefix, since, today).await?,
                    want,
                    "{prefix}"
                );
            }
            Ok::<_, DbError>(())
        };
        check(20 * DAY, "2026-12-05", &closed).await?;
        assert!(stale(&model).await?.is_empty());

        // New rows mark their grid stale, and only it.
        model.run(|c| fill_grid(c, GRIDS[1], 5)).await?;
        assert_eq!(stale(&model).await?, vec![GRIDS[1].to_owned()]);
        check(20 * DAY, "2026-12-05", &closed).await?;

        // A need closed in the main database and mirrored leaves the count.
        let open = needs(&model, "").await?;
        let key = open
            .first()
            .map(|n| n.visit_key.clone())
            .unwrap_or_default();
        closed.push(key.clone());
        mirror(&model, closed.clone(), 1).await?;
        assert_eq!(mirrored(&model).await?, Some(1));
        assert!(!stale(&model).await?.is_empty());
        check(20 * DAY, "2026-12-05", &closed).await?;
        let listed = super::super::open_needs(&model, "", 1000).await?;
        assert!(listed.iter().all(|n| n.visit_key != key));
        assert_eq!(
            listed.len() as i64,
            summed(&model, "", 20 * DAY, "2026-12-05").await?.open_needs
        );

        // The period moving on, a little (no visit crossed) and a lot.
        check(20 * DAY + 1, "2026-12-05", &closed).await?;
        check(45 * DAY, "2026-12-05", &closed).await?;
        // Moving back (a clock set back) and the day turning.
        check(10 * DAY, "2026-12-05", &closed).await?;
        check(10 * DAY, "2027-06-01", &closed).await?;
        Ok(())
    }

    fn fill_grid(c: &rusqlite::Connection, grid: &str, seed: u64) -> rusqlite::Result<()> {
        visit_row(
            c,
            &mut fastrand::Rng::with_seed(seed),
            "hx",
            "kx",
            grid,
            false,
            "0",
        )?;
        c.execute(
            "INSERT INTO households (id, grid, area, compound, building, unit, room, address_key,
                residents, visits, last_visit_at)
             VALUES ('hx', ?1, '', 'c', '0', '1', 'x', 'x', 0, 1, ?2)",
            params![grid, 30 * DAY],
        )?;
        Ok(())
    }

    /// The open needs of a street or more are listed by walking them in
    /// time order, of a community or grid by grid: no scan, no sort.
    #[tokio::test]
    async fn open_needs_are_listed_from_their_indexes() -> Result<(), DbError> {
        let dir = tempfile::tempdir().map_err(|e| DbError::Task(e.to_string()))?;
        let model = ReadModel::open(&dir.path().join("rm.sqlite3")).await?;
        model
            .run(|c| fill(c, &mut fastrand::Rng::with_seed(3), 200))
            .await?;
        for prefix in ["", "110105001", "110105001001", GRIDS[0]] {
            let want: Vec<_> = needs(&model, prefix).await?;
            let got = super::super::open_needs(&model, prefix, 1000).await?;
            assert!(!want.is_empty());
            assert_eq!(got, want, "{prefix}");
            let first = super::super::open_needs(&model, prefix, 3).await?;
            assert_eq!(first, want[..3.min(want.len())], "{prefix}");
        }
        Ok(())
    }
}
