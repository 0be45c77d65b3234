//! The seed catalogue of issue categories and subtypes (事件分类), each
//! subtype with its handling time limit. Data, not code: a city with its own
//! catalogue replaces this table.

use super::deadline::Limit;

/// A subtype of issue, with its time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subtype {
    /// Stable code, unique within its category.
    pub code: &'static str,
    /// Chinese name shown in the app.
    pub name: &'static str,
    /// How long handling may take, counted from dispatch.
    pub limit: Limit,
}

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
    }
}

const fn hours(code: &'static str, name: &'static str, n: u32) -> Subtype {
    Subtype {
        code,
        name,
        limit: Limit::WorkingHours(n),
    }
}

/// The seed catalogue.
pub const CATALOGUE: &[Category] = &[
    Category {
        code: "dispute",
        name: "矛盾纠纷",
        subtypes: &[
            days("neighbour", "邻里纠纷", 3),
            days("family", "家庭纠纷", 3),
            days("property", "物业纠纷", 5),
            days("labour", "劳资纠纷", 5),
        ],
    },
    Category {
        code: "safety",
        name: "安全隐患",
        subtypes: &[
            hours("gas", "燃气隐患", 2),
            hours("fire", "消防隐患", 4),
            days("building", "房屋安全隐患", 1),
            days("ebike", "电动车违规停放充电", 1),
        ],
    },
    Category {
        code: "sanitation",
        name: "环境卫生",
        subtypes: &[
            days("garbage", "垃圾堆放", 2),
            days("sewage", "污水外溢", 1),
            days("pests", "病媒生物", 3),
        ],
    },
    Category {
        code: "illegal_building",
        name: "私搭乱建",
        subtypes: &[
            days("structure", "违章建筑", 10),
            days("occupation", "占道经营", 3),
            days("parking", "车辆乱停", 1),
        ],
    },
    Category {
        code: "livelihood",
        name: "民生服务",
        subtypes: &[
            days("heating", "供热不足", 1),
            hours("water_power", "停水停电", 4),
            days("assistance", "困难帮扶", 5),
            days("elderly", "养老服务", 5),
        ],
    },
    Category {
        code: "public_order",
        name: "治安",
        subtypes: &[
            hours("suspicious", "可疑人员", 2),
            days("theft", "盗窃", 1),
            days("noise", "噪声扰民", 2),
        ],
    },
    Category {
        code: "facilities",
        name: "物业与公共设施",
        subtypes: &[
            hours("elevator", "电梯故障", 8),
            days("drainage", "管道堵塞", 2),
            days("lighting", "路灯损坏", 3),
            days("repair", "墙体路面修缮", 10),
        ],
    },
    Category {
        code: "other",
        name: "其他",
        subtypes: &[days("other", "其他", 5)],
    },
];

/// The category with this code.
pub fn category(code: &str) -> Option<&'static Category> {
    CATALOGUE.iter().find(|c| c.code == code)
}

/// The subtype `subtype` of category `category`.
pub fn subtype(category_code: &str, subtype: &str) -> Option<&'static Subtype> {
    category(category_code).and_then(|c| c.subtype(subtype))
}

#[cfg(test)]
mod tests {
    use super::*;

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
                assert!(matches!(s.limit, Limit::WorkingDays(n) | Limit::WorkingHours(n) if n > 0));
            }
        }
    }
}
