//! Realistic made-up data for demos, benchmarks and load tests: a grid with
//! its buildings, households, residents with Chinese names and valid ID
//! numbers, and visits. Deterministic for a given seed (and `now`). Never
//! real people.
//!
//! What a supervisor would recognise: families whose relations, ages and
//! birth years agree (one 户主, at most one 配偶 of a similar age and the
//! other sex, children 19–39 years younger than both parents, the 户主's
//! parents older again), single-person households, sex and birth date
//! that agree with the ID number, attention tags that fit the person
//! (独居老人 only for someone of 60 or more living alone, 空巢老人 only
//! for the elderly without children at home, 留守儿童 only for children
//! whose parents work away, 党员 only for adults), visits in working
//! hours (08:30–18:00 Beijing time), mostly on working days, over the
//! last 60 days, some households not visited for a month, a few without a
//! 包保责任人, and now and then a 群众诉求 or a visit needing follow-up.
//!
//! The benchmarks size their grids with [`GridPlan`]: the totals it names
//! (households, residents = households × residents per household, visits
//! = households × visits per household) are exact whatever the content.

use time::Date;

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
/// Given names by sex (men, women) and generation (born before 1965,
/// 1965–1994, from 1995).
const GIVEN_BY: [[&[&str]; 3]; 2] = [
    [
        &[
            "建国", "建华", "国强", "志强", "德胜", "玉明", "福生", "长林", "振华", "桂林",
        ],
        &[
            "伟", "强", "磊", "军", "勇", "杰", "涛", "明", "超", "刚", "晓东", "海涛", "志刚",
        ],
        &[
            "浩然", "宇轩", "子豪", "俊杰", "一鸣", "子轩", "博文", "天佑", "皓轩", "明哲",
        ],
    ],
    [
        &[
            "秀英", "桂英", "玉兰", "秀兰", "淑珍", "桂兰", "凤英", "秀珍", "玉珍", "淑芬",
        ],
        &[
            "芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "红", "燕", "丽娟", "晓燕",
        ],
        &[
            "欣怡", "梓涵", "雨涵", "诗涵", "可馨", "思琪", "佳怡", "一诺", "语桐", "若曦",
        ],
    ],
];
/// What a visit found: (findings, 群众诉求, needs follow-up, only where
/// someone of 60 or more lives).
const FINDINGS: &[(&str, &str, bool, bool)] = &[
    ("家中一切正常", "", false, false),
    ("家中一切正常，宣传防诈骗知识", "", false, false),
    ("询问医保报销政策，已解释", "", false, false),
    ("邻里之间因噪音有小矛盾，已调解", "", false, false),
    ("核对家庭成员信息，无变化", "", false, false),
    ("宣传垃圾分类和消防安全", "", false, false),
    ("老人身体状况良好", "", false, true),
    ("老人独自在家，精神状态良好", "", false, true),
];
/// Findings that come with a concern, rarer.
const CONCERNS: &[(&str, &str, bool, bool)] = &[
    ("反映楼道灯损坏", "楼道灯损坏，希望尽快维修", true, false),
    ("暖气温度偏低", "暖气不热，希望物业检修", true, false),
    ("咨询孩子入学", "咨询小学入学所需材料，需回复", true, false),
    ("反映小区停车难", "希望增设停车位", false, false),
    ("反映单元门禁损坏", "", true, false),
    ("老人行动不便", "希望申请居家养老上门服务", true, true),
    ("老人询问高龄津贴", "咨询高龄津贴申领，需回复", true, true),
];
/// Non-Han ethnicities of the demo (GB 3304): 蒙古族, 回族, 满族.
const MINORITIES: &[&str] = &["02", "03", "11"];

/// Mean days in a year, for turning ages into birth dates.
const YEAR_DAYS: f64 = 365.2425;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// Beijing time is UTC+8 all year.
const CHINA_MS: i64 = 8 * HOUR_MS;

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

/// One member of a family being made.
struct Member {
    relation: &'static str,
    male: bool,
    age: i32,
    surname: &'static str,
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

    /// A given name for someone of this sex born in `year`.
    fn given(&mut self, male: bool, year: i32) -> &'static str {
        let generation = match year {
            ..1965 => 0,
            1965..1995 => 1,
            _ => 2,
        };
        let names = GIVEN_BY[usize::from(!male)][generation];
        names[self.rng.usize(..names.len())]
    }

    fn surname(&mut self) -> &'static str {
        SURNAMES[self.rng.usize(..SURNAMES.len())]
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

    /// The ID number of someone born on `birth`: the sequence number's
    /// last digit odd for a man, even for a woman (GB 11643).
    fn id_number_of(&mut self, birth: Date, male: bool) -> String {
        let seq = self.rng.u32(0..500) * 2 + u32::from(male);
        let body = format!(
            "110105{:04}{:02}{:02}{seq:03}",
            birth.year(),
            u8::from(birth.month()),
            birth.day()
        );
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

    /// A resident with every field filled, of an age that fits `relation`
    /// (a 户主 or 配偶 is an adult, a 子/女 younger), on its own: for
    /// tests that need one person; [`Generator::family`] makes households.
    pub fn resident(&mut self, relation: &str) -> Resident {
        let today = crate::clock::Clock::System.today();
        let age = match relation.as_bytes().first() {
            Some(b'2' | b'3') => self.rng.i32(1..=30),
            Some(b'4') => self.rng.i32(0..=12),
            Some(b'5' | b'6') => self.rng.i32(60..=90),
            _ => self.rng.i32(25..=75),
        };
        let male = match relation {
            "11" | "20" | "51" => true,
            "12" | "30" | "52" => false,
            _ => self.rng.bool(),
        };
        let member = Member {
            relation: "80",
            male,
            age,
            surname: self.surname(),
        };
        let mut r = self.person(&member, today, "01", "registered");
        r.relation = Some(relation.into());
        r
    }

    /// A birth date `age` whole years before `today`.
    fn born(&mut self, age: i32, today: Date) -> Date {
        // Somewhere inside the year of age, clear of its ends, so the
        // whole years from it to today are exactly `age`.
        let years = f64::from(age) + 0.01 + self.rng.f64() * 0.98;
        let days = (years * YEAR_DAYS) as i32;
        Date::from_julian_day(today.to_julian_day() - days).unwrap_or(today)
    }

    /// The resident `m`, with an ID number, sex and birth date that agree.
    fn person(&mut self, m: &Member, today: Date, ethnicity: &str, status: &str) -> Resident {
        let birth = self.born(m.age, today);
        // Children's contact number is a guardian's (`family` fills it in).
        let phone = (m.age >= 14).then(|| self.phone());
        Resident {
            name: format!("{}{}", m.surname, self.given(m.male, birth.year())),
            id_number: Some(self.id_number_of(birth, m.male)),
            sex: Some(if m.male { "1" } else { "2" }.into()),
            birth_date: Some(format!(
                "{:04}-{:02}-{:02}",
                birth.year(),
                u8::from(birth.month()),
                birth.day()
            )),
            ethnicity: Some(ethnicity.into()),
            phone,
            relation: Some(m.relation.into()),
            status: Some(status.into()),
            ..Resident::default()
        }
    }

    /// The people of one household of `size` (at least one), as `today`
    /// finds them: a 户主 first, then a 配偶, their children, the
    /// 户主's parents. Relations are GB/T 4761 codes; tags fit ages and
    /// who lives with whom.
    pub fn family(&mut self, size: usize, today: Date) -> Vec<Resident> {
        let size = size.max(1);
        let members = self.members(size);
        // The household's ethnicity, residence status and circumstances.
        let ethnicity = if self.rng.u8(..100) < 12 {
            MINORITIES[self.rng.usize(..MINORITIES.len())]
        } else {
            "01"
        };
        let status = match self.rng.u8(..100) {
            0..75 => "registered",
            75..95 => "floating",
            _ => "lodging",
        };
        let has_child = members.iter().any(|m| m.relation.starts_with(['2', '3']));
        let young_child = members
            .iter()
            .any(|m| m.relation.starts_with(['2', '3']) && m.age < 16);
        let has_grandparent = members.iter().any(|m| m.relation.starts_with('5'));
        // Parents working away from home, a child left with grandparents.
        let left_behind = young_child && has_grandparent && self.rng.u8(..100) < 30;
        let poor = self.rng.u8(..100) < 3;
        let mut out = Vec::with_capacity(size);
        for (k, m) in members.iter().enumerate() {
            let ethnicity = if k == 1 && ethnicity != "01" && self.rng.bool() {
                "01"
            } else {
                ethnicity
            };
            let parent_generation = m.relation == "02" || m.relation.starts_with('1');
            let status = if left_behind && parent_generation {
                "away"
            } else if status == "registered"
                && m.relation.starts_with(['2', '3'])
                && (18..=35).contains(&m.age)
                && self.rng.u8(..100) < 20
            {
                // Grown children studying or working elsewhere.
                "away"
            } else {
                status
            };
            let mut r = self.person(m, today, ethnicity, status);
            let mut tags = TagSet::default();
            if size == 1 && m.age >= 60 && self.rng.u8(..100) < 85 {
                tags.insert("living_alone_elderly");
            }
            if parent_generation && m.age >= 60 && !has_child && self.rng.u8(..100) < 70 {
                tags.insert("empty_nest_elderly");
            }
            if left_behind && m.relation.starts_with(['2', '3']) && m.age < 16 {
                tags.insert("left_behind_child");
            }
            if m.age >= 18 && self.rng.u8(..100) < 7 {
                tags.insert("party_member");
            }
            if self.rng.u16(..1000) < 15 {
                tags.insert("disabled");
            }
            if poor && k == 0 {
                tags.insert("subsistence_allowance");
            }
            if m.age >= 60 && self.rng.u8(..100) < 3 {
                tags.insert("entitled_group");
            }
            r.tags = tags;
            out.push(r);
        }
        // A child's 联系电话 in the ledger is a parent's or guardian's.
        let guardian = out.iter().find_map(|r| r.phone.clone());
        for r in out.iter_mut().filter(|r| r.phone.is_none()) {
            r.phone = guardian.clone();
        }
        out
    }

    /// Who a household of `size` is: relations, sexes and ages.
    fn members(&mut self, size: usize) -> Vec<Member> {
        let surname = self.surname();
        if size == 1 {
            // Someone old living alone, or a younger person on their own.
            let age = if self.rng.u8(..100) < 45 {
                self.rng.i32(60..=92)
            } else {
                self.rng.i32(20..=59)
            };
            return vec![Member {
                relation: "02",
                male: self.rng.bool(),
                age,
                surname,
            }];
        }
        let spouse = self.rng.u8(..100) < if size == 2 { 70 } else { 85 };
        let left = size - 1 - usize::from(spouse);
        // The 户主's own parents living with them.
        let parents = match left {
            0 => 0,
            1 => usize::from(spouse && self.rng.u8(..100) < 10),
            2 | 3 => {
                usize::from(self.rng.u8(..100) < 30) + usize::from(left == 3 && self.rng.bool())
            }
            _ => 2,
        };
        let children = left - parents;
        let head_age = if parents > 0 {
            self.rng.i32(30..=55)
        } else if children > 0 {
            self.rng.i32(27..=75)
        } else if self.rng.bool() {
            self.rng.i32(60..=85)
        } else {
            self.rng.i32(22..=59)
        };
        let head_male = if spouse {
            self.rng.u8(..100) < 80
        } else {
            self.rng.bool()
        };
        let mut out = vec![Member {
            relation: "02",
            male: head_male,
            age: head_age,
            surname,
        }];
        let mut ages = vec![head_age];
        if spouse {
            // Husbands a little older, as a rule.
            let gap = self.rng.i32(-2..=5);
            let age = if head_male {
                head_age - gap
            } else {
                head_age + gap
            }
            .clamp(21, 95);
            ages.push(age);
            let spouse_surname = self.surname();
            out.push(Member {
                relation: "10",
                male: !head_male,
                age,
                surname: spouse_surname,
            });
        }
        // The children's family name is their father's.
        let children_surname = if !head_male && spouse {
            out[1].surname
        } else {
            surname
        };
        let youngest_parent = ages.iter().copied().min().unwrap_or(head_age);
        let oldest_parent = ages.iter().copied().max().unwrap_or(head_age);
        let (lo, hi) = ((oldest_parent - 39).max(0), youngest_parent - 19);
        let mut kids: Vec<(i32, bool)> = (0..children)
            .map(|_| (self.rng.i32(lo..=hi.max(lo)), self.rng.bool()))
            .collect();
        kids.sort_by_key(|k| std::cmp::Reverse(k.0));
        for (age, male) in kids {
            out.push(Member {
                relation: if male { "20" } else { "30" },
                male,
                age,
                surname: children_surname,
            });
        }
        if parents > 0 {
            // The 户主's father and mother, 21–38 and 19–39 years older.
            let father = head_age + self.rng.i32(21..=38.min(94 - head_age));
            let mother = (father - self.rng.i32(-2..=5)).clamp(head_age + 19, head_age + 39);
            let both = [
                ("51", true, father, surname),
                ("52", false, mother, self.surname()),
            ];
            let pick: &[usize] = match (parents, self.rng.u8(..100) < 35) {
                (1, true) => &[0],
                (1, false) => &[1],
                _ => &[0, 1],
            };
            for &i in pick {
                let (relation, male, age, surname) = both[i];
                out.push(Member {
                    relation,
                    male,
                    age,
                    surname,
                });
            }
        }
        out
    }

    /// A visit at `at` (ms) by `visitor`.
    pub fn visit(&mut self, visitor: &str, role: &str, at: i64) -> Visit {
        self.visit_to(visitor, role, at, true)
    }

    /// A visit at `at` (ms) by `visitor` to a household where someone of
    /// 60 or more lives (`elderly`) or not: what it found, now and then a
    /// concern (群众诉求) or a matter to follow up.
    fn visit_to(&mut self, visitor: &str, role: &str, at: i64, elderly: bool) -> Visit {
        let table = if self.rng.u8(..100) < 3 {
            CONCERNS
        } else {
            FINDINGS
        };
        let fitting: Vec<&(&str, &str, bool, bool)> =
            table.iter().filter(|f| elderly || !f.3).collect();
        let (findings, needs, follow_up, _) = *fitting[self.rng.usize(..fitting.len())];
        // Package-holders call more often than they knock.
        let (in_person, phone) = if role == "package_holder" {
            (40, 85)
        } else {
            (65, 90)
        };
        let roll = self.rng.u8(..100);
        let method = if roll < in_person {
            "in_person"
        } else if roll < phone {
            "phone"
        } else {
            "message"
        };
        Visit {
            visitor: visitor.into(),
            role: role.into(),
            at,
            method: method.into(),
            findings: findings.into(),
            needs: needs.into(),
            follow_up,
            lat: None,
            lon: None,
            corrects: None,
        }
    }

    /// A moment in working hours (08:30–18:00 Beijing time) `from` to `to`
    /// days before `now_ms`, on a working day nine times in ten, never
    /// after `now_ms`.
    pub fn working_time(&mut self, now_ms: i64, from: i64, to: i64) -> i64 {
        let today = (now_ms + CHINA_MS).div_euclid(DAY_MS);
        let mut day = today - self.rng.i64(from..=to.max(from));
        // 1970-01-01 was a Thursday: weekday 0 is Monday.
        let weekday = (day + 3).rem_euclid(7);
        if weekday >= 5 && self.rng.u8(..10) != 0 {
            day -= weekday - 4;
        }
        let minute = self.rng.i64(8 * 60 + 30..18 * 60);
        let second = self.rng.i64(0..60);
        let mut at = day * DAY_MS + minute * 60_000 + second * 1000 - CHINA_MS;
        while at > now_ms {
            at -= DAY_MS;
        }
        at
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

/// The number of people in each of `plan`'s households: between 1 and
/// twice the mean less one, neighbours paired so that each pair (and so
/// the grid) holds exactly the mean; an odd last household holds the mean.
fn sizes(plan: &GridPlan, g: &mut Generator) -> Vec<usize> {
    let mean = plan.residents_per_household;
    let mut out = Vec::with_capacity(plan.households);
    while out.len() < plan.households {
        if mean == 0 || out.len() + 1 == plan.households {
            out.push(mean);
            continue;
        }
        let d = g.below(mean);
        out.push(mean + d);
        out.push(mean - d);
    }
    out
}

/// Record grid `code` and `plan`'s households in `store`, in one batch.
/// Visits are spread over the 60 days before `now_ms`, by `worker`.
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
/// has, in one batch. Households are held in turn by `holders` (if any;
/// about one in fourteen by nobody), and visited by `worker` and their
/// holder in working hours over the 60 days before `now_ms` (about one
/// household in eight only 31–87 days before).
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
    let today = crate::clock::Clock::Fixed(now_ms).today();
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
        let sizes = sizes(plan, &mut g);
        let mut ids = Vec::with_capacity(plan.households);
        for (i, &size) in sizes.iter().enumerate() {
            let residents = if size == 0 {
                Vec::new()
            } else {
                g.family(size, today)
            };
            let elderly = residents.iter().any(|r| {
                r.birth_date
                    .as_deref()
                    .and_then(|b| b.get(..4))
                    .and_then(|y| y.parse::<i32>().ok())
                    .is_some_and(|y| today.year() - y > 60)
            });
            let rented = residents
                .first()
                .is_some_and(|r| r.status.as_deref() == Some("floating"));
            let holder = (!holders.is_empty() && g.below(14) != 0)
                .then(|| holders[i % holders.len()].clone());
            let id = s.create_household(NewHousehold {
                grid: code.into(),
                place: place_of(plan, i),
                house: HouseFacts {
                    usage: Some(if rented { "rented" } else { "residential" }.into()),
                    occupants: Some(size as u32),
                    ..HouseFacts::default()
                },
                holder: holder.clone(),
                tags: TagSet::default(),
                residents,
            })?;
            // A household in eight (the fourth, the twelfth, …) has not
            // been visited for a month.
            let (from, to) = if i % 8 == 3 { (31, 85) } else { (0, 59) };
            // Each visit as recorded on its visitor's own phone.
            for k in 0..plan.visits_per_household {
                let at = g.working_time(now_ms, from, to);
                let (visit, role) = match (&holder, k % 3) {
                    (Some(h), 0) if plan.holder_visits => (
                        g.visit_to(h, "package_holder", at, elderly),
                        "package_holder",
                    ),
                    _ => (
                        g.visit_to(worker, "grid_worker", at, elderly),
                        "grid_worker",
                    ),
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeSet;

    use time::Date;

    use super::*;
    use crate::clock::Clock;
    use crate::household::Household;
    use crate::id_number::IdNumber;
    use crate::store::OpenOptions;

    /// 2026-11-04 06:00 UTC, 14:00 in Beijing, a Wednesday.
    const NOW: i64 = 1_793_772_000_000;
    const HOUR_MS: i64 = 3_600_000;
    const DAY_MS: i64 = 24 * HOUR_MS;

    /// A grid as the benchmarks make it, read back.
    fn grid(plan: GridPlan, seed: u64) -> (GridPlan, Vec<Household>) {
        let mut s = Store::open_in_memory(OpenOptions {
            clock: Clock::Fixed(NOW),
            ..OpenOptions::default()
        })
        .unwrap();
        let ids = populate_grid(&mut s, "110105001001001", &plan, "worker", NOW, seed).unwrap();
        let households = ids.iter().map(|id| s.household(id).unwrap()).collect();
        (plan, households)
    }

    fn date(s: &str) -> Date {
        Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).unwrap()
    }

    /// Whole years from `birth` to `on`.
    fn age(birth: Date, on: Date) -> i32 {
        on.year() - birth.year() - i32::from((on.month(), on.day()) < (birth.month(), birth.day()))
    }

    /// Whether `later` is at least `years` years after `earlier`.
    fn years_after(earlier: Date, later: Date, years: i32) -> bool {
        (earlier.year() + years, earlier.month(), earlier.day())
            <= (later.year(), later.month(), later.day())
    }

    fn is_child(relation: &str) -> bool {
        matches!(relation.as_bytes(), [b'2' | b'3', d] if *d != b'8')
    }

    fn is_grandchild(relation: &str) -> bool {
        relation.starts_with('4')
    }

    fn is_parent(relation: &str) -> bool {
        relation.starts_with('5')
    }

    fn is_spouse(relation: &str) -> bool {
        matches!(relation, "10" | "11" | "12")
    }

    /// Families whose relations, ages, sexes and ID numbers agree; tags
    /// that fit; visits in working hours; the plan's exact totals.
    #[test]
    fn a_generated_grid_is_believable() {
        let (plan, households) = grid(GridPlan::default(), 7);
        let today = Clock::Fixed(NOW).today();
        assert_eq!(households.len(), plan.households);
        let residents: usize = households
            .iter()
            .map(|h| h.current_residents().count())
            .sum();
        assert_eq!(residents, plan.households * plan.residents_per_household);
        let visits: usize = households.iter().map(|h| h.visits.len()).sum();
        assert_eq!(visits, plan.households * plan.visits_per_household);

        let (mut singles, mut unheld, mut stale) = (0, 0, 0);
        let (mut needs, mut follow_up, mut weekday, mut alone_elderly) = (0, 0, 0, 0);
        for h in &households {
            let people: Vec<_> = h.current_residents().map(|(_, r)| r).collect();
            let n = people.len();
            singles += usize::from(n == 1);
            unheld += usize::from(h.holder.is_none());
            assert_eq!(h.house.occupants, Some(n as u32), "occupants");
            let relation = |r: &Resident| r.relation.clone().unwrap_or_default();
            let heads: Vec<_> = people.iter().filter(|r| relation(r) == "02").collect();
            assert_eq!(
                heads.len(),
                1,
                "one 户主 in {:?}",
                people.iter().map(|r| relation(r)).collect::<Vec<_>>()
            );
            let spouses: Vec<_> = people.iter().filter(|r| is_spouse(&relation(r))).collect();
            assert!(spouses.len() <= 1, "at most one 配偶");
            for r in &people {
                crate::codes::Relation::from_code(&relation(r)).unwrap();
                let id = IdNumber::parse_at(r.id_number.as_deref().unwrap(), today).unwrap();
                assert_eq!(
                    r.sex.as_deref(),
                    Some(id.sex().code()),
                    "sex agrees with the ID number"
                );
                let birth = date(r.birth_date.as_deref().unwrap());
                assert_eq!(
                    birth,
                    id.birth_date(),
                    "birth date agrees with the ID number"
                );
            }
            let birth = |r: &Resident| date(r.birth_date.as_deref().unwrap());
            let sex = |r: &Resident| r.sex.clone().unwrap_or_default();
            let head = heads[0];
            assert!(age(birth(head), today) >= 18, "a 户主 is an adult");
            if let Some(spouse) = spouses.first() {
                assert!(
                    (birth(head).year() - birth(spouse).year()).abs() <= 8,
                    "similar age"
                );
                assert_ne!(sex(head), sex(spouse), "a married couple");
                assert!(age(birth(spouse), today) >= 20);
            }
            let parents_of_children: Vec<&Resident> = std::iter::once(*head)
                .chain(spouses.first().map(|s| **s))
                .collect();
            for r in &people {
                let rel = relation(r);
                if is_child(&rel) {
                    for p in &parents_of_children {
                        assert!(
                            years_after(birth(p), birth(r), 18),
                            "a parent 18 years older"
                        );
                        assert!(
                            !years_after(birth(p), birth(r), 41),
                            "a parent at most 40 years older"
                        );
                    }
                }
                if is_parent(&rel) {
                    assert!(
                        years_after(birth(r), birth(head), 18),
                        "the 户主's parent is older"
                    );
                }
                let a = age(birth(r), today);
                if r.tags.contains("living_alone_elderly") {
                    assert!(
                        a >= 60 && n == 1,
                        "独居老人: {a} years old, {n} in the household"
                    );
                    alone_elderly += 1;
                }
                if r.tags.contains("empty_nest_elderly") {
                    assert!(a >= 60, "空巢老人 of {a}");
                    assert!(
                        !is_parent(&rel),
                        "空巢老人 living with their child, the 户主"
                    );
                    assert!(
                        !people
                            .iter()
                            .any(|o| is_child(&relation(o)) || is_grandchild(&relation(o))),
                        "空巢老人 with children at home"
                    );
                }
                if r.tags.contains("left_behind_child") || r.tags.contains("child_in_difficulty") {
                    assert!(a < 18, "留守儿童 of {a}");
                }
                if r.tags.contains("party_member") {
                    assert!(a >= 18, "党员 of {a}");
                }
            }
            let last = h.visits.values().map(|v| v.at).max().unwrap();
            stale += usize::from(NOW - last > 30 * DAY_MS);
            for v in h.visits.values() {
                assert!(
                    v.at <= NOW && NOW - v.at <= 90 * DAY_MS,
                    "in the last 90 days"
                );
                let local = v.at + 8 * HOUR_MS;
                let minute = local.rem_euclid(DAY_MS) / 60_000;
                assert!(
                    (8 * 60 + 30..=18 * 60).contains(&minute),
                    "visit at {}:{:02}",
                    minute / 60,
                    minute % 60
                );
                // 1970-01-01 was a Thursday: day 0 is weekday 3 (Monday 0).
                weekday += usize::from((local.div_euclid(DAY_MS) + 3).rem_euclid(7) < 5);
                needs += usize::from(!v.needs.is_empty());
                follow_up += usize::from(v.follow_up);
            }
        }
        assert!(
            singles >= plan.households / 20,
            "single-person households: {singles}"
        );
        assert!(alone_elderly > 0, "some 独居老人");
        assert!(
            unheld > 0 && unheld < plan.households / 5,
            "households without a holder: {unheld}"
        );
        assert!(
            stale >= plan.households / 20,
            "households not visited in 30 days: {stale}"
        );
        assert!(
            weekday * 10 >= visits * 8,
            "mostly on working days: {weekday} of {visits}"
        );
        assert!(needs > 0 && needs * 10 < visits, "some 群众诉求: {needs}");
        assert!(
            follow_up > 0 && follow_up * 10 < visits,
            "some 需跟进: {follow_up}"
        );
    }

    /// The same seed makes the same grid (ids aside).
    #[test]
    fn a_seed_makes_the_same_grid() {
        let content = |households: Vec<Household>| {
            households
                .iter()
                .map(|h| {
                    let people: BTreeSet<_> = h
                        .current_residents()
                        .map(|(_, r)| (r.name.clone(), r.id_number.clone(), r.tags.clone().0))
                        .collect();
                    let visits: BTreeSet<_> = h
                        .visits
                        .values()
                        .map(|v| (v.at, v.visitor.clone(), v.findings.clone()))
                        .collect();
                    (h.place.clone(), h.holder.clone(), people, visits)
                })
                .collect::<Vec<_>>()
        };
        let plan = GridPlan {
            households: 40,
            buildings: 2,
            ..GridPlan::default()
        };
        assert_eq!(content(grid(plan, 3).1), content(grid(plan, 3).1));
        assert_ne!(content(grid(plan, 3).1), content(grid(plan, 4).1));
    }
}
