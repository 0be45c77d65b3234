//! Importing the resident ledgers (居民台账) communities already keep, as
//! XLSX or CSV files with one row per resident and the household's
//! address (docs/import.md):
//!
//! - [`table`]: the file read into rows of text (calamine, csv);
//! - [`mapping`]: which column holds which field, guessed from the header
//!   names and saved per community once confirmed;
//! - [`row`]: each row checked on its own, with the core's code tables
//!   and validation (GB 11643 ID numbers, dates, codes or their names);
//! - here: each row matched against what the server already holds (the
//!   web read model, caught up first) — a household by grid and address,
//!   a resident by ID number or by name and birth date within it, an ID
//!   number already recorded in another household refused as a suspected
//!   duplicate — giving the dry run's [`Report`]; then the same plan
//!   written as changes by the importing person, through the push path
//!   every phone's push takes ([`crate::web::actor::edit_as`]: their
//!   guard, the server's validation), one push per grid, and an audit
//!   entry naming the file, the rows and the community.
//!
//! Importing the same file again changes nothing: every row matches a
//! resident already equal to it, so no change is made and the change log
//! does not move.

pub mod mapping;
pub mod row;
pub mod table;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use gridsync_core::clock::Clock;
use gridsync_core::household::{NewHousehold, Place, Resident};
use sha2::{Digest, Sha256};

use crate::principal::{Principal, Role};
use crate::state::AppState;
use crate::web::readmodel::import::{Existing, Known};
use crate::web::{WebError, WebResult};
use mapping::{Field, Saved};
use row::{Checked, Context, GridChoice, Problem};

/// The dry run's (and the import's) account of a file.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// The file's name as uploaded.
    pub file_name: String,
    /// The SHA-256 of its bytes (hex): what a dry run checked is what is
    /// imported.
    pub sha256: String,
    /// The community's code.
    pub community: String,
    /// Its name.
    pub community_name: String,
    /// Data rows read.
    pub rows: usize,
    /// Rows accepted (new, changed or already equal).
    pub accepted: usize,
    /// Rows refused, in file order.
    pub refused: Vec<Problem>,
    /// Of the refused rows, suspected duplicates of residents already
    /// recorded (or of an earlier row of the file).
    pub duplicates: usize,
    /// Households to create (created).
    pub new_households: usize,
    /// Residents to add (added), in new or existing households.
    pub new_residents: usize,
    /// Residents already recorded whose fields the file changes.
    pub updated_residents: usize,
    /// Residents already recorded just as the file has them.
    pub unchanged_residents: usize,
    /// Whether this is the account of an import done (else a dry run).
    pub imported: bool,
}

impl Report {
    /// Whether the import would change nothing.
    pub fn changes_nothing(&self) -> bool {
        self.new_households == 0 && self.new_residents == 0 && self.updated_residents == 0
    }

    /// The report as text (the command line's), with at most `max`
    /// refused rows listed.
    pub fn text(&self, max: usize) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{}：{}（{} {}）",
            if self.imported {
                "已导入"
            } else {
                "试导入（未写入）"
            },
            self.file_name,
            self.community_name,
            self.community
        );
        let _ = writeln!(
            s,
            "共 {} 行：接受 {} 行，拒绝 {} 行（其中疑似重复 {} 行）",
            self.rows,
            self.accepted,
            self.refused.len(),
            self.duplicates
        );
        let _ = writeln!(
            s,
            "新增住户 {} 户，新增居民 {} 人，更新居民 {} 人，无变化 {} 人",
            self.new_households,
            self.new_residents,
            self.updated_residents,
            self.unchanged_residents
        );
        if self.imported && self.changes_nothing() {
            let _ = writeln!(s, "与已有台账相同，未做任何修改");
        }
        for p in self.refused.iter().take(max) {
            let _ = writeln!(s, "第{}行\t{}\t{}\t{}", p.row, p.column, p.reason, p.value);
        }
        if self.refused.len() > max {
            let _ = writeln!(s, "……另有 {} 行被拒绝", self.refused.len() - max);
        }
        s
    }
}

/// The SHA-256 of `bytes`, hex.
pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Whether `p` may import into `community`: administrators, and
/// supervisors whose community or street it is.
pub fn may_import(p: &Principal, community: &str) -> bool {
    matches!(p.role, Role::Admin | Role::Supervisor) && crate::web::access::may_view(p, community)
}

/// The community's name and its grids as the importer sees them.
pub async fn context(state: &AppState, p: &Principal, community: &str) -> WebResult<Context> {
    if community.len() != 12 || !community.bytes().all(|b| b.is_ascii_digit()) {
        return Err(WebError::Bad("社区编码应为12位数字".into()));
    }
    if !may_import(p, community) {
        return Err(WebError::Forbidden);
    }
    if state.directory.community(community).await?.is_none() {
        return Err(WebError::Bad("未登记的社区编码".into()));
    }
    let grids = state
        .directory
        .grids(community)
        .await?
        .into_iter()
        .map(|g| GridChoice {
            in_scope: crate::web::access::may_read_grid(p, &g.code),
            code: g.code,
            name: g.name,
        })
        .collect();
    Ok(Context {
        community: community.to_owned(),
        grids,
        clock: Clock::System,
    })
}

async fn existing(state: &AppState, community: &str, ids: Vec<String>) -> WebResult<Existing> {
    crate::web::readmodel::catch_up(state).await?;
    Ok(crate::web::readmodel::import::existing(state.web.model(), community, ids).await?)
}

/// An address in words: 小区 楼栋 单元 房号.
fn address(place: &Place) -> String {
    [&place.compound, &place.building, &place.unit, &place.room]
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// What an import writes in one grid.
#[derive(Debug, Default)]
struct GridWrites {
    /// Households to create: address key → place and residents.
    new_households: BTreeMap<String, (Place, Vec<Resident>)>,
    /// Residents to add to households already recorded.
    add: BTreeMap<String, Vec<Resident>>,
    /// Residents to change: household, resident key, the file's values.
    update: Vec<(String, String, Resident)>,
}

impl GridWrites {
    fn is_empty(&self) -> bool {
        self.new_households.is_empty() && self.add.is_empty() && self.update.is_empty()
    }
}

/// The plan of an import: the report, and per grid what to write.
#[derive(Debug, Default)]
struct Plan {
    report: Report,
    grids: BTreeMap<String, GridWrites>,
}

/// Whether recording `new` over `old` changes anything: each field the
/// file fills that differs; tags only ever added.
fn differs(old: &Known, new: &Resident) -> bool {
    let field = |n: &Option<String>, o: &Option<String>| n.is_some() && n != o;
    new.name != old.name
        || field(&new.id_number, &old.id_number)
        || field(&new.sex, &old.sex)
        || field(&new.birth_date, &old.birth_date)
        || field(&new.ethnicity, &old.ethnicity)
        || field(&new.phone, &old.phone)
        || field(&new.relation, &old.relation)
        || field(&new.status, &old.status)
        || new.tags.iter().any(|t| !old.tags.iter().any(|o| o == t))
}

/// The file's values written over a recorded resident.
fn apply(cur: &mut Resident, new: &Resident) {
    cur.name = new.name.clone();
    for (to, from) in [
        (&mut cur.id_number, &new.id_number),
        (&mut cur.sex, &new.sex),
        (&mut cur.birth_date, &new.birth_date),
        (&mut cur.ethnicity, &new.ethnicity),
        (&mut cur.phone, &new.phone),
        (&mut cur.relation, &new.relation),
        (&mut cur.status, &new.status),
    ] {
        if from.is_some() {
            to.clone_from(from);
        }
    }
    for t in new.tags.iter() {
        cur.tags.insert(t);
    }
}

/// Read, check and match the file: what an import of it would do.
async fn plan(
    state: &AppState,
    p: &Principal,
    file_name: &str,
    bytes: &[u8],
    community: &str,
    mapping: &Saved,
) -> WebResult<Plan> {
    let ctx = context(state, p, community).await?;
    let community_name = state
        .directory
        .community(community)
        .await?
        .map(|c| c.name)
        .unwrap_or_default();
    let table = table::read(file_name, bytes).map_err(WebError::Bad)?;
    let cols = mapping::resolve(&table.headers, mapping).map_err(WebError::Bad)?;
    let mut report = Report {
        file_name: file_name.to_owned(),
        sha256: sha256(bytes),
        community: community.to_owned(),
        community_name,
        rows: table.rows.len(),
        ..Report::default()
    };
    let mut checked = Vec::with_capacity(table.rows.len());
    for r in &table.rows {
        match row::check(r, &cols, &ctx) {
            Ok(c) => checked.push(c),
            Err(problem) => report.refused.push(problem),
        }
    }
    let ids: Vec<String> = checked
        .iter()
        .filter_map(|c| c.resident.id_number.clone())
        .collect();
    let known = existing(state, community, ids).await?;
    let mut grids: BTreeMap<String, GridWrites> = BTreeMap::new();
    // The file's own rows: ID number → row; (household, name, birth) → row.
    let mut seen_ids: HashMap<String, usize> = HashMap::new();
    let mut seen_people: HashMap<(String, String, String, Option<String>), usize> = HashMap::new();
    let mut per_household: HashMap<(String, String), usize> = HashMap::new();
    let duplicate = |c: &Checked, f: Field, reason: String| Problem {
        row: c.row,
        column: cols.name(f),
        reason,
        value: row::masked(
            f,
            c.resident.id_number.as_deref().unwrap_or(&c.resident.name),
        ),
    };
    for c in checked {
        let r = &c.resident;
        let key = (c.grid.clone(), c.place.address_key());
        let household = known.households.get(&key);
        let residents = household
            .and_then(|h| known.residents.get(h))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        // Earlier rows of the file.
        if let Some(id) = &r.id_number
            && let Some(first) = seen_ids.get(id)
        {
            report.duplicates += 1;
            report.refused.push(duplicate(
                &c,
                Field::IdNumber,
                format!("疑似重复：与第{first}行的公民身份号码相同"),
            ));
            continue;
        }
        let person = (
            key.0.clone(),
            key.1.clone(),
            r.name.clone(),
            r.birth_date.clone(),
        );
        if let Some(first) = seen_people.get(&person) {
            report.duplicates += 1;
            report.refused.push(Problem {
                value: row::masked(Field::Name, &r.name),
                ..duplicate(
                    &c,
                    Field::Name,
                    format!("疑似重复：与第{first}行同一住户、同名、同出生日期"),
                )
            });
            continue;
        }
        // The household's residents: by ID number, else by name and birth.
        let by_id = r
            .id_number
            .as_ref()
            .and_then(|id| residents.iter().find(|k| k.id_number.as_ref() == Some(id)));
        let by_person = || {
            residents
                .iter()
                .find(|k| k.name == r.name && k.birth_date == r.birth_date)
        };
        let matched = match by_id {
            Some(k) => Some(k),
            None => match by_person() {
                Some(k) if r.id_number.is_some() && k.id_number.is_some() => {
                    report.duplicates += 1;
                    report.refused.push(duplicate(
                        &c,
                        Field::IdNumber,
                        "疑似重复：本户已有同名、同出生日期的居民，但公民身份号码不同".into(),
                    ));
                    continue;
                }
                other => other,
            },
        };
        // Recorded in another household?
        if matched.is_none()
            && let Some(id) = &r.id_number
            && let Some(at) = known.ids.get(id)
            && Some(&at.household) != household
        {
            let where_ = if crate::web::access::may_read_grid(p, &at.grid) {
                format!("（{}）", address(&at.place))
            } else {
                "（不在您负责的范围内）".to_owned()
            };
            report.duplicates += 1;
            report.refused.push(duplicate(
                &c,
                Field::IdNumber,
                format!("疑似重复：该公民身份号码已登记在其他住户{where_}"),
            ));
            continue;
        }
        if matched.is_none() {
            let n = per_household.entry(key.clone()).or_insert(residents.len());
            if *n >= gridsync_core::shape::RESIDENTS_PER_HOUSEHOLD {
                report.refused.push(Problem {
                    row: c.row,
                    column: cols.name(Field::Room),
                    reason: format!(
                        "该住户居民人数已达上限（{}人）",
                        gridsync_core::shape::RESIDENTS_PER_HOUSEHOLD
                    ),
                    value: row::masked(Field::Room, &c.place.room),
                });
                continue;
            }
            *n += 1;
        }
        if let Some(id) = &r.id_number {
            seen_ids.insert(id.clone(), c.row);
        }
        seen_people.insert(person, c.row);
        report.accepted += 1;
        let writes = grids.entry(c.grid.clone()).or_default();
        match (household, matched) {
            (Some(h), Some(k)) => {
                if differs(k, r) {
                    report.updated_residents += 1;
                    writes
                        .update
                        .push((h.clone(), k.key.clone(), c.resident.clone()));
                } else {
                    report.unchanged_residents += 1;
                }
            }
            (Some(h), None) => {
                report.new_residents += 1;
                writes
                    .add
                    .entry(h.clone())
                    .or_default()
                    .push(c.resident.clone());
            }
            (None, _) => {
                report.new_residents += 1;
                let entry = writes
                    .new_households
                    .entry(key.1.clone())
                    .or_insert_with(|| {
                        report.new_households += 1;
                        (c.place.clone(), Vec::new())
                    });
                entry.1.push(c.resident.clone());
            }
        }
    }
    report.refused.sort_by_key(|p| p.row);
    grids.retain(|_, w| !w.is_empty());
    Ok(Plan { report, grids })
}

/// The dry run: what importing the file would do, nothing written.
pub async fn dry_run(
    state: &AppState,
    p: &Principal,
    file_name: &str,
    bytes: &[u8],
    community: &str,
    mapping: &Saved,
) -> WebResult<Report> {
    Ok(plan(state, p, file_name, bytes, community, mapping)
        .await?
        .report)
}

/// One import at a time in this process, so two uploads of one file
/// cannot both find a household missing and both create it.
static IMPORTING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Import the file as `p`: the dry run's plan written, one push per grid,
/// by `p`, through the push path; an audit entry. Refused rows are left
/// out (the report lists them).
pub async fn import(
    state: &AppState,
    p: &Principal,
    file_name: &str,
    bytes: &[u8],
    community: &str,
    mapping: &Saved,
) -> WebResult<Report> {
    let _one = IMPORTING.lock().await;
    let plan = plan(state, p, file_name, bytes, community, mapping).await?;
    for (grid, writes) in plan.grids {
        write_grid(state, p, grid, writes).await?;
    }
    let mut report = plan.report;
    report.imported = true;
    let detail = format!(
        "文件：{}；共{}行，导入{}行（新增住户{}户、新增居民{}人、更新居民{}人、无变化{}人），拒绝{}行（其中疑似重复{}行）",
        report.file_name,
        report.rows,
        report.accepted,
        report.new_households,
        report.new_residents,
        report.updated_residents,
        report.unchanged_residents,
        report.refused.len(),
        report.duplicates,
    );
    crate::web::audit::record(
        state.web.main(),
        p,
        "导入台账",
        &format!("{}（{}）", report.community_name, report.community),
        &detail,
    )
    .await?;
    Ok(report)
}

/// Write one grid's part: places the grid lacks, new households with
/// their residents, residents added and changed — as `p`, one push.
async fn write_grid(
    state: &AppState,
    p: &Principal,
    grid: String,
    writes: GridWrites,
) -> WebResult<()> {
    let mut docs = vec![crate::sync::grid_doc_id(&grid)];
    docs.extend(writes.add.keys().cloned());
    docs.extend(writes.update.iter().map(|(h, _, _)| h.clone()));
    docs.sort();
    docs.dedup();
    crate::web::actor::edit_as(state, p, &docs, move |s| {
        s.batch(|s| {
            let known = s.grid(&grid)?;
            let mut added = std::collections::BTreeSet::new();
            for (place, _) in writes.new_households.values() {
                if !known.contains(place) {
                    let k = (
                        place.area.clone(),
                        place.compound.clone(),
                        place.building.clone(),
                        place.unit.clone(),
                    );
                    if added.insert(k) {
                        s.add_place(
                            &grid,
                            &place.area,
                            &place.compound,
                            &place.building,
                            &place.unit,
                        )?;
                    }
                }
            }
            for (place, residents) in writes.new_households.into_values() {
                s.create_household(NewHousehold {
                    grid: grid.clone(),
                    place,
                    residents,
                    ..NewHousehold::default()
                })?;
            }
            for (h, residents) in writes.add {
                for r in residents {
                    s.add_resident(&h, r)?;
                }
            }
            for (h, key, new) in writes.update {
                s.update_resident(&h, &key, |cur| apply(cur, &new))?;
            }
            Ok(())
        })
    })
    .await
}

/// `gridsync-server import-ledger` options.
#[derive(Debug, clap::Args)]
pub struct LedgerArgs {
    /// The ledger file: .xlsx, .xls or .csv (UTF-8 or GB18030).
    #[arg(long)]
    pub file: std::path::PathBuf,
    /// The community's 12-digit code.
    #[arg(long)]
    pub community: String,
    /// The login name of the person importing (an admin, or a supervisor
    /// of the community): the changes are theirs.
    #[arg(long = "as", value_name = "USERNAME")]
    pub as_user: String,
    /// The columns as JSON, field → column name, e.g.
    /// '{"name":"姓名","id_number":"身份证号","building":"楼栋","room":"房号"}';
    /// saved for the community when the import runs. Without it, the
    /// community's saved mapping, else the column names, are used.
    #[arg(long)]
    pub mapping: Option<String>,
    /// Only check and report; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Run `import-ledger`: print the report; an error (exit code 1) when the
/// file, the mapping, the user or the community is unusable, or when rows
/// were refused and none accepted.
pub async fn run_cli(state: &AppState, args: LedgerArgs) -> anyhow::Result<()> {
    let user = state
        .directory
        .user_by_username(&args.as_user)
        .await?
        .filter(|u| u.active)
        .ok_or_else(|| anyhow::anyhow!("没有该用户或已停用：{}", args.as_user))?;
    let p = user.principal(None);
    let bytes = std::fs::read(&args.file)
        .map_err(|e| anyhow::anyhow!("无法读取文件 {}：{e}", args.file.display()))?;
    let file_name = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let given: Option<Saved> = match &args.mapping {
        Some(text) => Some(
            serde_json::from_str(text)
                .map_err(|_| anyhow::anyhow!("--mapping 应为 JSON 对象：{{\"字段\":\"列名\"}}"))?,
        ),
        None => None,
    };
    let table = table::read(&file_name, &bytes).map_err(|e| anyhow::anyhow!(e))?;
    let mapping = match &given {
        Some(m) => m.clone(),
        None => {
            let saved = mapping::load(state.web.main(), &args.community).await?;
            mapping::prefill(&table.headers, saved.as_ref())
        }
    };
    let run = if args.dry_run {
        dry_run(state, &p, &file_name, &bytes, &args.community, &mapping).await
    } else {
        import(state, &p, &file_name, &bytes, &args.community, &mapping).await
    };
    let report = run.map_err(|e| anyhow::anyhow!("{e}"))?;
    if given.is_some() && !args.dry_run {
        mapping::save(state.web.main(), &args.community, &mapping, &p.user_id).await?;
    }
    print!("{}", report.text(100));
    if report.accepted == 0 && !report.refused.is_empty() {
        anyhow::bail!("没有可导入的行：{} 行全部被拒绝", report.refused.len());
    }
    Ok(())
}
