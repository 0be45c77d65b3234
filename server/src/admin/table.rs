//! Plain-text tables for the command line, aligned by display width so
//! Chinese (two columns per character) and Latin text line up.

use unicode_width::UnicodeWidthStr;

/// `headers` and `rows` as an aligned table, one line each, ending in a
/// newline. Short rows are padded with empty cells.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let columns = headers
        .len()
        .max(rows.iter().map(Vec::len).max().unwrap_or(0));
    let cell = |row: &[String], i: usize| row.get(i).map_or("", String::as_str).to_owned();
    let header_row: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    let mut widths = vec![0usize; columns];
    for row in std::iter::once(&header_row).chain(rows) {
        for (i, w) in widths.iter_mut().enumerate() {
            *w = (*w).max(cell(row, i).width());
        }
    }
    let mut out = String::new();
    let mut line = |row: &[String]| {
        let mut text = String::new();
        for (i, w) in widths.iter().enumerate() {
            let c = cell(row, i);
            text.push_str(&c);
            if i + 1 < columns {
                text.push_str(&" ".repeat(w - c.width() + 2));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&header_row);
    let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
    line(&rule);
    for row in rows {
        line(row);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_chinese_and_latin() {
        let t = table(
            &["用户名 username", "角色 role"],
            &[
                vec!["wang".into(), "网格员".into()],
                vec!["李明".into(), "admin".into()],
            ],
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4);
        // The second column starts at the same display column on every line.
        let col = |l: &str, needle: &str| l[..l.find(needle).unwrap_or(0)].width();
        assert_eq!(col(lines[2], "网格员"), col(lines[0], "角色"));
        assert_eq!(col(lines[3], "admin"), col(lines[0], "角色"));
    }
}
