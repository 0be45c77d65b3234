//! Reading a ledger file (台账) into rows of text cells: a workbook
//! (XLSX, and the older XLS or ODS) with the maintained `calamine` crate,
//! its first sheet; a CSV with the `csv` crate, in UTF-8 with or without
//! a byte-order mark, or in GB18030 (what Excel in China saves).
//!
//! The header row is the first row with at least two filled cells, so a
//! title row merged across the top ("某某社区居民台账") is skipped. Rows
//! are numbered as the spreadsheet numbers them (the header of a plain
//! sheet is row 1), so a refusal points at the row a person sees.

use std::io::Cursor;

use calamine::{Data, Reader};

/// Most data rows a file may have.
pub const MAX_ROWS: usize = 100_000;
/// Most columns a file may have.
pub const MAX_COLUMNS: usize = 200;

/// A file read: its header row and data rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    /// The header cells, trimmed.
    pub headers: Vec<String>,
    /// The data rows, without wholly empty ones.
    pub rows: Vec<Row>,
}

/// One data row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Row {
    /// Its number as the spreadsheet shows it (1-based).
    pub number: usize,
    /// Its cells as text, trimmed, one per header at most.
    pub cells: Vec<String>,
}

impl Row {
    /// The text of column `i` ("" when the row is shorter).
    pub fn cell(&self, i: usize) -> &str {
        self.cells.get(i).map(String::as_str).unwrap_or("")
    }
}

/// Whether `file_name` and `bytes` are a workbook (else CSV).
fn is_workbook(file_name: &str, bytes: &[u8]) -> bool {
    let lower = file_name.to_ascii_lowercase();
    if lower.ends_with(".csv") || lower.ends_with(".txt") {
        return false;
    }
    if [".xlsx", ".xlsm", ".xls", ".ods"]
        .iter()
        .any(|e| lower.ends_with(e))
    {
        return true;
    }
    // A zip (XLSX, ODS) or an OLE compound file (XLS).
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0])
}

/// Read `bytes` (named `file_name`, whose extension picks the format).
/// The error, in Chinese, says what is wrong with the file as a whole.
pub fn read(file_name: &str, bytes: &[u8]) -> Result<Table, String> {
    if bytes.is_empty() {
        return Err("文件为空".into());
    }
    let grid = if is_workbook(file_name, bytes) {
        workbook_rows(bytes)?
    } else {
        csv_rows(bytes)?
    };
    table_of(grid)
}

/// Rows of (number, cells) → the table.
fn table_of(rows: Vec<(usize, Vec<String>)>) -> Result<Table, String> {
    let mut rows = rows
        .into_iter()
        .filter(|(_, cells)| cells.iter().any(|c| !c.is_empty()));
    let (_, headers) = rows
        .by_ref()
        .find(|(_, cells)| cells.iter().filter(|c| !c.is_empty()).count() >= 2)
        .ok_or("文件中没有表头行（至少两列有列名的一行）")?;
    if headers.len() > MAX_COLUMNS {
        return Err(format!("列数过多（最多{MAX_COLUMNS}列）"));
    }
    let mut out = Vec::new();
    for (number, mut cells) in rows {
        if out.len() >= MAX_ROWS {
            return Err(format!("行数过多（最多{MAX_ROWS}行），请分成几个文件导入"));
        }
        cells.truncate(headers.len());
        out.push(Row { number, cells });
    }
    let mut headers = headers;
    while headers.last().is_some_and(String::is_empty) {
        headers.pop();
    }
    Ok(Table { headers, rows: out })
}

fn workbook_rows(bytes: &[u8]) -> Result<Vec<(usize, Vec<String>)>, String> {
    let mut book = calamine::open_workbook_auto_from_rs(Cursor::new(bytes.to_vec()))
        .map_err(|_| "无法读取该表格文件（请使用 .xlsx、.xls 或 .csv 文件）".to_owned())?;
    let range = book
        .worksheet_range_at(0)
        .ok_or("表格文件中没有工作表")?
        .map_err(|_| "无法读取表格的第一个工作表".to_owned())?;
    let (first_row, first_col) = range.start().unwrap_or((0, 0));
    let mut out = Vec::new();
    for (i, row) in range.rows().enumerate() {
        // Columns left of the range are empty in the sheet: keep positions.
        let mut cells = vec![String::new(); first_col as usize];
        cells.extend(row.iter().map(cell_text));
        out.push((first_row as usize + i + 1, cells));
        if out.len() > MAX_ROWS + 10 {
            break;
        }
    }
    Ok(out)
}

/// A workbook cell as text: dates as `YYYY-MM-DD`, whole numbers without
/// a decimal point (a number a spreadsheet turned a code into).
fn cell_text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::String(s) => s.trim().to_owned(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{f:.0}"),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => if *b { "是" } else { "否" }.to_owned(),
        Data::DateTime(dt) => {
            let (y, m, d, ..) = dt.to_ymd_hms_milli();
            format!("{y:04}-{m:02}-{d:02}")
        }
        Data::DateTimeIso(s) => s.chars().take(10).collect(),
        Data::DurationIso(s) => s.clone(),
        Data::Error(_) => "#错误".to_owned(),
    }
}

/// The text of a CSV file: UTF-8 (a byte-order mark dropped), else GB18030.
fn decode(bytes: &[u8]) -> Result<String, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Ok(s.to_owned());
    }
    let (text, _, had_errors) = encoding_rs::GB18030.decode(bytes);
    if had_errors {
        return Err("无法识别文件的字符编码（请另存为 UTF-8 或 GB18030 编码的 CSV）".into());
    }
    Ok(text.into_owned())
}

fn csv_rows(bytes: &[u8]) -> Result<Vec<(usize, Vec<String>)>, String> {
    let text = decode(bytes)?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    let (mut line, mut counted_to) = (1usize, 0usize);
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|_| format!("CSV 第{}行格式错误（引号不配对？）", i + 1))?;
        // A tab or an apostrophe kept a code as text in a spreadsheet.
        let cells = record
            .iter()
            .map(|c| c.trim().trim_start_matches('\'').trim().to_owned())
            .collect();
        // The line it starts on, counted from its byte offset: what a
        // spreadsheet opening the file numbers it (the csv crate skips
        // empty lines, and its own line count does not see them).
        let mut at = record
            .position()
            .map_or(counted_to, |p| (p.byte() as usize).min(text.len()));
        // Its position may be that of the empty lines before it.
        while matches!(text.as_bytes().get(at), Some(b'\n' | b'\r')) {
            at += 1;
        }
        if at >= counted_to {
            line += text.as_bytes()[counted_to..at]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            counted_to = at;
        }
        out.push((line, cells));
        if out.len() > MAX_ROWS + 10 {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn csv_in_utf8_with_bom_and_in_gb18030_read_the_same() {
        let text = "居民台账,,\n姓名,楼栋,房号\n张三,1号楼,101\n\n李四,2号楼,\t202\n";
        let plain = read("a.csv", text.as_bytes()).unwrap();
        assert_eq!(plain.headers, ["姓名", "楼栋", "房号"]);
        assert_eq!(plain.rows.len(), 2);
        assert_eq!(plain.rows[0].number, 3);
        assert_eq!(plain.rows[1].number, 5);
        assert_eq!(plain.rows[1].cell(2), "202");
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(text.as_bytes());
        assert_eq!(read("a.csv", &bom).unwrap(), plain);
        let (gb, _, _) = encoding_rs::GB18030.encode(text);
        assert_ne!(&gb[..], text.as_bytes());
        assert_eq!(read("a.csv", &gb).unwrap(), plain);
        assert!(read("a.csv", b"").is_err());
        assert!(read("a.csv", "只有一列\n值\n".as_bytes()).is_err());
    }

    #[test]
    fn a_workbook_reads_with_dates_and_numbers_as_text() {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(0, 0, "居民台账").unwrap();
        sheet.write_string(1, 0, "姓名").unwrap();
        sheet.write_string(1, 1, "出生日期").unwrap();
        sheet.write_string(1, 2, "民族").unwrap();
        sheet.write_string(2, 0, "张三").unwrap();
        let date = rust_xlsxwriter::ExcelDateTime::from_ymd(1980, 1, 2).unwrap();
        let format = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
        sheet
            .write_datetime_with_format(2, 1, &date, &format)
            .unwrap();
        sheet.write_number(2, 2, 1.0).unwrap();
        let bytes = book.save_to_buffer().unwrap();
        let t = read("台账.xlsx", &bytes).unwrap();
        assert_eq!(t.headers, ["姓名", "出生日期", "民族"]);
        assert_eq!(t.rows.len(), 1);
        assert_eq!(t.rows[0].number, 3);
        assert_eq!(t.rows[0].cells, ["张三", "1980-01-02", "1"]);
        assert!(read("x.xlsx", b"PK\x03\x04garbage").is_err());
    }
}
