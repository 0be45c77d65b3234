//! How the web pages write things: times in China Standard Time,
//! percentages, query values, addresses as people write them, field
//! labels and code names from the core's tables, a noted need shortened,
//! the link of a territory page. No I/O, no access decisions.

use gridsync_core::codes;

/// The link of a territory page.
pub fn territory_link(code: &str) -> String {
    if code.is_empty() {
        "/web/t/all".into()
    } else {
        format!("/web/t/{code}")
    }
}

/// Unix ms as `2026-11-26 14:03`, China Standard Time.
pub fn when(ms: i64) -> String {
    let offset = time::UtcOffset::from_hms(8, 0, 0).unwrap_or(time::UtcOffset::UTC);
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return String::new();
    };
    let t = t.to_offset(offset);
    format!(
        "{}-{:02}-{:02} {:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// `part` of `whole` as a percentage string.
pub fn pct(part: i64, whole: i64) -> String {
    if whole <= 0 {
        "—".into()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

/// Percent-encode a query value.
pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Characters of a need's text shown in a list.
pub const NEED_CHARS: usize = 40;

/// `text` cut to `n` characters, with `…` when cut.
pub fn short(text: &str, n: usize) -> String {
    let mut out: String = text.chars().take(n).collect();
    if text.chars().nth(n).is_some() {
        out.push('…');
    }
    out
}

/// A noted 群众诉求 as listed: its text shortened, or what the visit found
/// when it only asked for a follow-up.
pub fn need_text(needs: &str, findings: &str) -> String {
    short(
        if needs.trim().is_empty() {
            findings
        } else {
            needs
        },
        NEED_CHARS,
    )
}

/// The label of field `key`, from the core's one table; the key itself
/// when the table does not know it (a newer app's field).
pub fn label(key: &str) -> &str {
    codes::field_label(key).unwrap_or(key)
}

/// A household's address as people write it: 片区 小区 楼栋 单元 室.
pub fn address_of(place: [&str; 5]) -> String {
    let [area, compound, building, unit, room] = place;
    let room = if room.is_empty() {
        String::new()
    } else {
        format!("{room}室")
    };
    [area, compound, building, unit, room.as_str()]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The Chinese name of `code` in the core's table of `kind` (empty for
/// none; the code itself when the table does not know it).
pub fn code_zh(kind: &str, code: Option<&str>) -> String {
    let Some(code) = code else {
        return String::new();
    };
    codes::code_name(kind, code).unwrap_or(code).to_owned()
}

/// Tag codes by their Chinese names, joined with 、.
pub fn tags_zh<'a>(tags: impl Iterator<Item = &'a str>) -> String {
    tags.map(|t| codes::code_name("tags", t).unwrap_or(t))
        .collect::<Vec<_>>()
        .join("、")
}
