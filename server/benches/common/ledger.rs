//! A made-up resident ledger (台账) as communities keep them: 5,000
//! residents in families of three, one row each with the household's
//! address, written as a real XLSX (rust_xlsxwriter, with a title row
//! above the header) and as CSV (UTF-8 or GB18030); 20 rows are bad in
//! known ways. Read by the import tests (server/tests/ledger_import.rs)
//! and the import benchmark (server/benches/ledger_import.rs).
//!
//! Before the file is imported, [`seed`] records what a community already
//! has: a household in the second grid with two residents whose ID
//! numbers two rows of the file repeat (suspected duplicates), and the
//! first household of the file with its head, whose phone the file
//! changes.

#![allow(dead_code)] // each user takes what it needs

use std::collections::HashSet;

use gridsync_core::household::{NewHousehold, Place, Resident};
use gridsync_server::AppState;
use gridsync_server::principal::Principal;

pub(crate) const STREET: &str = "110105001";
pub(crate) const COMMUNITY: &str = "110105001001";
pub(crate) const G1: &str = "110105001001001";
pub(crate) const G2: &str = "110105001001002";
/// A grid of another community: outside a 幸福社区 supervisor's import.
pub(crate) const OTHER_GRID: &str = "110105001002001";
/// Residents in the file.
pub(crate) const RESIDENTS: usize = 5000;
/// Households in the file (families of three; the last one of two).
pub(crate) const HOUSEHOLDS: usize = RESIDENTS.div_ceil(3);

/// Two communities of one street, three grids.
pub(crate) const TERRITORY_JSON: &str = r#"{"streets":[{"code":"110105001","name":"建国门街道","communities":[
  {"code":"110105001001","name":"幸福社区","grids":[
    {"code":"110105001001001","name":"第一网格"},
    {"code":"110105001001002","name":"第二网格"}]},
  {"code":"110105001002","name":"和平社区","grids":[
    {"code":"110105001002001","name":"第一网格"}]}]}]}"#;

/// The header row.
pub(crate) const HEADERS: [&str; 14] = [
    "序号",
    "姓名",
    "身份证号",
    "性别",
    "出生日期",
    "民族",
    "联系电话",
    "与户主关系",
    "居住状态",
    "所属网格",
    "小区",
    "楼栋",
    "单元",
    "门牌号",
];

/// A bad row: its index among the data rows, the column a refusal names
/// (as the import names it: the file's header, with the field's label
/// when they differ) and what is wrong.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bad {
    pub(crate) index: usize,
    pub(crate) column: &'static str,
    pub(crate) what: &'static str,
}

/// The 20 bad rows, each in a different household.
pub(crate) const BAD: [Bad; 20] = [
    Bad {
        index: 10,
        column: "身份证号（公民身份号码）",
        what: "check digit",
    },
    Bad {
        index: 250,
        column: "身份证号（公民身份号码）",
        what: "check digit",
    },
    Bad {
        index: 490,
        column: "身份证号（公民身份号码）",
        what: "check digit",
    },
    Bad {
        index: 730,
        column: "身份证号（公民身份号码）",
        what: "check digit",
    },
    Bad {
        index: 970,
        column: "出生日期",
        what: "bad date",
    },
    Bad {
        index: 1210,
        column: "出生日期",
        what: "bad date",
    },
    Bad {
        index: 1450,
        column: "出生日期",
        what: "bad date",
    },
    Bad {
        index: 1690,
        column: "民族",
        what: "unknown ethnicity",
    },
    Bad {
        index: 1930,
        column: "民族",
        what: "unknown ethnicity",
    },
    Bad {
        index: 2170,
        column: "民族",
        what: "unknown ethnicity",
    },
    Bad {
        index: 2410,
        column: "姓名",
        what: "missing name",
    },
    Bad {
        index: 2650,
        column: "姓名",
        what: "missing name",
    },
    Bad {
        index: 2890,
        column: "所属网格",
        what: "grid outside",
    },
    Bad {
        index: 3130,
        column: "所属网格",
        what: "grid outside",
    },
    Bad {
        index: 3370,
        column: "身份证号（公民身份号码）",
        what: "duplicate",
    },
    Bad {
        index: 3610,
        column: "身份证号（公民身份号码）",
        what: "duplicate",
    },
    Bad {
        index: 3850,
        column: "与户主关系",
        what: "unknown relation",
    },
    Bad {
        index: 4090,
        column: "联系电话",
        what: "bad phone",
    },
    Bad {
        index: 4330,
        column: "性别",
        what: "sex against ID",
    },
    Bad {
        index: 4570,
        column: "居住状态",
        what: "unknown status",
    },
];

/// The ID numbers of the two residents [`seed`] records in another
/// household, which two rows of the file repeat.
pub(crate) fn existing_ids() -> [String; 2] {
    [
        id_number("110101", 1961, 3, 4, 11),
        id_number("110101", 1963, 5, 6, 22),
    ]
}

/// An ID number with its GB 11643 check character.
pub(crate) fn id_number(region: &str, y: i32, m: u32, d: u32, seq: u32) -> String {
    let body = format!("{region}{y:04}{m:02}{d:02}{seq:03}");
    gridsync_core::id_number::with_check_character(&body).unwrap()
}

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
    "何", "郭", "马", "罗",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟",
    "涛", "明", "超", "秀兰", "霞", "平", "刚", "桂英", "建华", "志强",
];

/// Where household `h` lives: its grid and place.
pub(crate) fn household_place(h: usize) -> (String, Place) {
    let half = HOUSEHOLDS.div_ceil(2);
    let (grid, compound, x) = if h < half {
        (G1, "幸福小区", h)
    } else {
        (G2, "和谐家园", h - half)
    };
    (
        grid.to_owned(),
        Place {
            area: String::new(),
            compound: compound.to_owned(),
            building: format!("{}号楼", x / 48 + 1),
            unit: format!("{}单元", (x % 48) / 16 + 1),
            room: format!("{}0{}", (x % 16) / 2 + 1, x % 2 + 1),
        },
    )
}

/// The data rows (without the header), good, as the file has them
/// before the bad ones are spoilt.
fn good_rows() -> Vec<Vec<String>> {
    let mut used = HashSet::new();
    let mut rows = Vec::with_capacity(RESIDENTS);
    for i in 0..RESIDENTS {
        let (h, m) = (i / 3, i % 3);
        let (grid, place) = household_place(h);
        let head_year = 1945 + (h % 40) as i32;
        let (year, male, relation) = match m {
            0 => (head_year, true, "户主"),
            1 => (head_year + 2, false, "配偶"),
            _ => (
                head_year + 26,
                h % 2 == 0,
                if h % 2 == 0 { "子" } else { "女" },
            ),
        };
        let (month, day) = (1 + (h % 12) as u32, 1 + ((h / 12) % 28) as u32);
        let mut seq = ((h / 336) * 6 + m * 2) as u32 % 998;
        let id = loop {
            let s = seq - seq % 2 + u32::from(male);
            let id = id_number("110105", year, month, day, s);
            if used.insert(id.clone()) {
                break id;
            }
            seq = (seq + 2) % 998;
        };
        let name = format!(
            "{}{}",
            SURNAMES[(h * 7 + m) % SURNAMES.len()],
            GIVEN[(h * 3 + m * 5) % GIVEN.len()]
        );
        let birth = if i % 5 == 0 {
            format!("{year}/{month}/{day}")
        } else {
            format!("{year:04}-{month:02}-{day:02}")
        };
        let ethnicity = match i % 10 {
            3 => "回族",
            7 => "01",
            _ => "汉族",
        };
        rows.push(vec![
            (i + 1).to_string(),
            name,
            id,
            if male { "男" } else { "女" }.to_owned(),
            birth,
            ethnicity.to_owned(),
            format!("138{:08}", i * 7 + 1000),
            relation.to_owned(),
            if h % 7 == 3 { "流动" } else { "户籍" }.to_owned(),
            grid,
            place.compound,
            place.building,
            place.unit,
            place.room,
        ]);
    }
    rows
}

/// The 5,000 data rows with the 20 bad ones spoilt.
pub(crate) fn rows() -> Vec<Vec<String>> {
    let mut rows = good_rows();
    let col = |name: &str| HEADERS.iter().position(|h| *h == name).unwrap();
    let mut dups = existing_ids().into_iter();
    for bad in BAD {
        let row = &mut rows[bad.index];
        match bad.what {
            "check digit" => {
                let id = &mut row[col("身份证号")];
                let last = id.pop().unwrap();
                id.push(if last == '0' { '1' } else { '0' });
            }
            "bad date" => row[col("出生日期")] = "1980-02-30".into(),
            "unknown ethnicity" => row[col("民族")] = "火星族".into(),
            "missing name" => row[col("姓名")] = String::new(),
            "grid outside" => row[col("所属网格")] = OTHER_GRID.into(),
            "duplicate" => {
                // The existing resident's number, with matching sex and date.
                let id = dups.next().unwrap();
                row[col("出生日期")] = format!("{}-{}-{}", &id[6..10], &id[10..12], &id[12..14]);
                let male = (id.as_bytes()[16] - b'0') % 2 == 1;
                row[col("性别")] = if male { "男" } else { "女" }.into();
                row[col("身份证号")] = id;
            }
            "unknown relation" => row[col("与户主关系")] = "表舅".into(),
            "bad phone" => row[col("联系电话")] = "12345".into(),
            "sex against ID" => {
                let sex = &mut row[col("性别")];
                *sex = if sex == "男" { "女" } else { "男" }.into();
            }
            "unknown status" => row[col("居住状态")] = "暂住".into(),
            other => panic!("unknown bad row kind {other}"),
        }
    }
    rows
}

/// The ledger as an XLSX workbook: a title row, the header, the rows
/// (all as text, as ledgers keep ID numbers). Data row `i` is sheet row
/// `i + 3`.
pub(crate) fn xlsx(rows: &[Vec<String>]) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "幸福社区居民台账").unwrap();
    for (c, h) in HEADERS.iter().enumerate() {
        sheet.write_string(1, c as u16, *h).unwrap();
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            if !v.is_empty() {
                sheet.write_string(r as u32 + 2, c as u16, v).unwrap();
            }
        }
    }
    book.save_to_buffer().unwrap()
}

/// The ledger as CSV (header, rows; data row `i` is line `i + 2`), in
/// GB18030 when `gb18030`, else UTF-8 with a byte-order mark.
pub(crate) fn csv(rows: &[Vec<String>], gb18030: bool) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(HEADERS).unwrap();
    for row in rows {
        w.write_record(row).unwrap();
    }
    let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
    if gb18030 {
        let (bytes, _, bad) = encoding_rs::GB18030.encode(&text);
        assert!(!bad);
        bytes.into_owned()
    } else {
        let mut out = b"\xEF\xBB\xBF".to_vec();
        out.extend_from_slice(text.as_bytes());
        out
    }
}

/// What the community holds before the import, recorded as `p` through
/// the push path: a household in G2 whose two residents' ID numbers two
/// rows repeat, and the file's first household with its head only, with
/// another phone.
pub(crate) async fn seed(state: &AppState, p: &Principal) {
    let [a, b] = existing_ids();
    let elsewhere = Place {
        area: String::new(),
        compound: "和谐家园".into(),
        building: "99号楼".into(),
        unit: "1单元".into(),
        room: "101".into(),
    };
    let residents = vec![
        Resident {
            id_number: Some(a),
            ..Resident::named("赵老大")
        },
        Resident {
            id_number: Some(b),
            ..Resident::named("钱老二")
        },
    ];
    gridsync_server::web::actor::edit_as(
        state,
        p,
        &[gridsync_server::sync::grid_doc_id(G2)],
        move |s| {
            s.add_place(
                G2,
                "",
                &elsewhere.compound,
                &elsewhere.building,
                &elsewhere.unit,
            )?;
            s.create_household(NewHousehold {
                grid: G2.into(),
                place: elsewhere,
                residents,
                ..NewHousehold::default()
            })
        },
    )
    .await
    .unwrap();
    let good = good_rows();
    let head = &good[0];
    let (grid, place) = household_place(0);
    let resident = Resident {
        id_number: Some(head[2].clone()),
        phone: Some("13900000000".into()),
        relation: Some("02".into()),
        ..Resident::named(head[1].clone())
    };
    gridsync_server::web::actor::edit_as(
        state,
        p,
        &[gridsync_server::sync::grid_doc_id(&grid)],
        move |s| {
            s.add_place(&grid, "", &place.compound, &place.building, &place.unit)?;
            s.create_household(NewHousehold {
                grid: grid.clone(),
                place,
                residents: vec![resident],
                ..NewHousehold::default()
            })
        },
    )
    .await
    .unwrap();
}
