//! Exports ("数据填报一张表"): the resident ledger by territory, grid or
//! building, the visit log and the report list, as XLSX (rust_xlsxwriter)
//! or CSV (UTF-8 with a byte-order mark, so Excel reads the Chinese
//! headers). ID numbers and phones are masked unless a supervisor or admin
//! asks for the full file (`full=1`); every export is written to the audit
//! log. XLSX files of the ledger also carry a summary sheet per grid
//! (district-style: households, residents, attention groups, coverage,
//! open and overdue reports); those of the report list carry the loop's
//! figures (事件统计: 办结率, 按期办结率, 满意度, per grid worker and per
//! department with the median handling time, over the last 30 days),
//! also alone as `figures.csv`.
//!
//! A CSV cell a spreadsheet would run as a formula (text beginning with
//! `=`, `+`, `-`, `@`, a tab or a carriage return: OWASP's CSV injection)
//! is written with a leading `'`, which spreadsheets show as text and do
//! not run. XLSX cells are typed strings already and are written as they are.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use gridsync_core::codes::AttentionTag;
use rusqlite::params;
use serde::Deserialize;

use super::pages::{PERIOD_DAYS, pct, urlencode, when};
use super::readmodel::{self, upper};
use super::session::WebUser;
use super::{WebError, WebResult, access, audit, mask};
use crate::state::AppState;

/// What to export.
#[derive(Debug, Default, Deserialize)]
pub struct ExportQuery {
    /// A territory code (street, community, grid); "" for an admin's all.
    #[serde(default)]
    pub code: Option<String>,
    /// A grid (with `building`).
    #[serde(default)]
    pub grid: Option<String>,
    /// A building of `grid`.
    #[serde(default)]
    pub building: Option<String>,
    /// `1`: ID numbers and phones in full (supervisors and admins).
    #[serde(default)]
    pub full: Option<u8>,
}

/// A cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text.
    Text(String),
    /// A number.
    Num(f64),
    /// A share, 0–1, shown as a percentage.
    Pct(f64),
}

impl Cell {
    fn text(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Num(n) if n.fract() == 0.0 => format!("{n:.0}"),
            Cell::Num(n) => n.to_string(),
            Cell::Pct(p) => format!("{:.1}%", p * 100.0),
        }
    }
}

fn t(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

fn n(v: i64) -> Cell {
    Cell::Num(v as f64)
}

/// One sheet.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Sheet name.
    pub sheet: String,
    /// Column headers, in Chinese.
    pub headers: Vec<&'static str>,
    /// Rows.
    pub rows: Vec<Vec<Cell>>,
}

/// The tables as an XLSX workbook.
pub fn xlsx(tables: &[Table]) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold().set_background_color(0xF2F2F2);
    let percent = Format::new().set_num_format("0.0%");
    for table in tables {
        let ws = wb.add_worksheet();
        ws.set_name(&table.sheet)?;
        for (c, h) in table.headers.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, *h, &bold)?;
            let width = if h.contains("号码") || h.contains("情况") || h.contains("描述") {
                22.0
            } else {
                12.0
            };
            ws.set_column_width(c as u16, width)?;
        }
        for (r, row) in table.rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                let (r, c) = (r as u32 + 1, c as u16);
                match cell {
                    Cell::Text(s) => ws.write_string(r, c, s)?,
                    Cell::Num(v) => ws.write_number(r, c, *v)?,
                    Cell::Pct(v) => ws.write_number_with_format(r, c, *v, &percent)?,
                };
            }
        }
        ws.set_freeze_panes(1, 0)?;
    }
    wb.save_to_buffer()
}

/// The text of a CSV cell that no spreadsheet runs as a formula: text
/// beginning with a formula character gets a leading `'`. Numbers we
/// wrote as numbers (a negative one begins with `-`) stay numbers.
pub fn csv_cell(cell: &Cell) -> String {
    match cell {
        Cell::Text(s) if s.starts_with(['=', '+', '-', '@', '\t', '\r']) => format!("'{s}"),
        other => other.text(),
    }
}

/// The first table as CSV, UTF-8 with a byte-order mark.
pub fn csv(table: &Table) -> Result<Vec<u8>, csv::Error> {
    let mut out = b"\xEF\xBB\xBF".to_vec();
    {
        let mut w = csv::Writer::from_writer(&mut out);
        w.write_record(&table.headers)?;
        for row in &table.rows {
            w.write_record(row.iter().map(csv_cell))?;
        }
        w.flush()?;
    }
    Ok(out)
}

/// Which records an export covers.
#[derive(Debug, Clone)]
pub struct Selection {
    /// Codes from `lo` (inclusive) to `hi` (exclusive).
    pub lo: String,
    /// Upper bound.
    pub hi: String,
    /// Only this building.
    pub building: Option<String>,
}

impl Selection {
    /// Everything under territory `code`.
    pub fn under(code: &str) -> Self {
        Self {
            lo: code.to_owned(),
            hi: upper(code),
            building: None,
        }
    }
}

/// The resident ledger of `sel`, masked unless `full`.
pub async fn ledger(
    model: &readmodel::ReadModel,
    sel: Selection,
    full: bool,
) -> Result<Table, crate::db::DbError> {
    let rows = model
        .run(move |c| {
            let mut st = c.prepare(
                "SELECT h.grid, h.area, h.compound, h.building, h.unit, h.room, r.name, r.id_number,
                        r.sex, r.birth_date, r.ethnicity, r.phone, r.relation, r.status, r.tags
                 FROM residents r JOIN households h ON h.id = r.household_id
                 WHERE h.grid >= ?1 AND h.grid < ?2 AND (?3 IS NULL OR h.building = ?3)
                 ORDER BY h.grid, h.compound, h.building, h.unit, length(h.room), h.room, r.relation, r.name",
            )?;
            let rows = st
                .query_map(params![sel.lo, sel.hi, sel.building], |r| {
                    let mut v: Vec<Option<String>> = Vec::with_capacity(15);
                    for i in 0..15 {
                        v.push(r.get(i)?);
                    }
                    Ok(v)
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await?;
    use gridsync_core::codes::{Ethnicity, Relation, ResidenceStatus, Sex};
    let zh = |f: fn(&str) -> Option<&'static str>, v: &Option<String>| -> Cell {
        match v.as_deref() {
            Some(code) => t(f(code)
                .map(str::to_owned)
                .unwrap_or_else(|| code.to_owned())),
            None => t(""),
        }
    };
    let rows = rows
        .into_iter()
        .map(|v| {
            let s = |i: usize| v[i].clone().unwrap_or_default();
            vec![
                t(s(0)),
                t(s(1)),
                t(s(2)),
                t(s(3)),
                t(s(4)),
                t(s(5)),
                t(s(6)),
                t(mask::shown(v[7].as_deref(), full, mask::id_number)),
                zh(|c| Sex::from_code(c).ok().map(|x| x.name_zh()), &v[8]),
                t(s(9)),
                zh(
                    |c| Ethnicity::from_code(c).ok().map(|x| x.name_zh()),
                    &v[10],
                ),
                t(mask::shown(v[11].as_deref(), full, mask::phone)),
                zh(|c| Relation::from_code(c).ok().map(|x| x.name_zh()), &v[12]),
                zh(
                    |c| ResidenceStatus::from_code(c).ok().map(|x| x.name_zh()),
                    &v[13],
                ),
                t(s(14)
                    .split(',')
                    .filter(|x| !x.is_empty())
                    .map(|x| {
                        AttentionTag::from_code(x)
                            .map(|a| a.name_zh().to_owned())
                            .unwrap_or_else(|_| x.to_owned())
                    })
                    .collect::<Vec<_>>()
                    .join("、")),
            ]
        })
        .collect();
    Ok(Table {
        sheet: "居民台账".into(),
        headers: vec![
            "网格编码",
            "片区",
            "小区",
            "楼栋",
            "单元",
            "室号",
            "姓名",
            "公民身份号码",
            "性别",
            "出生日期",
            "民族",
            "联系电话",
            "与户主关系",
            "居住状态",
            "关注标签",
        ],
        rows,
    })
}

/// The summary sheet: one row per grid of `sel`.
pub async fn summary(
    state: &AppState,
    sel: &Selection,
    now: i64,
) -> Result<Table, crate::db::DbError> {
    let model = state.web.model();
    let since = now - PERIOD_DAYS * 86_400_000;
    let counts = readmodel::counts_by(model, &sel.lo, 15, since, now).await?;
    let (lo, hi) = (sel.lo.clone(), sel.hi.clone());
    let tags: Vec<(String, String, i64)> = model
        .run(move |c| {
            c.prepare_cached(
                "SELECT grid, tag, count(*) FROM resident_tags WHERE grid >= ?1 AND grid < ?2 GROUP BY grid, tag",
            )?
            .query_map(params![lo, hi], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect()
        })
        .await?;
    let mut by_grid: HashMap<String, HashMap<String, i64>> = HashMap::new();
    for (g, tag, k) in tags {
        by_grid.entry(g).or_default().insert(tag, k);
    }
    let names: BTreeMap<String, String> = state
        .directory
        .grids(&sel.lo)
        .await
        .map_err(|e| crate::db::DbError::Task(e.to_string()))?
        .into_iter()
        .map(|g| (g.code, g.name))
        .collect();
    let mut headers = vec!["网格编码", "网格名称", "户数", "居民人数"];
    headers.extend(AttentionTag::all().iter().map(|a| a.name_zh()));
    headers.extend(["近30天走访户数", "走访覆盖率", "未办结事件", "超期事件"]);
    let mut rows = Vec::new();
    for (grid, c) in &counts {
        let mut row = vec![
            t(grid.clone()),
            t(names.get(grid).cloned().unwrap_or_default()),
            n(c.households),
            n(c.residents),
        ];
        let tags = by_grid.get(grid);
        row.extend(
            AttentionTag::all()
                .iter()
                .map(|a| n(tags.and_then(|m| m.get(a.code())).copied().unwrap_or(0))),
        );
        row.extend([
            n(c.visited),
            t(pct(c.visited, c.households)),
            n(c.open_reports),
            n(c.overdue),
        ]);
        rows.push(row);
    }
    Ok(Table {
        sheet: "各网格汇总".into(),
        headers,
        rows,
    })
}

/// The visit log of `sel`.
pub async fn visits(state: &AppState, sel: Selection) -> Result<Table, crate::db::DbError> {
    let users: HashMap<String, String> = state
        .directory
        .users()
        .await
        .map_err(|e| crate::db::DbError::Task(e.to_string()))?
        .into_iter()
        .map(|u| (u.id, u.display_name))
        .collect();
    let rows = state
        .web
        .model()
        .run(move |c| {
            c.prepare(
                "SELECT h.grid, h.compound, h.building, h.unit, h.room, v.at, v.visitor, v.role,
                        v.method, v.findings, v.needs, v.follow_up
                 FROM visits v JOIN households h ON h.id = v.household_id
                 WHERE h.grid >= ?1 AND h.grid < ?2 AND (?3 IS NULL OR h.building = ?3)
                 ORDER BY v.at DESC",
            )?
            .query_map(params![sel.lo, sel.hi, sel.building], |r| {
                Ok((
                    [
                        r.get::<_, String>(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                    ],
                    r.get::<_, i64>(5)?,
                    [
                        r.get::<_, String>(6)?,
                        r.get(7)?,
                        r.get(8)?,
                        r.get(9)?,
                        r.get(10)?,
                    ],
                    r.get::<_, bool>(11)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()
        })
        .await?;
    use gridsync_core::codes::{VisitMethod, VisitorRole};
    let rows = rows
        .into_iter()
        .map(
            |(place, at, [visitor, role, method, findings, needs], follow)| {
                let mut row: Vec<Cell> = place.into_iter().map(t).collect();
                row.extend([
                    t(when(at)),
                    t(users
                        .get(&visitor)
                        .cloned()
                        .unwrap_or_else(|| "（未登记）".into())),
                    t(VisitorRole::from_code(&role)
                        .map(|r| r.name_zh().to_owned())
                        .unwrap_or(role)),
                    t(VisitMethod::from_code(&method)
                        .map(|m| m.name_zh().to_owned())
                        .unwrap_or(method)),
                    t(findings),
                    t(needs),
                    t(if follow { "是" } else { "否" }),
                ]);
                row
            },
        )
        .collect();
    Ok(Table {
        sheet: "走访记录".into(),
        headers: vec![
            "网格编码",
            "小区",
            "楼栋",
            "单元",
            "室号",
            "走访时间",
            "走访人",
            "身份",
            "方式",
            "走访情况",
            "群众诉求",
            "需跟进",
        ],
        rows,
    })
}

/// The report list of `sel`.
pub async fn reports(
    model: &readmodel::ReadModel,
    sel: Selection,
    now: i64,
) -> Result<Table, crate::db::DbError> {
    let rows = super::issues::rows(model, &sel.lo, false).await?;
    let outcomes = readmodel::outcomes(model, &sel.lo).await?;
    let rows = rows
        .into_iter()
        .map(|r| {
            let (closed_at, on_time, rating) = outcomes.get(&r.id).cloned().unwrap_or_default();
            vec![
                t(r.grid),
                t(r.category),
                t(r.subtype),
                t(r.description),
                t(r.building),
                t(r.stage),
                t(r.level),
                t(when(r.created_at)),
                t(r.deadline.map(when).unwrap_or_default()),
                t(if r.open && r.deadline.is_some_and(|d| d < now) {
                    "是"
                } else {
                    "否"
                }),
                t(closed_at.map(when).unwrap_or_default()),
                t(match on_time {
                    Some(true) => "是",
                    Some(false) => "否",
                    None => "",
                }),
                rating.map_or_else(|| t(""), n),
            ]
        })
        .collect();
    Ok(Table {
        sheet: "事件清单".into(),
        headers: vec![
            "网格编码",
            "类别",
            "小类",
            "事件描述",
            "地点",
            "环节",
            "处置层级",
            "上报时间",
            "处置期限",
            "是否超期",
            "结案时间",
            "是否按期办结",
            "满意度",
        ],
        rows,
    })
}

/// The loop's figures of a territory (reports made in the last
/// [`PERIOD_DAYS`] days): totals, then one row per grid worker and per
/// department. Rates are shares (a percentage in the workbook), times are
/// hours.
pub fn figures(f: &super::pages::FiguresView) -> Table {
    let opt = |v: Option<f64>, cell: fn(f64) -> Cell| v.map_or_else(|| t(""), cell);
    let mut rows = vec![
        vec![
            t("合计"),
            t("办结率"),
            n(f.reported),
            n(f.closed),
            opt(f.closed_rate, Cell::Pct),
            t(""),
        ],
        vec![
            t("合计"),
            t("按期办结率"),
            n(f.closed),
            n(f.on_time),
            opt(f.on_time_rate, Cell::Pct),
            t(""),
        ],
        vec![
            t("合计"),
            t("平均满意度"),
            n(f.rated),
            t(""),
            opt(f.mean_rating, Cell::Num),
            t(""),
        ],
    ];
    for (kind, list) in [("网格员", &f.workers), ("职能部门", &f.departments)] {
        for r in list {
            rows.push(vec![
                t(kind),
                t(r.name.clone()),
                n(r.reports),
                n(r.done),
                t(""),
                opt(r.median_hours, Cell::Num),
            ]);
        }
    }
    Table {
        sheet: "事件统计".into(),
        headers: vec![
            "范围",
            "项目",
            "件数",
            "其中办结或反馈",
            "比率或满意度",
            "用时中位数（小时）",
        ],
        rows,
    }
}

/// `GET /web/export/{ledger|visits|reports|figures}.{xlsx|csv}?code=…` or
/// `?grid=…&building=…`, `&full=1` for unmasked (audited like all exports).
pub async fn download(
    State(state): State<AppState>,
    user: WebUser,
    Path(file): Path<String>,
    Query(q): Query<ExportQuery>,
) -> WebResult<Response> {
    let p = user.principal();
    let (what, format) = file.rsplit_once('.').ok_or(WebError::NotFound)?;
    if !matches!(what, "ledger" | "visits" | "reports" | "figures")
        || !matches!(format, "xlsx" | "csv")
    {
        return Err(WebError::NotFound);
    }
    let (code, building) = match (&q.grid, &q.code) {
        (Some(g), _) => (g.clone(), q.building.clone()),
        (None, Some(c)) => (if c == "all" { String::new() } else { c.clone() }, None),
        (None, None) => (access::home_code(p).ok_or(WebError::Forbidden)?, None),
    };
    if !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(WebError::NotFound);
    }
    if !access::may_view(p, &code) {
        return Err(WebError::Forbidden);
    }
    let full = q.full == Some(1);
    if full && !access::may_export_full(p) {
        return Err(WebError::Forbidden);
    }
    readmodel::catch_up(&state).await?;
    let sel = Selection {
        building: building.clone(),
        ..Selection::under(&code)
    };
    let now = gridsync_core::household::Clock::System.now_ms();
    let model = state.web.model();
    let mut tables = match what {
        "ledger" => vec![ledger(model, sel.clone(), full).await?],
        "visits" => vec![visits(&state, sel.clone()).await?],
        "figures" => vec![figures(
            &super::pages::figures(&state, &code, now - PERIOD_DAYS * 86_400_000).await?,
        )],
        _ => vec![reports(model, sel.clone(), now).await?],
    };
    if what == "reports" && format == "xlsx" {
        tables.push(figures(
            &super::pages::figures(&state, &code, now - PERIOD_DAYS * 86_400_000).await?,
        ));
    }
    if what == "ledger" && format == "xlsx" {
        tables.push(summary(&state, &sel, now).await?);
    }
    let name_zh = match what {
        "ledger" => "居民台账",
        "visits" => "走访记录",
        "figures" => "事件统计",
        _ => "事件清单",
    };
    let scope = match &building {
        Some(b) => format!("{code}-{b}"),
        None if code.is_empty() => "全部".into(),
        None => code.clone(),
    };
    audit::record(
        state.web.main(),
        p,
        "export",
        &format!("territory:{code}"),
        &format!(
            "{file}{}{}",
            if building.is_some() {
                "（单栋楼）"
            } else {
                ""
            },
            if full {
                "，完整信息"
            } else {
                "，已脱敏"
            }
        ),
    )
    .await?;
    let (body, content_type) = match format {
        "xlsx" => (
            xlsx(&tables).map_err(|e| WebError::Internal(format!("xlsx: {e}")))?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
        _ => (
            csv(&tables[0]).map_err(|e| WebError::Internal(format!("csv: {e}")))?,
            "text/csv; charset=utf-8",
        ),
    };
    let download_name = format!("{name_zh}-{scope}.{format}");
    let disposition = format!(
        "attachment; filename=\"{what}-{}.{format}\"; filename*=UTF-8''{}",
        scope
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>(),
        urlencode(&download_name)
    );
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition)
                    .map_err(|e| WebError::Internal(e.to_string()))?,
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cells a spreadsheet would run are written as text; the others, and
    /// numbers, as they are.
    #[test]
    fn csv_cells_never_run_as_formulas() -> Result<(), csv::Error> {
        let table = Table {
            sheet: "台账".into(),
            headers: vec!["姓名", "备注"],
            rows: vec![
                vec![t("=HYPERLINK(\"http://x\",\"点我\")"), t("+1+1")],
                vec![t("-2+3"), t("@SUM(A1:A2)")],
                vec![t("\t=1"), t("\r=1")],
                vec![t("张三"), Cell::Num(-4.0)],
                vec![t("a=1"), t("")],
            ],
        };
        let bytes = csv(&table)?;
        let text = String::from_utf8_lossy(&bytes[3..]).to_string();
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let rows: Vec<Vec<String>> = r
            .records()
            .map(|rec| rec.map(|rec| rec.iter().map(str::to_owned).collect()))
            .collect::<Result<_, _>>()?;
        let expected: Vec<Vec<String>> = [
            ["'=HYPERLINK(\"http://x\",\"点我\")", "'+1+1"],
            ["'-2+3", "'@SUM(A1:A2)"],
            ["'\t=1", "'\r=1"],
            ["张三", "-4"],
            ["a=1", ""],
        ]
        .iter()
        .map(|row| row.iter().map(|c| (*c).to_owned()).collect())
        .collect();
        assert_eq!(rows, expected);
        Ok(())
    }
}
