//! Realistic made-up data for demos, benchmarks and load tests: a grid with
//! its buildings, households, residents with Chinese names and valid ID
//! numbers, and visits. Deterministic for a given seed. Never real people.

use crate::Result;
use crate::doc::Author;
use crate::grid::NewGrid;
use crate::household::{HouseFacts, NewHousehold, Place, Resident, Visit};
use crate::id_number::with_check_character;
use crate::store::Store;
use crate::tagset::TagSet;

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
    "何", "郭", "马", "罗", "梁", "宋", "郑", "谢", "韩", "唐", "冯", "于", "董", "萧",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟",
    "涛", "明", "超", "秀兰", "霞", "平", "刚", "桂英", "建华", "文", "华", "红", "玉兰", "志强",
    "晓东",
];
const FINDINGS: &[&str] = &[
    "家中一切正常",
    "老人身体状况良好，独自在家",
    "反映楼道灯损坏，需要维修",
    "询问医保报销政策，已解释",
    "邻里之间因噪音有小矛盾，已调解",
    "暖气温度偏低，已登记",
    "宣传防诈骗知识",
];
const TAGS: &[&str] = &[
    "living_alone_elderly",
    "empty_nest_elderly",
    "disabled",
    "subsistence_allowance",
    "party_member",
    "left_behind_child",
];

/// How big a grid to make.
#[derive(Debug, Clone, Copy)]
pub struct GridPlan {
    /// Households in the grid.
    pub households: usize,
    /// Residents per household (on average; exact total = households × this).
    pub residents_per_household: usize,
    /// Visits per household.
    pub visits_per_household: usize,
    /// Buildings the households are spread over.
    pub buildings: usize,
    /// Units per building.
    pub units: usize,
    /// Whether the package-holders' own visits are recorded too (each as
    /// made on its holder's phone); without them only the worker's are,
    /// for a phone that pushes as the worker alone.
    pub holder_visits: bool,
}

impl Default for GridPlan {
    /// One typical grid: 500 households, 1,500 residents, 5,000 visits.
    fn default() -> Self {
        Self {
            households: 500,
            residents_per_household: 3,
            visits_per_household: 10,
            buildings: 10,
            units: 3,
            holder_visits: true,
        }
    }
}

/// A deterministic generator of made-up people and places.
#[derive(Debug)]
pub struct Generator {
    rng: fastrand::Rng,
}

impl Generator {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// A Chinese name.
    pub fn name(&mut self) -> String {
        let s = SURNAMES[self.rng.usize(..SURNAMES.len())];
        let g = GIVEN[self.rng.usize(..GIVEN.len())];
        format!("{s}{g}")
    }

    /// A valid ID number (region 110105) for someone born between 1930 and 2020.
    pub fn id_number(&mut self) -> String {
        let year = self.rng.u32(1930..=2020);
        let month = self.rng.u32(1..=12);
        let day = self.rng.u32(1..=28);
        let seq = self.rng.u32(0..1000);
        let body = format!("110105{year:04}{month:02}{day:02}{seq:03}");
        // 17 digits by construction.
        with_check_character(&body).unwrap_or_default()
    }

    /// A mobile number.
    pub fn phone(&mut self) -> String {
        format!(
            "13{}{:08}",
            self.rng.u32(0..=9),
            self.rng.u32(0..100_000_000)
        )
    }

    /// A resident with every field filled.
    pub fn resident(&mut self, relation: &str) -> Resident {
        let mut tags = TagSet::default();
        if self.rng.u8(..10) == 0 {
            tags.insert(TAGS[self.rng.usize(..TAGS.len())]);
        }
        Resident {
            name: self.name(),
            id_number: Some(self.id_number()),
            ethnicity: Some(if self.rng.u8(..10) == 0 { "03" } else { "01" }.into()),
            phone: Some(self.phone()),
            relation: Some(relation.into()),
            status: Some(
                if self.rng.u8(..5) == 0 {
                    "floating"
                } else {
                    "registered"
                }
                .into(),
            ),
            tags,
            ..Resident::default()
        }
    }

    /// A visit at `at` (ms) by `visitor`.
    pub fn visit(&mut self, visitor: &str, role: &str, at: i64) -> Visit {
        Visit {
            visitor: visitor.into(),
            role: role.into(),
            at,
            method: ["in_person", "in_person", "phone", "message"][self.rng.usize(..4)].into(),
            findings: FINDINGS[self.rng.usize(..FINDINGS.len())].into(),
            needs: String::new(),
            follow_up: self.rng.u8(..10) == 0,
            lat: None,
            lon: None,
            corrects: None,
        }
    }

    /// A number in `range`.
    pub fn below(&mut self, n: usize) -> usize {
        self.rng.usize(..n.max(1))
    }
}

/// The place of household number `i` under `plan`.
pub fn place_of(plan: &GridPlan, i: usize) -> Place {
    let per_building = plan.households.div_ceil(plan.buildings.max(1)).max(1);
    let building = i / per_building;
    let in_building = i % per_building;
    let per_unit = per_building.div_ceil(plan.units.max(1)).max(1);
    let unit = in_building / per_unit;
    let n = in_building % per_unit;
    Place {
        area: "东片区".into(),
        compound: "幸福小区".into(),
        building: format!("{}号楼", building + 1),
        unit: format!("{}单元", unit + 1),
        room: format!("{}{:02}", n / 4 + 1, n % 4 + 1),
    }
}

/// Record grid `code` and `plan`'s households in `store`, in one batch.
/// Visits are spread over the 90 days before `now_ms`, by `worker`.
/// Returns the household ids.
pub fn populate_grid(
    store: &mut Store,
    code: &str,
    plan: &GridPlan,
    worker: &str,
    now_ms: i64,
    seed: u64,
) -> Result<Vec<String>> {
    store.batch(|s| {
        s.create_grid(NewGrid {
            code: code.into(),
            name: format!("第{}网格", &code[12..]),
            community: "幸福社区".into(),
            street: "建国门街道".into(),
        })?;
        let holders: Vec<String> = (0..20).map(|i| format!("holder-{i}")).collect();
        populate_households(s, code, plan, worker, &holders, now_ms, seed)
    })
}

/// Add `plan`'s places and households to grid `code`, which `store` already
/// has, in one batch. Households are held in turn by `holders` (if any), and
/// visited by `worker` and their holder over the 90 days before `now_ms`.
pub fn populate_households(
    store: &mut Store,
    code: &str,
    plan: &GridPlan,
    worker: &str,
    holders: &[String],
    now_ms: i64,
    seed: u64,
) -> Result<Vec<String>> {
    let mut g = Generator::new(seed);
    store.batch(|s| {
        for b in 0..plan.buildings {
            for u in 0..plan.units {
                s.add_place(
                    code,
                    "东片区",
                    "幸福小区",
                    &format!("{}号楼", b + 1),
                    &format!("{}单元", u + 1),
                )?;
            }
        }
        let mut ids = Vec::with_capacity(plan.households);
        for i in 0..plan.households {
            let residents = (0..plan.residents_per_household)
                .map(|k| g.resident(if k == 0 { "02" } else { "10" }))
                .collect();
            let holder = (!holders.is_empty()).then(|| holders[i % holders.len()].clone());
            let id = s.create_household(NewHousehold {
                grid: code.into(),
                place: place_of(plan, i),
                house: HouseFacts {
                    usage: Some("residential".into()),
                    occupants: Some(plan.residents_per_household as u32),
                    ..HouseFacts::default()
                },
                holder: holder.clone(),
                tags: TagSet::default(),
                residents,
            })?;
            // Each visit as recorded on its visitor's own phone.
            for k in 0..plan.visits_per_household {
                let at = now_ms - (g.below(90 * 24) as i64 + 1) * 3_600_000;
                let (visit, role) = match (&holder, k % 3) {
                    (Some(h), 0) if plan.holder_visits => {
                        (g.visit(h, "package_holder", at), "package_holder")
                    }
                    _ => (g.visit(worker, "grid_worker", at), "grid_worker"),
                };
                let author = Author {
                    user: visit.visitor.clone(),
                    role: role.into(),
                };
                s.with_author(author, |s| s.add_visit(&id, visit))?;
            }
            ids.push(id);
        }
        Ok(ids)
    })
}
