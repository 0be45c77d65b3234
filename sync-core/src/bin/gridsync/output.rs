//! What a command prints: a JSON value for `--json` and a text for people
//! (Chinese labels first), tables aligned by display width (a Chinese
//! character is two columns), times in China Standard Time, and errors.

use std::fmt::Write as _;
use std::io::Write as _;

use gridsync_core::codes::{
    AttentionTag, Ethnicity, HouseUse, Relation, ResidenceStatus, Sex, VisitMethod,
};
use serde::Serialize;
use time::macros::{format_description, offset};
use unicode_width::UnicodeWidthStr;

/// What one command prints.
pub(crate) struct Output {
    json: serde_json::Value,
    human: String,
    /// Something the worker typed is not on the server: exit with
    /// [`INCOMPLETE`].
    pub(crate) incomplete: bool,
}

/// The exit status of a `sync` that left something the worker typed off
/// the server (held back or refused): not 0, so scripts notice.
pub(crate) const INCOMPLETE: u8 = 3;

impl Output {
    /// `json` for `--json`, `human` otherwise.
    pub(crate) fn new(json: impl Serialize, human: impl Into<String>) -> anyhow::Result<Self> {
        Ok(Self {
            json: serde_json::to_value(json)?,
            human: human.into(),
            incomplete: false,
        })
    }

    /// The same JSON either way (`household show`, `show`).
    pub(crate) fn json(json: impl Serialize) -> anyhow::Result<Self> {
        let json = serde_json::to_value(json)?;
        let human = serde_json::to_string_pretty(&json)?;
        Ok(Self {
            json,
            human,
            incomplete: false,
        })
    }

    /// Write to standard output. A closed pipe (`gridsync … | head`) is not
    /// an error.
    pub(crate) fn print(&self, as_json: bool) -> anyhow::Result<()> {
        let mut text = if as_json {
            serde_json::to_string_pretty(&self.json)?
        } else {
            self.human.clone()
        };
        if text.is_empty() {
            return Ok(());
        }
        if !text.ends_with('\n') {
            text.push('\n');
        }
        let mut out = std::io::stdout().lock();
        match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => Ok(other?),
        }
    }
}

/// A table with a header row, columns padded to the widest cell.
pub(crate) struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn new(header: &[&str]) -> Self {
        Self {
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub(crate) fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.width()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(cell.width());
                }
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                let pad = widths
                    .get(i)
                    .copied()
                    .unwrap_or(0)
                    .saturating_sub(cell.width());
                line.extend(std::iter::repeat_n(' ', pad));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Labelled lines, the values aligned.
pub(crate) fn key_values(pairs: &[(&str, String)]) -> String {
    let width = pairs.iter().map(|(k, _)| k.width()).max().unwrap_or(0);
    let mut out = String::new();
    for (k, v) in pairs {
        let pad = width - k.width();
        let _ = writeln!(out, "{k}{}  {v}", " ".repeat(pad));
    }
    out
}

/// A time (ms since the Unix epoch) in China Standard Time (Asia/Shanghai,
/// UTC+8, no daylight saving).
pub(crate) fn time_cn(ms: i64) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.to_offset(offset!(+8)).format(format).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// An optional time, or 从未 (never).
pub(crate) fn time_or_never(ms: Option<i64>) -> String {
    ms.map_or_else(|| "从未".to_string(), time_cn)
}

/// An optional text, or a dash.
pub(crate) fn or_dash(s: Option<&str>) -> String {
    match s {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => "-".to_string(),
    }
}

/// Look a typed code up in a code table by its code or its Chinese name, so
/// people may type either; anything else is passed on for the core to refuse.
pub(crate) fn code_of<T: Copy>(
    input: &str,
    all: &[T],
    code: fn(&T) -> &'static str,
    name_zh: fn(&T) -> &'static str,
) -> String {
    let input = input.trim();
    all.iter()
        .find(|v| name_zh(v) == input)
        .map_or_else(|| input.to_string(), |v| code(v).to_string())
}

/// The Chinese name when the table knows the code, else the code.
fn labelled(code: &str, name: Option<&'static str>) -> String {
    match name {
        Some(n) => n.to_string(),
        None => code.to_string(),
    }
}

pub(crate) fn sex_label(code: Option<&str>) -> String {
    code.map_or_else(
        || "-".into(),
        |c| labelled(c, Sex::from_code(c).ok().map(|v| v.name_zh())),
    )
}

pub(crate) fn status_label(code: Option<&str>) -> String {
    code.map_or_else(
        || "-".into(),
        |c| labelled(c, ResidenceStatus::from_code(c).ok().map(|v| v.name_zh())),
    )
}

pub(crate) fn tag_label(code: &str) -> String {
    labelled(
        code,
        AttentionTag::from_code(code).ok().map(|v| v.name_zh()),
    )
}

pub(crate) fn method_label(code: &str) -> String {
    labelled(code, VisitMethod::from_code(code).ok().map(|v| v.name_zh()))
}

/// Every code table, for `gridsync codes`: (name, [(code, 名称)]).
pub(crate) fn code_tables() -> Vec<(&'static str, Vec<(&'static str, &'static str)>)> {
    fn rows<T>(
        all: &[T],
        code: fn(&T) -> &'static str,
        name: fn(&T) -> &'static str,
    ) -> Vec<(&'static str, &'static str)> {
        all.iter().map(|v| (code(v), name(v))).collect()
    }
    vec![
        ("sex", rows(Sex::all(), Sex::code, Sex::name_zh)),
        (
            "ethnicity",
            rows(Ethnicity::all(), Ethnicity::code, Ethnicity::name_zh),
        ),
        (
            "relation",
            rows(Relation::all(), Relation::code, Relation::name_zh),
        ),
        (
            "status",
            rows(
                ResidenceStatus::all(),
                ResidenceStatus::code,
                ResidenceStatus::name_zh,
            ),
        ),
        (
            "tag",
            rows(
                AttentionTag::all(),
                AttentionTag::code,
                AttentionTag::name_zh,
            ),
        ),
        (
            "method",
            rows(VisitMethod::all(), VisitMethod::code, VisitMethod::name_zh),
        ),
        (
            "house-use",
            rows(HouseUse::all(), HouseUse::code, HouseUse::name_zh),
        ),
    ]
}

/// Print an error once, on standard error.
pub(crate) fn print_error(err: &anyhow::Error) {
    eprintln!("错误 / error: {}", error_text(err));
}

/// Each layer of the error's chain, once; a validation failure as its field
/// and both reasons.
pub(crate) fn error_text(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let text = match cause.downcast_ref::<gridsync_core::Error>() {
            Some(gridsync_core::Error::Invalid { field, reason }) => format!(
                "字段 {field} 无效：{} / invalid {field}: {}",
                reason.zh, reason.en
            ),
            _ => cause.to_string(),
        };
        // thiserror messages often repeat their source ("storage: {0}"):
        // say it once.
        if parts.last().is_some_and(|prev| prev.contains(&text)) {
            continue;
        }
        parts.push(text);
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_chinese_text_by_display_width() {
        let mut t = Table::new(&["姓名", "id"]);
        t.row(vec!["张三丰".into(), "1".into()]);
        t.row(vec!["Li".into(), "22".into()]);
        let text = t.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "姓名    id");
        assert_eq!(lines[1], "张三丰  1");
        assert_eq!(lines[2], "Li      22");
    }

    #[test]
    fn times_are_shown_in_china_standard_time() {
        assert_eq!(time_cn(1_795_140_000_000), "2026-11-20 10:00:00");
    }

    #[test]
    fn codes_may_be_typed_by_chinese_name() {
        let code = |s| code_of(s, Ethnicity::all(), Ethnicity::code, Ethnicity::name_zh);
        assert_eq!(code("汉族"), "01");
        assert_eq!(code("01"), "01");
        assert_eq!(code("火星族"), "火星族");
    }

    #[test]
    fn a_validation_error_names_the_field_and_both_reasons() {
        let e = anyhow::Error::from(
            gridsync_core::Reason::new("校验位错误", "bad check character").on("id_number"),
        )
        .context("登记居民失败 / could not add the resident");
        assert_eq!(
            error_text(&e),
            "登记居民失败 / could not add the resident: \
             字段 id_number 无效：校验位错误 / invalid id_number: bad check character"
        );
    }

    #[test]
    fn a_source_repeated_in_its_error_is_said_once() {
        let io = std::io::Error::other("disk full");
        let e = anyhow::Error::new(io).context("storage: disk full");
        assert_eq!(error_text(&e), "storage: disk full");
    }
}
