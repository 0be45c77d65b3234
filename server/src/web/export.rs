//! Exports ("数据填报一张表"): the resident ledger by territory, grid or
//! building, the visit log and the report list, as XLSX (rust_xlsxwriter)
//! or CSV (UTF-8 with a byte-order mark, so Excel reads the Chinese
//! headers). ID numbers and phones are masked; a supervisor or admin gets
//! them in full only through the confirmation form
//! (`GET`/`POST /web/export/full`), which asks for a reason and writes it
//! to the audit log with the export. Every export is audited. XLSX files
//! of the ledger also carry a summary sheet per grid
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
//!
//! So a spreadsheet opens them right: in the XLSX, ID numbers, phones and
//! codes are strings, dates and times are dates (`yyyy-mm-dd`), counts and
//! rates are numbers (rates as `0.0%`); each column is as wide as its
//! longest value; the header row is frozen with a filter; printing is A4
//! landscape, one page wide, the header row repeated, the title and the
//! export time in the page header. In the CSV an all-digit code (an ID
//! number, a phone, a 15-digit grid code) begins with a tab, so Excel
//! keeps it as text instead of rounding it to 15 significant digits.

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use gridsync_core::codes::AttentionTag;
use serde::Deserialize;

use super::pages::{Nav, PERIOD_DAYS, urlencode, when};
use super::readmodel;
pub use super::readmodel::export::Selection;
use super::session::WebUser;
use super::{WebError, WebResult, access, audit, mask, render};
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
    /// `1`: ID numbers and phones in full. Refused here: the full file is
    /// only given through the confirmation form, with a reason.
    #[serde(default)]
    pub full: Option<u8>,
}

/// A cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text.
    Text(String),
    /// A code made of digits that is not a number: an ID number, a phone,
    /// a grid code. Always text, even when it is all digits.
    Code(String),
    /// A number.
    Num(f64),
    /// A share, 0–1, shown as a percentage.
    Pct(f64),
    /// A calendar date, `YYYY-MM-DD` (text when it is not one).
    Date(String),
    /// A moment, Unix ms, shown in China Standard Time to the minute.
    Time(i64),
}

impl Cell {
    fn text(&self) -> String {
        match self {
            Cell::Text(s) | Cell::Code(s) | Cell::Date(s) => s.clone(),
            Cell::Time(ms) => when(*ms),
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

fn code(s: impl Into<String>) -> Cell {
    Cell::Code(s.into())
}

/// `part` of `whole` as a percentage cell, empty when `whole` is 0.
fn share(part: i64, whole: i64) -> Cell {
    if whole > 0 {
        Cell::Pct(part as f64 / whole as f64)
    } else {
        t("")
    }
}

/// The moment `ms` (Unix ms) as an Excel date-time in China Standard
/// Time, the zone the pages show.
fn excel_time(ms: i64) -> Option<rust_xlsxwriter::ExcelDateTime> {
    rust_xlsxwriter::ExcelDateTime::from_timestamp(ms.div_euclid(1000) + 8 * 3600).ok()
}

/// `YYYY-MM-DD` as an Excel date.
fn excel_date(s: &str) -> Option<rust_xlsxwriter::ExcelDateTime> {
    let mut parts = s.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    rust_xlsxwriter::ExcelDateTime::from_ymd(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?).ok()
}

/// How wide `cell` shows, in Excel's character widths (a Chinese
/// character counts two).
fn shown_width(cell: &Cell) -> usize {
    match cell {
        Cell::Date(_) => 10,
        Cell::Time(_) => 16,
        Cell::Pct(_) => 6,
        other => unicode_width::UnicodeWidthStr::width(other.text().as_str()),
    }
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

/// The tables as an XLSX workbook, `title` and `exported_at` in each
/// printed page's header.
pub fn xlsx(
    tables: &[Table],
    title: &str,
    exported_at: &str,
) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, FormatBorder, Workbook};
    let mut wb = Workbook::new();
    let bold = Format::new()
        .set_bold()
        .set_background_color(0xF2F2F2)
        .set_border_bottom(FormatBorder::Thin);
    let percent = Format::new().set_num_format("0.0%");
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let moment = Format::new().set_num_format("yyyy-mm-dd hh:mm");
    // `&` starts a header code; a literal one is `&&`.
    let header = format!(
        "&L&\"-,Bold\"{}&R导出时间：{}",
        title.replace('&', "&&"),
        exported_at.replace('&', "&&")
    );
    for table in tables {
        let ws = wb.add_worksheet();
        ws.set_name(&table.sheet)?;
        let mut widths: Vec<usize> = table
            .headers
            .iter()
            .map(|h| unicode_width::UnicodeWidthStr::width(*h))
            .collect();
        for (c, h) in table.headers.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, *h, &bold)?;
        }
        for (r, row) in table.rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                if let Some(w) = widths.get_mut(c) {
                    *w = (*w).max(shown_width(cell));
                }
                let (r, c) = (r as u32 + 1, c as u16);
                match cell {
                    Cell::Text(s) | Cell::Code(s) => ws.write_string(r, c, s)?,
                    Cell::Num(v) => ws.write_number(r, c, *v)?,
                    Cell::Pct(v) => ws.write_number_with_format(r, c, *v, &percent)?,
                    Cell::Date(s) => match excel_date(s) {
                        Some(d) => ws.write_datetime_with_format(r, c, &d, &date)?,
                        None => ws.write_string(r, c, s)?,
                    },
                    Cell::Time(ms) => match excel_time(*ms) {
                        Some(d) => ws.write_datetime_with_format(r, c, &d, &moment)?,
                        None => ws.write_string(r, c, "")?,
                    },
                };
            }
        }
        // Room for the filter button and a margin; no column wider than
        // a long description needs on a landscape page.
        for (c, w) in widths.iter().enumerate() {
            ws.set_column_width(c as u16, (*w as f64 + 4.0).clamp(8.0, 60.0))?;
        }
        ws.set_freeze_panes(1, 0)?;
        if !table.headers.is_empty() {
            ws.autofilter(
                0,
                0,
                table.rows.len() as u32,
                table.headers.len() as u16 - 1,
            )?;
        }
        ws.set_landscape()
            .set_paper_size(9) // A4
            .set_print_fit_to_pages(1, 0) // one page wide, as many tall as needed
            .set_header(&header);
        ws.set_repeat_rows(0, 0)?;
    }
    wb.save_to_buffer()
}

/// The text of a CSV cell that no spreadsheet runs as a formula: text
/// beginning with a formula character gets a leading `'`. Numbers we
/// wrote as numbers (a negative one begins with `-`) stay numbers.
///
/// An all-digit code (ID number, phone, grid code) begins with a tab:
/// Excel then keeps it as text, all 18 digits, where it would round a
/// bare `110105200212036240` to `110105200212036000` and show a grid code
/// as `1.10105E+14`. The other documented way, `="110105200212036240"`,
/// is itself a formula: an injection scanner rightly flags it and a
/// spreadsheet that does not evaluate CSV formulas shows it literally.
/// A tab followed only by digits is plain text everywhere.
pub fn csv_cell(cell: &Cell) -> String {
    match cell {
        Cell::Code(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            format!("\t{s}")
        }
        Cell::Text(s) | Cell::Code(s) if s.starts_with(['=', '+', '-', '@', '\t', '\r']) => {
            format!("'{s}")
        }
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

/// The people's display names by user id (包保责任人, 走访人).
async fn user_names(state: &AppState) -> Result<HashMap<String, String>, crate::db::DbError> {
    Ok(state
        .directory
        .users()
        .await
        .map_err(|e| crate::db::DbError::Task(e.to_string()))?
        .into_iter()
        .map(|u| (u.id, u.display_name))
        .collect())
}

/// The resident ledger of `sel`, masked unless `full`; `names` gives the
/// 包保责任人's display name by user id.
pub async fn ledger(
    model: &readmodel::ReadModel,
    sel: Selection,
    full: bool,
    names: &HashMap<String, String>,
) -> Result<Table, crate::db::DbError> {
    let rows = readmodel::export::ledger_rows(model, sel).await?;
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
        .map(|row| {
            let (p, r) = (row.place, row.resident);
            vec![
                code(row.grid),
                t(p.area),
                t(p.compound),
                t(p.building),
                t(p.unit),
                t(p.room),
                t(r.name),
                code(mask::shown(r.id_number.as_deref(), full, mask::id_number)),
                zh(|c| Sex::from_code(c).ok().map(|x| x.name_zh()), &r.sex),
                Cell::Date(r.birth_date.unwrap_or_default()),
                zh(
                    |c| Ethnicity::from_code(c).ok().map(|x| x.name_zh()),
                    &r.ethnicity,
                ),
                code(mask::shown(r.phone.as_deref(), full, mask::phone)),
                zh(
                    |c| Relation::from_code(c).ok().map(|x| x.name_zh()),
                    &r.relation,
                ),
                zh(
                    |c| ResidenceStatus::from_code(c).ok().map(|x| x.name_zh()),
                    &r.status,
                ),
                t(r.tags
                    .iter()
                    .map(|x| {
                        AttentionTag::from_code(x)
                            .map(|a| a.name_zh().to_owned())
                            .unwrap_or_else(|_| x.to_owned())
                    })
                    .collect::<Vec<_>>()
                    .join("、")),
                t(row
                    .holder
                    .as_ref()
                    .map(|id| {
                        names
                            .get(id)
                            .cloned()
                            .unwrap_or_else(|| "（未登记）".into())
                    })
                    .unwrap_or_default()),
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
            "包保责任人",
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
    let mut counts = readmodel::counts_by(model, &sel.lo, 15, since).await?;
    // Each grid's open and overdue reports as the overview counts them.
    for (grid, c) in counts.iter_mut() {
        let reports = state.reports.counts_by_category_stage(grid, now).await?;
        c.open_reports = reports.iter().map(|r| r.open).sum();
        c.overdue = reports.iter().map(|r| r.overdue).sum();
    }
    let by_grid = readmodel::export::tag_counts_by_grid(model, sel).await?;
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
            code(grid.clone()),
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
            share(c.visited, c.households),
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
    let users = user_names(state).await?;
    let rows = readmodel::export::visit_log(state.web.model(), sel).await?;
    use gridsync_core::codes::{VisitMethod, VisitorRole};
    let rows = rows
        .into_iter()
        .map(|v| {
            let p = v.place;
            let mut row = vec![
                code(v.grid),
                t(p.compound),
                t(p.building),
                t(p.unit),
                t(p.room),
            ];
            row.extend([
                Cell::Time(v.at),
                t(users
                    .get(&v.visitor)
                    .cloned()
                    .unwrap_or_else(|| "（未登记）".into())),
                t(VisitorRole::from_code(&v.role)
                    .map(|r| r.name_zh().to_owned())
                    .unwrap_or(v.role)),
                t(VisitMethod::from_code(&v.method)
                    .map(|m| m.name_zh().to_owned())
                    .unwrap_or(v.method)),
                t(v.findings),
                t(v.needs),
                t(if v.follow_up { "是" } else { "否" }),
            ]);
            row
        })
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
                code(r.grid),
                t(r.category),
                t(r.subtype),
                t(r.description),
                t(r.building),
                t(r.stage),
                t(r.level),
                Cell::Time(r.created_at),
                r.deadline.map_or_else(|| t(""), Cell::Time),
                t(if r.open && r.deadline.is_some_and(|d| d < now) {
                    "是"
                } else {
                    "否"
                }),
                closed_at.map_or_else(|| t(""), Cell::Time),
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

/// The longest reason for an unmasked export, in characters.
pub const REASON_MAX: usize = 200;

/// `GET /web/export/{ledger|visits|reports|figures}.{xlsx|csv}?code=…` or
/// `?grid=…&building=…`: masked, audited. `&full=1` exports nothing: it
/// sends a supervisor or admin to the confirmation form that asks why.
pub async fn download(
    State(state): State<AppState>,
    user: WebUser,
    Path(file): Path<String>,
    Query(q): Query<ExportQuery>,
) -> WebResult<Response> {
    if q.full == Some(1) {
        let (what, format) = kind_of(&file)?;
        if !access::may_export_full(user.principal()) {
            return Err(WebError::Forbidden);
        }
        let (code, building) = scope_of(&user, q.code, q.grid, q.building)?;
        return Ok(
            Redirect::to(&form_link(what, format, &code, building.as_deref())).into_response(),
        );
    }
    let (what, format) = kind_of(&file)?;
    let (code, building) = scope_of(&user, q.code, q.grid, q.building)?;
    export(&state, &user, what, format, code, building, None).await
}

/// The confirmation form's fields (query of the `GET`, body of the `POST`).
#[derive(Debug, Default, Deserialize)]
pub struct FullForm {
    /// The form token (`POST` only).
    #[serde(default)]
    pub csrf: String,
    /// `ledger.xlsx` or `ledger.csv`.
    #[serde(default)]
    pub file: String,
    /// A territory code, as [`ExportQuery::code`].
    #[serde(default)]
    pub code: Option<String>,
    /// A grid (with `building`).
    #[serde(default)]
    pub grid: Option<String>,
    /// A building of `grid`.
    #[serde(default)]
    pub building: Option<String>,
    /// Why the full ID numbers and phones are needed (1–200 characters).
    #[serde(default)]
    pub reason: String,
}

#[derive(askama::Template)]
#[template(path = "export_full.html")]
struct FullPage {
    nav: Nav,
    scope: String,
    code: String,
    grid: String,
    building: String,
    xlsx: bool,
    reason: String,
    error: String,
    cancel: String,
    max: usize,
}

/// `GET /web/export/full?file=ledger.xlsx&code=…`: the confirmation form
/// of an unmasked export, asking for the reason.
pub async fn full_form(user: WebUser, Query(f): Query<FullForm>) -> WebResult<Response> {
    full_page(&user, f, String::new(), StatusCode::OK)
}

/// `POST /web/export/full`: the unmasked export, with its reason written
/// to the audit log; a missing or too long reason shows the form again.
pub async fn full_submit(
    State(state): State<AppState>,
    user: WebUser,
    Form(f): Form<FullForm>,
) -> WebResult<Response> {
    user.check_csrf(&f.csrf)?;
    let reason = f.reason.trim().to_owned();
    let len = reason.chars().count();
    if len == 0 || len > REASON_MAX {
        let error = if len == 0 {
            "请填写导出原因（reason）：导出完整身份证号和电话须说明用途".to_owned()
        } else {
            format!("导出原因（reason）最多{REASON_MAX}字，现为{len}字")
        };
        return full_page(&user, f, error, StatusCode::BAD_REQUEST);
    }
    let (what, format) = full_kind(&f.file)?;
    if !access::may_export_full(user.principal()) {
        return Err(WebError::Forbidden);
    }
    let (code, building) = scope_of(&user, f.code, f.grid, f.building)?;
    export(&state, &user, what, format, code, building, Some(&reason)).await
}

fn full_page(
    user: &WebUser,
    f: FullForm,
    error: String,
    status: StatusCode,
) -> WebResult<Response> {
    let (_, format) = full_kind(&f.file)?;
    if !access::may_export_full(user.principal()) {
        return Err(WebError::Forbidden);
    }
    let (code, building) = scope_of(user, f.code.clone(), f.grid.clone(), f.building.clone())?;
    let scope = match &building {
        Some(b) => format!("{code} {b}"),
        None if code.is_empty() => "全部".into(),
        None => code.clone(),
    };
    let cancel = match (&f.grid, &building) {
        (Some(g), Some(_)) => format!("/web/g/{g}/building"),
        _ => super::pages::territory_link(&code),
    };
    let page = FullPage {
        nav: Nav::of(user),
        scope,
        code: if f.grid.is_some() {
            String::new()
        } else {
            f.code.unwrap_or_default()
        },
        grid: f.grid.unwrap_or_default(),
        building: building.unwrap_or_default(),
        xlsx: format == "xlsx",
        reason: f.reason,
        error,
        cancel,
        max: REASON_MAX,
    };
    let mut response = render(&page)?;
    *response.status_mut() = status;
    Ok(response)
}

/// Only the ledger carries ID numbers and phones.
fn full_kind(file: &str) -> WebResult<(&'static str, &'static str)> {
    match file {
        "ledger.xlsx" => Ok(("ledger", "xlsx")),
        "ledger.csv" => Ok(("ledger", "csv")),
        _ => Err(WebError::Bad(
            "完整信息只能导出居民台账（file=ledger.xlsx 或 ledger.csv）".into(),
        )),
    }
}

fn kind_of(file: &str) -> WebResult<(&'static str, &'static str)> {
    let (what, format) = file.rsplit_once('.').ok_or(WebError::NotFound)?;
    let what = ["ledger", "visits", "reports", "figures"]
        .into_iter()
        .find(|w| *w == what)
        .ok_or(WebError::NotFound)?;
    let format = ["xlsx", "csv"]
        .into_iter()
        .find(|f| *f == format)
        .ok_or(WebError::NotFound)?;
    Ok((what, format))
}

fn form_link(what: &str, format: &str, code: &str, building: Option<&str>) -> String {
    match building {
        Some(b) => format!(
            "/web/export/full?file={what}.{format}&grid={code}&building={}",
            urlencode(b)
        ),
        None => format!("/web/export/full?file={what}.{format}&code={code}"),
    }
}

/// The territory code and building an export covers, checked against the
/// person's territory.
fn scope_of(
    user: &WebUser,
    code: Option<String>,
    grid: Option<String>,
    building: Option<String>,
) -> WebResult<(String, Option<String>)> {
    let p = user.principal();
    let (code, building) = match (grid, code) {
        (Some(g), _) => (g, building.filter(|b| !b.is_empty())),
        (None, Some(c)) => (if c == "all" { String::new() } else { c }, None),
        (None, None) => (access::home_code(p).ok_or(WebError::Forbidden)?, None),
    };
    if !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(WebError::NotFound);
    }
    if !access::may_view(p, &code) {
        return Err(WebError::Forbidden);
    }
    Ok((code, building))
}

/// Build, audit and send one export; `reason` makes it unmasked.
async fn export(
    state: &AppState,
    user: &WebUser,
    what: &str,
    format: &str,
    code: String,
    building: Option<String>,
    reason: Option<&str>,
) -> WebResult<Response> {
    let p = user.principal();
    let full = reason.is_some();
    let file = format!("{what}.{format}");
    readmodel::catch_up(state).await?;
    let sel = Selection {
        building: building.clone(),
        ..Selection::under(&code)
    };
    let now = gridsync_core::clock::Clock::System.now_ms();
    let model = state.web.model();
    let mut tables = match what {
        "ledger" => vec![ledger(model, sel.clone(), full, &user_names(state).await?).await?],
        "visits" => vec![visits(state, sel.clone()).await?],
        "figures" => vec![figures(
            &super::pages::figures(state, &code, now - PERIOD_DAYS * 86_400_000).await?,
        )],
        _ => vec![reports(model, sel.clone(), now).await?],
    };
    if what == "reports" && format == "xlsx" {
        tables.push(figures(
            &super::pages::figures(state, &code, now - PERIOD_DAYS * 86_400_000).await?,
        ));
    }
    if what == "ledger" && format == "xlsx" {
        tables.push(summary(state, &sel, now).await?);
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
            match reason {
                Some(r) => format!("，完整信息，原因：{r}"),
                None => "，已脱敏".to_owned(),
            }
        ),
    )
    .await?;
    let (body, content_type) = match format {
        "xlsx" => (
            xlsx(
                &tables,
                &format!(
                    "{name_zh}（{scope}）{}",
                    if full {
                        "·含完整身份证号和电话"
                    } else {
                        ""
                    }
                ),
                &when(now),
            )
            .map_err(|e| WebError::Internal(format!("xlsx: {e}")))?,
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
    /// numbers, as they are; all-digit codes after a tab, so they stay
    /// text (a formula-looking code still gets its `'`).
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
                vec![code("110105200212036240"), code("13800138000")],
                vec![code("+8613800138000"), code("110105********6240")],
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
            ["\t110105200212036240", "\t13800138000"],
            ["'+8613800138000", "110105********6240"],
        ]
        .iter()
        .map(|row| row.iter().map(|c| (*c).to_owned()).collect())
        .collect();
        assert_eq!(rows, expected);
        Ok(())
    }
}
