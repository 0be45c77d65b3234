//! The seed catalogue of issue categories and subtypes (事件分类), each
//! subtype with its handling time limit and the department that usually
//! handles it. Urgent safety subtypes (燃气隐患, 消防隐患, 可疑人员, 占用消防通道)
//! count natural hours, day and night; the others working days or hours
//! ([`Limit`]). Data, not code: a city with its own catalogue replaces
//! this seed with a JSON file ([`parse`], [`install`]; the format is
//! [`to_json`]'s), which every lookup ([`all`], [`category`], [`subtype`])
//! then answers from.

use std::sync::RwLock;

use serde::{Deserialize, Serialize};

use super::deadline::Limit;
use crate::{Error, Reason};

/// A subtype of issue, with its time limit and the department that
/// usually handles it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subtype {
    /// Stable code, unique within its category.
    pub code: &'static str,
    /// Chinese name shown in the app.
    pub name: &'static str,
    /// How long handling may take, counted from dispatch.
    pub limit: Limit,
    /// The code of the department (职能部门) that usually handles it
    /// (吹哨报到 offers it first), or `None` when the community does.
    pub department: Option<&'static str>,
}

impl Subtype {
    /// How long a report may wait to be accepted (待受理), counted from
    /// when it was reported or escalated: one natural hour for the urgent
    /// subtypes counted in natural hours, else one working day.
    pub fn accept_limit(&self) -> Limit {
        match self.limit {
            Limit::NaturalHours(_) => Limit::NaturalHours(1),
            _ => ACCEPT_LIMIT,
        }
    }
}

/// How long a report of a subtype this app does not know may wait to be
/// accepted.
pub const ACCEPT_LIMIT: Limit = Limit::WorkingDays(1);

/// A category of issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Category {
    /// Stable code.
    pub code: &'static str,
    /// Chinese name shown in the app.
    pub name: &'static str,
    /// Its subtypes.
    pub subtypes: &'static [Subtype],
}

impl Category {
    /// The subtype with this code.
    pub fn subtype(&self, code: &str) -> Option<&'static Subtype> {
        self.subtypes.iter().find(|s| s.code == code)
    }
}

const fn days(code: &'static str, name: &'static str, n: u32) -> Subtype {
    Subtype {
        code,
        name,
        limit: Limit::WorkingDays(n),
        department: None,
    }
}

const fn hours(code: &'static str, name: &'static str, n: u32) -> Subtype {
    Subtype {
        code,
        name,
        limit: Limit::WorkingHours(n),
        department: None,
    }
}

/// Urgent: `n` natural hours, day and night.
const fn urgent(code: &'static str, name: &'static str, n: u32) -> Subtype {
    Subtype {
        code,
        name,
        limit: Limit::NaturalHours(n),
        department: None,
    }
}

/// `s`, usually handled by department `dept`.
const fn by(dept: &'static str, s: Subtype) -> Subtype {
    Subtype {
        department: Some(dept),
        ..s
    }
}

/// The seed catalogue. Department codes are those of the demo and of
/// common district set-ups (城管 chengguan, 住建 zhujian, 消防 xiaofang,
/// 公安 gongan, 民政 minzheng, 司法 sifa, 信访 xinfang, 人社 renshe,
/// 市场监管 shichang); a dispatch list offers the usual one first when the
/// directory has it.
pub const CATALOGUE: &[Category] = &[
    Category {
        code: "dispute",
        name: "矛盾纠纷",
        subtypes: &[
            days("neighbour", "邻里纠纷", 3),
            days("family", "家庭纠纷", 3),
            by("zhujian", days("property", "物业纠纷", 5)),
            by("renshe", days("labour", "劳资纠纷", 5)),
        ],
    },
    Category {
        code: "safety",
        name: "安全隐患",
        subtypes: &[
            by("chengguan", urgent("gas", "燃气隐患", 2)),
            by("xiaofang", urgent("fire", "消防隐患", 4)),
            by("zhujian", days("building", "房屋安全隐患", 1)),
            by("xiaofang", days("ebike", "电动车违规停放充电", 1)),
        ],
    },
    Category {
        code: "sanitation",
        name: "环境卫生",
        subtypes: &[
            by("chengguan", days("garbage", "垃圾堆放", 2)),
            by("chengguan", days("sewage", "污水外溢", 1)),
            days("pests", "病媒生物", 3),
        ],
    },
    Category {
        code: "garbage_sorting",
        name: "垃圾分类",
        subtypes: &[
            by("chengguan", days("mixed", "混投混放", 2)),
            by("chengguan", days("bins", "分类设施缺损", 3)),
            by("chengguan", days("bulky", "大件垃圾清运", 3)),
        ],
    },
    Category {
        code: "illegal_building",
        name: "私搭乱建",
        subtypes: &[
            by("chengguan", days("structure", "违章建筑", 10)),
            by("chengguan", days("occupation", "占道经营", 3)),
        ],
    },
    Category {
        code: "parking",
        name: "车辆乱停",
        subtypes: &[
            by("chengguan", days("car", "机动车乱停", 1)),
            by("chengguan", days("bike", "非机动车乱停", 1)),
            by("xiaofang", urgent("fire_lane", "占用消防通道", 4)),
            by("chengguan", days("zombie", "僵尸车", 5)),
        ],
    },
    Category {
        code: "livelihood",
        name: "民生服务",
        subtypes: &[
            by("zhujian", days("heating", "供热不足", 1)),
            hours("water_power", "停水停电", 4),
            by("minzheng", days("assistance", "困难帮扶", 5)),
            by("minzheng", days("elderly", "养老服务", 5)),
        ],
    },
    Category {
        code: "errand",
        name: "帮办代办",
        subtypes: &[
            days("certificate", "证照代办", 5),
            by("renshe", days("social_security", "社保医保代办", 5)),
            by("minzheng", days("subsidy", "补贴申领代办", 5)),
        ],
    },
    Category {
        code: "petition",
        name: "信访",
        subtypes: &[
            by("xinfang", days("appeal", "信访诉求", 5)),
            by("xinfang", days("group", "群体性诉求苗头", 1)),
            by("xinfang", days("repeat", "重复信访", 3)),
        ],
    },
    Category {
        code: "unmanaged_estate",
        name: "无物业小区",
        subtypes: &[
            days("cleaning", "公共区域保洁", 3),
            by("zhujian", days("repair", "公共设施维修", 5)),
            days("security", "安全防范", 2),
        ],
    },
    Category {
        code: "migrant",
        name: "流动人口服务",
        subtypes: &[
            by("gongan", days("registration", "居住登记", 5)),
            by("gongan", days("permit", "居住证办理", 10)),
            by("renshe", days("employment", "就业就学咨询", 5)),
        ],
    },
    Category {
        code: "legal",
        name: "法律服务",
        subtypes: &[
            by("sifa", days("consultation", "法律咨询", 5)),
            by("sifa", days("aid", "法律援助", 10)),
            by("sifa", days("mediation", "人民调解", 5)),
        ],
    },
    Category {
        code: "public_order",
        name: "治安",
        subtypes: &[
            by("gongan", urgent("suspicious", "可疑人员", 2)),
            by("gongan", days("theft", "盗窃", 1)),
            by("gongan", days("noise", "噪声扰民", 2)),
        ],
    },
    Category {
        code: "facilities",
        name: "物业与公共设施",
        subtypes: &[
            by("shichang", hours("elevator", "电梯故障", 8)),
            days("drainage", "管道堵塞", 2),
            by("chengguan", days("lighting", "路灯损坏", 3)),
            by("zhujian", days("repair", "墙体路面修缮", 10)),
        ],
    },
    Category {
        code: "other",
        name: "其他",
        subtypes: &[days("other", "其他", 5)],
    },
];

/// The catalogue installed by [`install`], if any.
static INSTALLED: RwLock<Option<&'static [Category]>> = RwLock::new(None);

/// The catalogue in use: the one [`install`]ed, else the seed [`CATALOGUE`].
pub fn all() -> &'static [Category] {
    INSTALLED.read().ok().and_then(|g| *g).unwrap_or(CATALOGUE)
}

/// The category with this code.
pub fn category(code: &str) -> Option<&'static Category> {
    all().iter().find(|c| c.code == code)
}

/// The subtype `subtype` of category `category`.
pub fn subtype(category_code: &str, subtype: &str) -> Option<&'static Subtype> {
    category(category_code).and_then(|c| c.subtype(subtype))
}

/// A limit as the file writes it: `{"working_days": 3}`,
/// `{"working_hours": 4}` or `{"natural_hours": 2}`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum FileLimit {
    WorkingDays(u32),
    WorkingHours(u32),
    NaturalHours(u32),
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSubtype {
    code: String,
    name: String,
    limit: FileLimit,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    department: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCategory {
    code: String,
    name: String,
    subtypes: Vec<FileSubtype>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCatalogue {
    categories: Vec<FileCategory>,
}

/// `cats` as a catalogue file: `{"categories": [{"code", "name",
/// "subtypes": [{"code", "name", "limit": {"working_days": 3},
/// "department"?}]}]}`. `to_json(CATALOGUE)` is the seed, a city's
/// starting point.
pub fn to_json(cats: &[Category]) -> String {
    let file = FileCatalogue {
        categories: cats
            .iter()
            .map(|c| FileCategory {
                code: c.code.into(),
                name: c.name.into(),
                subtypes: c
                    .subtypes
                    .iter()
                    .map(|s| FileSubtype {
                        code: s.code.into(),
                        name: s.name.into(),
                        limit: match s.limit {
                            Limit::WorkingDays(n) => FileLimit::WorkingDays(n),
                            Limit::WorkingHours(n) => FileLimit::WorkingHours(n),
                            Limit::NaturalHours(n) => FileLimit::NaturalHours(n),
                        },
                        department: s.department.map(Into::into),
                    })
                    .collect(),
            })
            .collect(),
    };
    serde_json::to_string_pretty(&file).unwrap_or_default()
}

fn code_ok(code: &str) -> bool {
    (1..=32).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn name_ok(name: &str) -> bool {
    let n = name.trim().chars().count();
    (1..=32).contains(&n) && !name.chars().any(char::is_control)
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// Read and check a catalogue file; the error names the field, e.g.
/// `categories[2].subtypes[0].limit`. The catalogue lives as long as the
/// process (it is loaded once, at start).
pub fn parse(json: &str) -> crate::Result<&'static [Category]> {
    let file: FileCatalogue = serde_json::from_str(json).map_err(|e| {
        Reason::new(
            format!("事件分类文件格式错误（第{}行）", e.line()),
            format!("the catalogue file is not valid: {e}"),
        )
        .on("catalogue")
    })?;
    if file.categories.is_empty() {
        return Err(Reason::new("事件分类不能为空", "no categories").on("categories"));
    }
    let mut cats = Vec::with_capacity(file.categories.len());
    for (i, c) in file.categories.into_iter().enumerate() {
        let at = format!("categories[{i}]");
        if !code_ok(&c.code) {
            return Err(Reason::new(
                "分类编码应为1到32个小写字母、数字或下划线",
                "a code is 1 to 32 lowercase letters, digits or _",
            )
            .on(format!("{at}.code")));
        }
        if cats.iter().any(|k: &Category| k.code == c.code) {
            return Err(
                Reason::new("分类编码重复", "duplicate category code").on(format!("{at}.code"))
            );
        }
        if !name_ok(&c.name) {
            return Err(
                Reason::new("名称应为1到32个字符", "a name is 1 to 32 characters")
                    .on(format!("{at}.name")),
            );
        }
        if c.subtypes.is_empty() {
            return Err(
                Reason::new("每个分类至少要有一个小类", "a category needs a subtype")
                    .on(format!("{at}.subtypes")),
            );
        }
        let mut subs: Vec<Subtype> = Vec::with_capacity(c.subtypes.len());
        for (j, st) in c.subtypes.into_iter().enumerate() {
            let at = format!("{at}.subtypes[{j}]");
            if !code_ok(&st.code) {
                return Err(Reason::new(
                    "小类编码应为1到32个小写字母、数字或下划线",
                    "a code is 1 to 32 lowercase letters, digits or _",
                )
                .on(format!("{at}.code")));
            }
            if subs.iter().any(|k| k.code == st.code) {
                return Err(
                    Reason::new("小类编码重复", "duplicate subtype code").on(format!("{at}.code"))
                );
            }
            if !name_ok(&st.name) {
                return Err(
                    Reason::new("名称应为1到32个字符", "a name is 1 to 32 characters")
                        .on(format!("{at}.name")),
                );
            }
            let limit = match st.limit {
                FileLimit::WorkingDays(n) => Limit::WorkingDays(n),
                FileLimit::WorkingHours(n) => Limit::WorkingHours(n),
                FileLimit::NaturalHours(n) => Limit::NaturalHours(n),
            };
            let max = match limit {
                Limit::WorkingDays(_) => 365,
                _ => 24 * 365,
            };
            if !(1..=max).contains(&limit.amount()) {
                return Err(Reason::new(
                    format!("办理时限应为1到{max}"),
                    format!("a limit is 1 to {max}"),
                )
                .on(format!("{at}.limit")));
            }
            if st.department.as_deref().is_some_and(|d| !code_ok(d)) {
                return Err(Reason::new(
                    "部门编码应为小写字母、数字或下划线",
                    "a department code is lowercase letters, digits or _",
                )
                .on(format!("{at}.department")));
            }
            subs.push(Subtype {
                code: leak(st.code),
                name: leak(st.name.trim().to_owned()),
                limit,
                department: st.department.map(leak),
            });
        }
        cats.push(Category {
            code: leak(c.code),
            name: leak(c.name.trim().to_owned()),
            subtypes: Box::leak(subs.into_boxed_slice()),
        });
    }
    Ok(Box::leak(cats.into_boxed_slice()))
}

/// Use the catalogue file `json` from now on, in this process, instead of
/// the seed (or of the one installed before).
pub fn install(json: &str) -> crate::Result<()> {
    let cats = parse(json)?;
    let mut g = INSTALLED
        .write()
        .map_err(|_| Error::Shape("catalogue lock poisoned".into()))?;
    *g = Some(cats);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_reads_back_from_its_file_and_bad_files_name_the_field() {
        let cats = parse(&to_json(CATALOGUE)).unwrap_or_default();
        assert_eq!(cats, CATALOGUE);
        let bad = |json: &str| match parse(json) {
            Err(Error::Invalid { field, .. }) => field,
            other => format!("{other:?}"),
        };
        assert_eq!(bad("{"), "catalogue");
        assert_eq!(bad(r#"{"categories": []}"#), "categories");
        let one = |sub: &str| {
            format!(r#"{{"categories": [{{"code": "a", "name": "甲", "subtypes": [{sub}]}}]}}"#)
        };
        assert_eq!(
            bad(&one(
                r#"{"code": "x", "name": "乙", "limit": {"working_days": 0}}"#
            )),
            "categories[0].subtypes[0].limit"
        );
        assert_eq!(
            bad(&one(
                r#"{"code": "X y", "name": "乙", "limit": {"natural_hours": 2}}"#
            )),
            "categories[0].subtypes[0].code"
        );
        assert_eq!(
            bad(&one(
                r#"{"code": "x", "name": "乙", "limit": {"working_hours": 2}}, {"code": "x", "name": "丙", "limit": {"working_hours": 2}}"#
            )),
            "categories[0].subtypes[1].code"
        );
        assert!(
            parse(&one(
                r#"{"code": "x", "name": "乙", "limit": {"weeks": 2}}"#
            ))
            .is_err()
        );
        let ok = parse(&one(
            r#"{"code": "x", "name": "乙", "limit": {"natural_hours": 3}, "department": "chengguan"}"#,
        ))
        .unwrap_or_default();
        assert_eq!(ok[0].subtypes[0].limit, Limit::NaturalHours(3));
        assert_eq!(ok[0].subtypes[0].department, Some("chengguan"));
    }

    #[test]
    fn codes_are_unique_and_limits_positive() {
        let mut cats: Vec<_> = CATALOGUE.iter().map(|c| c.code).collect();
        cats.sort_unstable();
        cats.dedup();
        assert_eq!(cats.len(), CATALOGUE.len());
        for c in CATALOGUE {
            assert!(!c.subtypes.is_empty());
            let mut subs: Vec<_> = c.subtypes.iter().map(|s| s.code).collect();
            subs.sort_unstable();
            subs.dedup();
            assert_eq!(subs.len(), c.subtypes.len(), "{}", c.code);
            for s in c.subtypes {
                assert!(s.limit.amount() > 0);
            }
        }
        // Urgent safety subtypes are counted day and night.
        for (c, s, h) in [
            ("safety", "gas", 2),
            ("safety", "fire", 4),
            ("public_order", "suspicious", 2),
        ] {
            assert_eq!(subtype(c, s).map(|s| s.limit), Some(Limit::NaturalHours(h)));
        }
        // The categories the seeds' cities name.
        for name in [
            "信访",
            "帮办代办",
            "垃圾分类",
            "车辆乱停",
            "无物业小区",
            "流动人口服务",
            "法律服务",
        ] {
            assert!(CATALOGUE.iter().any(|c| c.name == name), "{name}");
        }
    }
}
