//! The territory file: streets (街道, 9 digits), communities (社区, 12
//! digits = street + 3) and grids (网格, 15 digits = community + 3), read
//! from JSON or CSV, validated, and imported into the [`Directory`] all or
//! nothing. Used by `gridsync-server import FILE` and by the admin endpoints
//! `POST /v1/admin/territory` (JSON) and `POST /v1/admin/territory/csv`.
//!
//! Every problem found is reported (up to [`MAX_PROBLEMS`]) with where it
//! is — the line of a CSV file, the path of a JSON value — and why, in
//! Chinese and English. The formats are documented in `docs/territory.md`.
//!
//! [`Directory`]: crate::directory::Directory

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use gridsync_core::Reason;
use gridsync_core::codes::{CommunityCode, GridCode, StreetCode};
use serde::{Deserialize, Serialize};

use crate::directory::{
    CommunityInfo, Directory, DirectoryError, GridInfo, ImportSummary, StreetInfo, TerritoryRows,
    UpsertCounts,
};
use crate::state::AppState;

/// At most this many problems are listed; the count of the rest follows.
pub const MAX_PROBLEMS: usize = 50;

/// Longest name accepted, in characters.
const MAX_NAME_CHARS: usize = 100;

/// The CSV columns, in the documented order.
pub const CSV_COLUMNS: [&str; 6] = [
    "street_code",
    "street_name",
    "community_code",
    "community_name",
    "grid_code",
    "grid_name",
];

// ------------------------------------------------------------------ formats

/// The JSON file: streets holding communities holding grids.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Territory {
    /// Streets.
    pub streets: Vec<StreetEntry>,
}

/// A street in the JSON file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreetEntry {
    /// 9-digit code.
    pub code: String,
    /// Name, e.g. 建国门街道.
    pub name: String,
    /// Its communities.
    #[serde(default)]
    pub communities: Vec<CommunityEntry>,
}

/// A community in the JSON file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommunityEntry {
    /// 12-digit code starting with its street's code.
    pub code: String,
    /// Name, e.g. 幸福社区.
    pub name: String,
    /// Its grids.
    #[serde(default)]
    pub grids: Vec<GridEntry>,
}

/// A grid in the JSON file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridEntry {
    /// 15-digit code starting with its community's code.
    pub code: String,
    /// Name, e.g. 第一网格.
    pub name: String,
}

/// The two file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.json`, see [`Territory`].
    Json,
    /// `.csv`, one row per grid with the [`CSV_COLUMNS`].
    Csv,
}

impl Format {
    /// The format named by a file's extension (case-insensitive).
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "json" => Some(Format::Json),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }
}

// ----------------------------------------------------------------- problems

/// Where a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The whole file.
    File,
    /// A line of the file (1-based).
    Line(u64),
    /// A value of the JSON file, e.g. `streets[0].communities[1].grids[2]`.
    Path(String),
}

/// One thing wrong with a territory file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where.
    pub location: Location,
    /// The column (CSV) or key (JSON) concerned; empty for the whole row.
    pub field: String,
    /// Why.
    pub reason: Reason,
}

impl Problem {
    fn new(location: Location, field: impl Into<String>, reason: Reason) -> Self {
        Self {
            location,
            field: field.into(),
            reason,
        }
    }

    /// Where, in Chinese and in English, with the field.
    pub(crate) fn place(&self) -> (String, String) {
        let (zh, en) = match &self.location {
            Location::File => ("文件".to_owned(), "file".to_owned()),
            Location::Line(n) => (format!("第{n}行"), format!("line {n}")),
            Location::Path(p) => (p.clone(), p.clone()),
        };
        if self.field.is_empty() {
            (zh, en)
        } else {
            (
                format!("{zh} {}", self.field),
                format!("{en}, {}", self.field),
            )
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (zh, en) = self.place();
        write!(f, "{zh}：{} / {en}: {}", self.reason.zh, self.reason.en)
    }
}

/// The problems of an invalid file; nothing was imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems {
    /// The first [`MAX_PROBLEMS`] problems, in file order.
    pub list: Vec<Problem>,
    /// How many more were not listed.
    pub more: usize,
}

impl Problems {
    fn one(problem: Problem) -> Self {
        Self {
            list: vec![problem],
            more: 0,
        }
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "辖区文件有误，未导入任何数据 / invalid territory file, nothing imported"
        )?;
        for p in &self.list {
            write!(f, "\n  {p}")?;
        }
        if self.more > 0 {
            write!(f, "\n  ……另有{0}处错误 / … and {0} more", self.more)?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// Why an import failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TerritoryError {
    /// The file is invalid; nothing was imported.
    #[error("{0}")]
    Invalid(Problems),
    /// The directory failed; nothing was imported.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
}

// ------------------------------------------------------------- code checks

/// A street (街道/乡镇) code: 9 digits, a valid province, not ending in 000
/// (the core's [`StreetCode`]).
pub fn check_street_code(code: &str) -> Result<(), Reason> {
    StreetCode::parse(code).map(|_| ())
}

/// A community (社区/村) code: 12 digits, a valid street code followed by
/// three digits that are not 000 (the core's [`CommunityCode`]).
pub fn check_community_code(code: &str) -> Result<(), Reason> {
    CommunityCode::parse(code).map(|_| ())
}

/// A supervisor's subtree: a community (12 digits) or street (9 digits) code.
pub fn check_subtree_code(code: &str) -> Result<(), Reason> {
    match code.len() {
        StreetCode::LEN => check_street_code(code),
        CommunityCode::LEN => check_community_code(code),
        _ => Err(Reason::new(
            "管辖范围应为12位社区编码或9位街道编码",
            "subtree must be a 12-digit community code or a 9-digit street code",
        )),
    }
}

fn check_name(name: &str, what_zh: &str, what_en: &str) -> Result<String, Reason> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Reason::new(
            format!("{what_zh}名称不能为空"),
            format!("{what_en} name must not be empty"),
        ));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(Reason::new(
            format!("{what_zh}名称不能超过{MAX_NAME_CHARS}个字符"),
            format!("{what_en} name must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(Reason::new(
            format!("{what_zh}名称不能包含控制字符"),
            format!("{what_en} name must not contain control characters"),
        ));
    }
    Ok(name.to_owned())
}

// --------------------------------------------------------------- validation

/// Collects entries from either format, checking codes, names, prefixes,
/// duplicates and (CSV) that a code repeated on several rows keeps its name.
struct Collector {
    /// CSV repeats a street and community on each of its grids' rows.
    repeats_allowed: bool,
    streets: BTreeMap<String, String>,
    communities: BTreeMap<String, String>,
    grids: BTreeMap<String, String>,
    problems: Vec<Problem>,
}

/// The three field names of one level, per format.
struct Fields {
    code: &'static str,
    name: &'static str,
}

impl Collector {
    fn new(repeats_allowed: bool) -> Self {
        Self {
            repeats_allowed,
            streets: BTreeMap::new(),
            communities: BTreeMap::new(),
            grids: BTreeMap::new(),
            problems: Vec::new(),
        }
    }

    fn problem(&mut self, location: &Location, field: &str, reason: Reason) {
        self.problems
            .push(Problem::new(location.clone(), field, reason));
    }

    /// Record one entry of `level` (0 street, 1 community, 2 grid) whose
    /// parent is `parent` (None for streets, or when the parent was invalid).
    /// Whether the code was valid (so children may be checked against it).
    fn add(
        &mut self,
        level: usize,
        location: &Location,
        fields: &Fields,
        parent: Option<&str>,
        code: &str,
        name: &str,
    ) -> bool {
        let code = code.trim();
        let (what_zh, what_en) =
            [("街道", "street"), ("社区", "community"), ("网格", "grid")][level];
        let code_check = match level {
            0 => check_street_code(code),
            1 => check_community_code(code),
            _ => GridCode::parse(code).map(|_| ()),
        };
        let mut ok = match code_check {
            Ok(()) => true,
            Err(reason) => {
                self.problem(location, fields.code, reason);
                false
            }
        };
        if ok
            && let Some(parent) = parent
            && !code.starts_with(parent)
        {
            let (parent_zh, parent_en) = [
                ("", ""),
                ("所属街道", "its street's"),
                ("所属社区", "its community's"),
            ][level];
            self.problem(
                location,
                fields.code,
                Reason::new(
                    format!("{what_zh}编码应以{parent_zh}编码 {parent} 开头"),
                    format!("{what_en} code must start with {parent_en} code {parent}"),
                ),
            );
            ok = false;
        }
        let name = match check_name(name, what_zh, what_en) {
            Ok(n) => Some(n),
            Err(reason) => {
                self.problem(location, fields.name, reason);
                None
            }
        };
        if !ok {
            return false;
        }
        let Some(name) = name else {
            // The code is fine; children can still be checked against it.
            return true;
        };
        let repeats_allowed = self.repeats_allowed && level < 2;
        let map = match level {
            0 => &mut self.streets,
            1 => &mut self.communities,
            _ => &mut self.grids,
        };
        match map.get(code) {
            None => {
                map.insert(code.to_owned(), name);
            }
            Some(_) if !repeats_allowed => self.problem(
                location,
                fields.code,
                Reason::new(
                    format!("{what_zh}编码 {code} 重复出现"),
                    format!("{what_en} code {code} appears more than once"),
                ),
            ),
            Some(known) if *known != name => self.problem(
                location,
                fields.name,
                Reason::new(
                    format!("{what_zh} {code} 的名称与前面的行不一致"),
                    format!("{what_en} {code} has a different name than on an earlier line"),
                ),
            ),
            Some(_) => {}
        }
        true
    }

    fn finish(mut self) -> Result<TerritoryRows, Problems> {
        if self.problems.is_empty() && self.streets.is_empty() {
            self.problems.push(Problem::new(
                Location::File,
                "",
                Reason::new(
                    "文件中没有任何街道、社区或网格",
                    "the file contains no streets, communities or grids",
                ),
            ));
        }
        if !self.problems.is_empty() {
            let more = self.problems.len().saturating_sub(MAX_PROBLEMS);
            self.problems.truncate(MAX_PROBLEMS);
            return Err(Problems {
                list: self.problems,
                more,
            });
        }
        Ok(TerritoryRows {
            streets: self
                .streets
                .into_iter()
                .map(|(code, name)| StreetInfo { code, name })
                .collect(),
            communities: self
                .communities
                .into_iter()
                .map(|(code, name)| CommunityInfo {
                    street_code: code[..StreetCode::LEN].to_owned(),
                    code,
                    name,
                })
                .collect(),
            grids: self
                .grids
                .into_iter()
                .map(|(code, name)| GridInfo {
                    street_code: code[..StreetCode::LEN].to_owned(),
                    community_code: code[..CommunityCode::LEN].to_owned(),
                    code,
                    name,
                })
                .collect(),
        })
    }
}

impl Territory {
    /// Check every entry; the rows to import, sorted by code.
    pub fn validate(&self) -> Result<TerritoryRows, Problems> {
        const FIELDS: Fields = Fields {
            code: "code",
            name: "name",
        };
        let mut c = Collector::new(false);
        for (i, s) in self.streets.iter().enumerate() {
            let path = format!("streets[{i}]");
            let street_ok = c.add(
                0,
                &Location::Path(path.clone()),
                &FIELDS,
                None,
                &s.code,
                &s.name,
            );
            let street = street_ok.then(|| s.code.trim());
            for (j, m) in s.communities.iter().enumerate() {
                let path = format!("{path}.communities[{j}]");
                let community_ok = c.add(
                    1,
                    &Location::Path(path.clone()),
                    &FIELDS,
                    street,
                    &m.code,
                    &m.name,
                );
                let community = (street_ok && community_ok).then(|| m.code.trim());
                for (k, g) in m.grids.iter().enumerate() {
                    let path = Location::Path(format!("{path}.grids[{k}]"));
                    c.add(2, &path, &FIELDS, community, &g.code, &g.name);
                }
            }
        }
        c.finish()
    }

    /// The territory as stored (for export), in the JSON file's shape.
    pub fn from_rows(
        streets: Vec<StreetInfo>,
        communities: Vec<CommunityInfo>,
        grids: Vec<GridInfo>,
    ) -> Self {
        let mut by_community: BTreeMap<String, Vec<GridEntry>> = BTreeMap::new();
        for g in grids {
            by_community
                .entry(g.community_code)
                .or_default()
                .push(GridEntry {
                    code: g.code,
                    name: g.name,
                });
        }
        let mut by_street: BTreeMap<String, Vec<CommunityEntry>> = BTreeMap::new();
        for m in communities {
            let grids = by_community.remove(&m.code).unwrap_or_default();
            by_street
                .entry(m.street_code)
                .or_default()
                .push(CommunityEntry {
                    code: m.code,
                    name: m.name,
                    grids,
                });
        }
        Territory {
            streets: streets
                .into_iter()
                .map(|s| StreetEntry {
                    communities: by_street.remove(&s.code).unwrap_or_default(),
                    code: s.code,
                    name: s.name,
                })
                .collect(),
        }
    }
}

/// Read and validate a JSON territory file.
pub fn parse_json(bytes: &[u8]) -> Result<TerritoryRows, Problems> {
    let territory: Territory = serde_json::from_slice(bytes).map_err(|e| {
        let location = if e.line() > 0 {
            Location::Line(e.line() as u64)
        } else {
            Location::File
        };
        Problems::one(Problem::new(
            location,
            "",
            Reason::new(
                format!("JSON格式错误（第{}列）", e.column()),
                format!("invalid JSON: {e}"),
            ),
        ))
    })?;
    territory.validate()
}

fn not_utf8() -> Problem {
    Problem::new(
        Location::File,
        "",
        Reason::new(
            "文件不是UTF-8编码：请在Excel中选择“另存为 → CSV UTF-8（逗号分隔）”",
            "the file is not UTF-8; save it as \"CSV UTF-8\"",
        ),
    )
}

/// Read and validate a CSV territory file (UTF-8, with or without BOM, a
/// header row naming the [`CSV_COLUMNS`] in any order; other columns are
/// ignored; blank lines are skipped).
pub fn parse_csv(bytes: &[u8]) -> Result<TerritoryRows, Problems> {
    if std::str::from_utf8(bytes).is_err() {
        return Err(Problems::one(not_utf8()));
    }
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| Problems::one(csv_problem(&e)))?
        .clone();
    let mut index = [0usize; 6];
    let mut missing = Vec::new();
    for (slot, column) in index.iter_mut().zip(CSV_COLUMNS) {
        match headers.iter().position(|h| h.eq_ignore_ascii_case(column)) {
            Some(i) => *slot = i,
            None => missing.push(Problem::new(
                Location::Line(1),
                column,
                Reason::new(
                    format!("缺少列 {column}（表头应为 {}）", CSV_COLUMNS.join(",")),
                    format!(
                        "missing column {column} (the header must be {})",
                        CSV_COLUMNS.join(",")
                    ),
                ),
            )),
        }
    }
    if !missing.is_empty() {
        return Err(Problems {
            list: missing,
            more: 0,
        });
    }
    let mut c = Collector::new(true);
    const FIELDS: [Fields; 3] = [
        Fields {
            code: CSV_COLUMNS[0],
            name: CSV_COLUMNS[1],
        },
        Fields {
            code: CSV_COLUMNS[2],
            name: CSV_COLUMNS[3],
        },
        Fields {
            code: CSV_COLUMNS[4],
            name: CSV_COLUMNS[5],
        },
    ];
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                c.problems.push(csv_problem(&e));
                continue;
            }
        };
        let line = Location::Line(record.position().map_or(0, |p| p.line()));
        if record.iter().all(str::is_empty) {
            continue;
        }
        let get = |i: usize| record.get(index[i]).unwrap_or("");
        let street_ok = c.add(0, &line, &FIELDS[0], None, get(0), get(1));
        let street = street_ok.then(|| get(0));
        let community_ok = c.add(1, &line, &FIELDS[1], street, get(2), get(3));
        let community = (street_ok && community_ok).then(|| get(2));
        c.add(2, &line, &FIELDS[2], community, get(4), get(5));
    }
    c.finish()
}

fn csv_problem(e: &csv::Error) -> Problem {
    let location = e
        .position()
        .map_or(Location::File, |p| Location::Line(p.line()));
    let reason = match e.kind() {
        csv::ErrorKind::Utf8 { .. } => return not_utf8(),
        csv::ErrorKind::UnequalLengths { .. } => {
            Reason::new("列数与表头不一致", "wrong number of columns")
        }
        _ => Reason::new("无法读取CSV", format!("unreadable CSV: {e}")),
    };
    Problem::new(location, "", reason)
}

/// Parse `bytes` in `format`.
pub fn parse(format: Format, bytes: &[u8]) -> Result<TerritoryRows, Problems> {
    match format {
        Format::Json => parse_json(bytes),
        Format::Csv => parse_csv(bytes),
    }
}

/// Validate and import, all or nothing.
pub async fn import(
    directory: &dyn Directory,
    format: Format,
    bytes: &[u8],
) -> Result<ImportSummary, TerritoryError> {
    let rows = parse(format, bytes).map_err(TerritoryError::Invalid)?;
    Ok(directory.import_territory(&rows).await?)
}

/// Everything stored, in the JSON file's shape.
pub async fn export(directory: &dyn Directory) -> Result<Territory, DirectoryError> {
    Ok(Territory::from_rows(
        directory.streets().await?,
        directory.communities("").await?,
        directory.grids("").await?,
    ))
}

// ---------------------------------------------------------------------- CLI

/// `gridsync-server import FILE`.
#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// The territory file: `.json` or `.csv` (UTF-8), see docs/territory.md.
    pub file: PathBuf,
    /// Check the file and report what would change, without importing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Run `import`.
pub async fn run_cli(state: &AppState, args: ImportArgs) -> anyhow::Result<()> {
    let format = Format::from_path(&args.file).with_context(|| {
        format!(
            "无法识别文件格式，请使用 .json 或 .csv 文件 / unknown format of {}: use a .json or .csv file",
            args.file.display()
        )
    })?;
    let bytes =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let rows = parse(format, &bytes)?;
    if args.dry_run {
        println!(
            "文件有效（未导入）/ file is valid (not imported): {} 街道 streets, {} 社区 communities, {} 网格 grids",
            rows.streets.len(),
            rows.communities.len(),
            rows.grids.len()
        );
        return Ok(());
    }
    let summary = state.directory.import_territory(&rows).await?;
    print!("{}", summary_table(&summary));
    Ok(())
}

/// The summary of an import as a small table.
pub fn summary_table(summary: &ImportSummary) -> String {
    let row = |zh: &str, en: &str, c: &UpsertCounts| {
        vec![
            format!("{zh} {en}"),
            c.created.to_string(),
            c.updated.to_string(),
            c.unchanged.to_string(),
        ]
    };
    let mut out = String::from("导入完成 / import done\n");
    out.push_str(&crate::admin::table(
        &["", "新增 created", "改名 renamed", "未变 unchanged"],
        &[
            row("街道", "streets", &summary.streets),
            row("社区", "communities", &summary.communities),
            row("网格", "grids", &summary.grids),
        ],
    ));
    out
}
