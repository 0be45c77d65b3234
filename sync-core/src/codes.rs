//! National standard code tables and the small closed vocabularies of the
//! domain: sex, ethnicity, family relation, residence status, attention tags,
//! visit method and visitor role, house use, and the grid code.
//!
//! Every code type is stored as its code string: in JSON (serde) and in
//! Automerge documents. The code, not the Chinese name, is the
//! stable identity; names are for display only. Parsing an unknown code gives a
//! [`Reason`](crate::Reason) that describes the problem without repeating the value.

mod ethnicity;
mod grid;
mod relation;

pub use ethnicity::Ethnicity;
pub use grid::{CommunityCode, GridCode, StreetCode, level_of};
pub use relation::Relation;

/// Implements serde for a type that is stored as a string.
///
/// `$to_str` is a method `fn(&self) -> &str` giving the stored text and
/// `$parse` a function `fn(&str) -> Result<Self, Reason>` reading it back;
/// `$expected` names the kind of value for hydrate errors. Errors carry the
/// English reason only, never the value.
macro_rules! string_value {
    ($ty:ty, to_str = $to_str:ident, parse = $parse:expr, expected = $expected:literal) => {
        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.$to_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::std::result::Result<Self, D::Error> {
                let text =
                    <::std::string::String as ::serde::Deserialize>::deserialize(deserializer)?;
                $parse(&text).map_err(|reason: $crate::Reason| {
                    <D::Error as ::serde::de::Error>::custom(reason.en)
                })
            }
        }
    };
}
pub(crate) use string_value;

/// Defines a closed code table as a fieldless enum.
///
/// Each variant is written `Variant = ("code", "中文名称")`; the variant's doc
/// is generated from the two. Declaration order is the standard's order, and
/// is also the order of [`Ord`] and of `all()`.
macro_rules! code_table {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            unknown = ($unknown_zh:literal, $unknown_en:literal),
            expected = $expected:literal,
            $( $variant:ident = ($code:literal, $zh:literal), )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $(
                #[doc = concat!($zh, " (`", $code, "`)")]
                $variant,
            )+
        }

        impl $name {
            const ALL: &'static [Self] = &[$(Self::$variant,)+];

            /// The code as written in the standard and stored in documents.
            pub fn code(&self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)+
                }
            }

            /// The Chinese name, for display.
            pub fn name_zh(&self) -> &'static str {
                match self {
                    $(Self::$variant => $zh,)+
                }
            }

            /// The value for a code; an unknown code is refused.
            pub fn from_code(code: &str) -> ::std::result::Result<Self, $crate::Reason> {
                match code {
                    $($code => Ok(Self::$variant),)+
                    _ => Err($crate::Reason::new($unknown_zh, $unknown_en)),
                }
            }

            /// Every value, in the standard's order.
            pub fn all() -> &'static [Self] {
                Self::ALL
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::Reason;

            fn from_str(code: &str) -> ::std::result::Result<Self, Self::Err> {
                Self::from_code(code)
            }
        }

        $crate::codes::string_value!(
            $name,
            to_str = code,
            parse = Self::from_code,
            expected = $expected
        );
    };
}
pub(crate) use code_table;

code_table! {
    /// Sex, GB/T 2261.1-2003 (人的性别代码).
    pub enum Sex {
        unknown = ("未知的性别代码", "unknown sex code (GB/T 2261.1)"),
        expected = "a GB/T 2261.1 sex code",
        Unknown = ("0", "未知的性别"),
        Male = ("1", "男"),
        Female = ("2", "女"),
        Unspecified = ("9", "未说明的性别"),
    }
}

code_table! {
    /// Where a person stands with respect to the household's address.
    pub enum ResidenceStatus {
        unknown = ("未知的居住状态", "unknown residence status code"),
        expected = "a residence status code",
        Registered = ("registered", "户籍"),
        Floating = ("floating", "流动"),
        Lodging = ("lodging", "寄住"),
        Away = ("away", "外出"),
    }
}

code_table! {
    /// A reason a person needs the grid worker's attention.
    ///
    /// 高龄老人 (80 and over), 孤寡老人 (alone, without children), 党员中心户
    /// (a party member's home that serves its neighbours) and 新就业群体
    /// (couriers, ride-hailing and delivery riders) are the tags the
    /// cities' 小三级 work uses. The last six are the special-population
    /// types of GB/T 31000-2015.
    /// Tags for which [`AttentionTag::is_sensitive`] holds are sensitive
    /// personal information under PIPL art. 28 and need the stricter handling.
    pub enum AttentionTag {
        unknown = ("未知的关注标签", "unknown attention tag code"),
        expected = "an attention tag code",
        LivingAloneElderly = ("living_alone_elderly", "独居老人"),
        EmptyNestElderly = ("empty_nest_elderly", "空巢老人"),
        Disabled = ("disabled", "残疾人"),
        SubsistenceAllowance = ("subsistence_allowance", "低保"),
        EntitledGroup = ("entitled_group", "优抚对象"),
        LeftBehindChild = ("left_behind_child", "留守儿童"),
        ChildInDifficulty = ("child_in_difficulty", "困境儿童"),
        PartyMember = ("party_member", "党员"),
        AdvancedAgeElderly = ("advanced_age_elderly", "高龄老人"),
        SolitaryElderly = ("solitary_elderly", "孤寡老人"),
        PartyCenterHousehold = ("party_center_household", "党员中心户"),
        NewEmploymentGroup = ("new_employment_group", "新就业群体"),
        ReleasedPrisoner = ("released_prisoner", "刑满释放人员"),
        CommunityCorrection = ("community_correction", "社区矫正人员"),
        SevereMentalDisorder = ("severe_mental_disorder", "严重精神障碍患者"),
        DrugUser = ("drug_user", "吸毒人员"),
        AidsRisk = ("aids_risk", "艾滋病危险人员"),
        KeyYouth = ("key_youth", "重点青少年"),
    }
}

impl AttentionTag {
    /// Whether the tag reveals health, penal or special-population status,
    /// which PIPL treats as sensitive personal information.
    pub fn is_sensitive(&self) -> bool {
        matches!(
            self,
            Self::Disabled
                | Self::SevereMentalDisorder
                | Self::DrugUser
                | Self::AidsRisk
                | Self::ReleasedPrisoner
                | Self::CommunityCorrection
                | Self::KeyYouth
                // Information about minors under 14 is sensitive under PIPL art. 28.
                | Self::LeftBehindChild
                | Self::ChildInDifficulty
        )
    }
}

code_table! {
    /// How a visit was made.
    pub enum VisitMethod {
        unknown = ("未知的走访方式", "unknown visit method code"),
        expected = "a visit method code",
        InPerson = ("in_person", "入户走访"),
        Phone = ("phone", "电话沟通"),
        Message = ("message", "信息推送"),
        Other = ("other", "其他"),
    }
}

code_table! {
    /// In what capacity the visitor made a visit.
    pub enum VisitorRole {
        unknown = ("未知的走访人身份", "unknown visitor role code"),
        expected = "a visitor role code",
        GridWorker = ("grid_worker", "网格员"),
        PackageHolder = ("package_holder", "包保责任人"),
        Other = ("other", "其他"),
    }
}

impl VisitorRole {
    /// The visitor role a signed-in user records visits as, from their
    /// user role code (`grid_worker`, `package_holder`; anyone else is
    /// `other`). The phone fills it in and the server checks it with this.
    pub fn of_user_role(role: &str) -> Self {
        Self::from_code(role).unwrap_or(Self::Other)
    }
}

code_table! {
    /// What a house is used for.
    pub enum HouseUse {
        unknown = ("未知的房屋用途", "unknown house use code"),
        expected = "a house use code",
        Residential = ("residential", "自住"),
        Rented = ("rented", "出租"),
        Vacant = ("vacant", "空置"),
        Commercial = ("commercial", "商用"),
        Other = ("other", "其他"),
    }
}

code_table! {
    /// What a change did: the `op` of its note (`{"by", "op"}`), written
    /// by the store's operations and named in Chinese wherever a change is
    /// shown (history, refused changes, the audit of merges). The
    /// workflow steps of a report are their event kinds' codes.
    pub enum Op {
        unknown = ("未知的修改", "unknown operation"),
        expected = "an operation code",
        CreateGrid = ("create_grid", "新增网格"),
        AddPlace = ("add_place", "新增楼栋单元"),
        CreateHousehold = ("create_household", "新增住户"),
        EditHousehold = ("edit_household", "修改住户信息"),
        MoveHousehold = ("move_household", "住户移到其他网格"),
        AddResident = ("add_resident", "新增居民"),
        UpdateResident = ("update_resident", "修改居民信息"),
        AddVisit = ("add_visit", "新增走访记录"),
        MergeHouseholds = ("merge_households", "合并重复住户"),
        MergedInto = ("merged_into", "并入另一住户"),
        ForwardMergedEdits = ("forward_merged_edits", "转入合并后的住户"),
        MergedHeads = ("merged_heads", "记下合并时的版本"),
        MergeResidents = ("merge_residents", "合并重复居民"),
        DismissDuplicate = ("dismiss_duplicate", "确认不是重复住户"),
        ResolveConflict = ("resolve_conflict", "选定冲突的值"),
        ReportIssue = ("report_issue", "上报事件"),
        AttachPhoto = ("attach_photo", "添加照片"),
        LogContact = ("log_contact", "记录楼栋联系"),
        Accept = ("accept", "受理事件"),
        Dispatch = ("dispatch", "派遣事件"),
        Escalate = ("escalate", "事件上报上级"),
        Handle = ("handle", "处置事件"),
        Feedback = ("feedback", "反馈处置结果"),
        VerifyPass = ("verify_pass", "核查通过"),
        VerifyFail = ("verify_fail", "核查未通过"),
        Close = ("close", "事件结案"),
        Rate = ("rate", "评价事件"),
        Withdraw = ("withdraw", "撤回事件"),
    }
}

/// The Chinese label of each field key of the ledger's documents
/// (household, its place and house, residents, visits), the one wording
/// for a field wherever it is named to a person: the household page, its
/// change history, the audit log, the review queue, the exports. The ID
/// number is 公民身份号码 (GB 11643's term), the phone 联系电话. The
/// order is the order fields are listed in ([`field_rank`]).
const FIELD_LABELS: &[(&str, &str)] = &[
    // the household
    ("grid", "网格"),
    ("place", "地址"),
    ("house", "房屋信息"),
    ("holder", "包保责任人"),
    ("tags", "关注标签"),
    ("residents", "居民"),
    ("visits", "走访记录"),
    ("merged_into", "合并到"),
    ("distinct_from", "已确认不是重复住户"),
    // its place
    ("area", "片区"),
    ("compound", "小区"),
    ("building", "楼栋"),
    ("unit", "单元"),
    ("room", "室号"),
    // its house
    ("usage", "房屋用途"),
    ("ownership", "产权"),
    ("area_m2", "面积（平方米）"),
    ("occupants", "实住人数"),
    // a resident
    ("name", "姓名"),
    ("id_number", "公民身份号码"),
    ("sex", "性别"),
    ("birth_date", "出生日期"),
    ("ethnicity", "民族"),
    ("phone", "联系电话"),
    ("relation", "与户主关系"),
    ("status", "居住状态"),
    ("moved_in", "迁入日期"),
    ("moved_out", "迁出日期"),
    ("removed", "移出台账"),
    ("note", "备注"),
    // a visit
    ("visitor", "走访人"),
    ("role", "走访人身份"),
    ("at", "走访时间"),
    ("method", "走访方式"),
    ("findings", "走访情况"),
    ("needs", "群众诉求"),
    ("follow_up", "需要跟进"),
    ("lat", "纬度"),
    ("lon", "经度"),
    ("corrects", "更正的走访"),
];

/// The Chinese label of field `key` ([`FIELD_LABELS`]); `None` for a key
/// the table does not know (written by a newer app, or bookkeeping).
pub fn field_label(key: &str) -> Option<&'static str> {
    FIELD_LABELS
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, label)| *label)
}

/// Where field `key` comes when fields are listed (a household's place
/// before its house, a resident's name before their ID number); keys the
/// table does not know come last.
pub fn field_rank(key: &str) -> usize {
    FIELD_LABELS
        .iter()
        .position(|(k, _)| *k == key)
        .unwrap_or(FIELD_LABELS.len())
}

/// A changed field of a document in words, as people read a history: its
/// label (`…/tags/<code>` is 关注标签) and, when the value has a name, that
/// name (a code's 汉族 / 流动, a tag's 独居老人, `true`/`false` as 是/否).
/// `None` for a value that is its own text (a name, a date); callers show
/// it themselves, masking ID numbers and phones.
pub fn field_in_words(path: &[String], value: &serde_json::Value) -> (String, Option<String>) {
    let last = path.last().map(String::as_str).unwrap_or("");
    let parent = path.len().checked_sub(2).and_then(|i| path.get(i));
    if parent.is_some_and(|p| p == "tags") {
        let name = code_name("tags", last).unwrap_or(last);
        return (
            field_label("tags").unwrap_or("tags").to_owned(),
            Some(name.to_owned()),
        );
    }
    let label = field_label(last).unwrap_or(last).to_owned();
    let name = match value {
        serde_json::Value::Bool(b) => Some(if *b { "是" } else { "否" }.to_owned()),
        serde_json::Value::String(s) => code_name(last, s).map(str::to_owned),
        _ => None,
    };
    (label, name)
}

/// The Chinese name of `code` held by field `key`, from the field's code
/// table (民族 `01` is 汉族, 关注标签 `living_alone_elderly` is 独居老人);
/// `None` when the field holds no code or the code is unknown.
pub fn code_name(key: &str, code: &str) -> Option<&'static str> {
    let name = match key {
        "sex" => Sex::from_code(code).ok()?.name_zh(),
        "ethnicity" => Ethnicity::from_code(code).ok()?.name_zh(),
        "relation" => Relation::from_code(code).ok()?.name_zh(),
        "status" => ResidenceStatus::from_code(code).ok()?.name_zh(),
        "tags" => AttentionTag::from_code(code).ok()?.name_zh(),
        "usage" => HouseUse::from_code(code).ok()?.name_zh(),
        "method" => VisitMethod::from_code(code).ok()?.name_zh(),
        "role" => VisitorRole::from_code(code).ok()?.name_zh(),
        _ => return None,
    };
    Some(name)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use std::collections::HashSet;
    use std::fmt::Debug;

    use super::*;

    /// Checks a code table: its size, unique codes and names, and that every
    /// value survives its code, serde and an Automerge document.
    pub(crate) fn check_table<T>(
        all: &[T],
        expected_len: usize,
        code: fn(&T) -> &'static str,
        name_zh: fn(&T) -> &'static str,
        from_code: fn(&str) -> Result<T, crate::Reason>,
    ) where
        T: Copy + Eq + Ord + Debug + serde::Serialize + serde::de::DeserializeOwned,
    {
        assert_eq!(all.len(), expected_len);
        let codes: HashSet<_> = all.iter().map(code).collect();
        assert_eq!(codes.len(), all.len(), "codes are unique");
        let names: HashSet<_> = all.iter().map(name_zh).collect();
        assert_eq!(names.len(), all.len(), "names are unique");
        assert!(all.windows(2).all(|w| w[0] < w[1]), "all() is in order");
        for &value in all {
            assert_eq!(from_code(code(&value)).unwrap(), value);
            let json = serde_json::to_string(&value).unwrap();
            assert_eq!(json, format!("\"{}\"", code(&value)));
            assert_eq!(serde_json::from_str::<T>(&json).unwrap(), value);
            assert_eq!(round_trip(value), value);
        }
        assert!(from_code("").is_err());
        assert!(from_code("no-such-code").is_err());
        assert!(serde_json::from_str::<T>("\"no-such-code\"").is_err());
    }

    /// Writes `value` into a fresh document as the store does (via serde) and
    /// reads it back, checking that it is stored as a string.
    pub(crate) fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(value: T) -> T {
        use automerge::transaction::Transactable;
        let mut doc = automerge::AutoCommit::new();
        let json = serde_json::to_value(&value).unwrap();
        doc.put(automerge::ROOT, "v", json.as_str().unwrap())
            .unwrap();
        let saved = doc.save();
        let doc = automerge::Automerge::load(&saved).unwrap();
        let stored = automerge::ReadDoc::get(&doc, automerge::ROOT, "v")
            .unwrap()
            .unwrap()
            .0;
        assert!(stored.as_str().is_some(), "stored as a string");
        hydrate_str(stored.as_str().unwrap()).unwrap()
    }

    /// Reading a string the type refuses is an error.
    pub(crate) fn hydrate_str<T: serde::de::DeserializeOwned>(
        text: &str,
    ) -> Result<T, serde_json::Error> {
        serde_json::from_value(serde_json::Value::String(text.to_string()))
    }

    #[test]
    fn sex_table() {
        check_table(Sex::all(), 4, Sex::code, Sex::name_zh, Sex::from_code);
        assert_eq!(Sex::from_code("2").unwrap(), Sex::Female);
        assert_eq!(Sex::Male.name_zh(), "男");
        assert_eq!(Sex::Unspecified.code(), "9");
        assert_eq!("1".parse::<Sex>().unwrap(), Sex::Male);
    }

    #[test]
    fn residence_status_table() {
        check_table(
            ResidenceStatus::all(),
            4,
            ResidenceStatus::code,
            ResidenceStatus::name_zh,
            ResidenceStatus::from_code,
        );
    }

    #[test]
    fn attention_tag_table() {
        check_table(
            AttentionTag::all(),
            18,
            AttentionTag::code,
            AttentionTag::name_zh,
            AttentionTag::from_code,
        );
        let sensitive: Vec<_> = AttentionTag::all()
            .iter()
            .filter(|t| t.is_sensitive())
            .map(|t| t.code())
            .collect();
        assert_eq!(
            sensitive,
            [
                "disabled",
                "left_behind_child",
                "child_in_difficulty",
                "released_prisoner",
                "community_correction",
                "severe_mental_disorder",
                "drug_user",
                "aids_risk",
                "key_youth",
            ]
        );
        assert!(!AttentionTag::LivingAloneElderly.is_sensitive());
    }

    #[test]
    fn visit_tables() {
        check_table(
            VisitMethod::all(),
            4,
            VisitMethod::code,
            VisitMethod::name_zh,
            VisitMethod::from_code,
        );
        check_table(
            VisitorRole::all(),
            3,
            VisitorRole::code,
            VisitorRole::name_zh,
            VisitorRole::from_code,
        );
    }

    #[test]
    fn house_use_table() {
        check_table(
            HouseUse::all(),
            5,
            HouseUse::code,
            HouseUse::name_zh,
            HouseUse::from_code,
        );
    }

    #[test]
    fn unknown_code_is_described_not_echoed() {
        let reason = Ethnicity::from_code("secret-value").unwrap_err();
        assert_eq!(reason.zh, "未知的民族代码");
        assert_eq!(reason.en, "unknown ethnicity code (GB 3304)");
        let err = hydrate_str::<Sex>("secret-value").unwrap_err();
        assert!(!err.to_string().contains("secret-value"));
        let err = serde_json::from_str::<HouseUse>("\"secret-value\"").unwrap_err();
        assert!(!err.to_string().contains("secret-value"));
    }

    #[test]
    fn reading_a_non_string_is_an_error() {
        assert!(serde_json::from_value::<Sex>(serde_json::json!(1)).is_err());
    }

    /// Every key of a household document a person may see named has a
    /// label, each label is used once, and coded fields read by name.
    #[test]
    fn every_household_field_has_one_label() {
        use crate::household::{Household, Resident, Visit};
        let mut h = Household::default();
        h.house.area_m2 = Some(1.0);
        h.house.occupants = Some(1);
        h.house.usage = Some("rented".into());
        h.house.ownership = Some("自有".into());
        h.holder = Some("u".into());
        h.merged_into = Some("h".into());
        let r = Resident {
            id_number: Some("x".into()),
            sex: Some("1".into()),
            birth_date: Some("x".into()),
            ethnicity: Some("01".into()),
            phone: Some("x".into()),
            relation: Some("20".into()),
            status: Some("floating".into()),
            moved_in: Some("x".into()),
            moved_out: Some("x".into()),
            note: Some("x".into()),
            merged_into: Some("x".into()),
            ..Resident::named("x")
        };
        h.residents.insert("r".into(), r);
        let v = Visit {
            lat: Some(1.0),
            lon: Some(1.0),
            corrects: Some("v".into()),
            ..Visit::default()
        };
        h.visits.insert("v".into(), v);
        let json = serde_json::to_value(&h).unwrap();
        let mut keys = Vec::new();
        fn walk(v: &serde_json::Value, keyed_by_id: bool, keys: &mut Vec<String>) {
            let serde_json::Value::Object(map) = v else {
                return;
            };
            for (k, child) in map {
                if !keyed_by_id {
                    keys.push(k.clone());
                }
                walk(
                    child,
                    matches!(k.as_str(), "residents" | "visits") && !keyed_by_id,
                    keys,
                );
            }
        }
        walk(&json, false, &mut keys);
        let bookkeeping = [
            "kind",
            "schema",
            "id",
            "created_by",
            "created_at",
            "merged_heads",
        ];
        let unlabelled: Vec<_> = keys
            .iter()
            .filter(|k| !bookkeeping.contains(&k.as_str()) && field_label(k).is_none())
            .collect();
        assert!(unlabelled.is_empty(), "no label for {unlabelled:?}");
        assert!(keys.len() > 30, "{keys:?}");
        let labels: HashSet<_> = FIELD_LABELS.iter().map(|(_, l)| l).collect();
        assert_eq!(labels.len(), FIELD_LABELS.len(), "labels are unique");
        let keys: HashSet<_> = FIELD_LABELS.iter().map(|(k, _)| k).collect();
        assert_eq!(keys.len(), FIELD_LABELS.len(), "keys are unique");
        assert_eq!(field_label("id_number"), Some("公民身份号码"));
        assert_eq!(field_label("phone"), Some("联系电话"));
        assert_eq!(field_label("no_such_field"), None);
        assert!(field_rank("compound") < field_rank("room"));
        assert_eq!(field_rank("no_such_field"), FIELD_LABELS.len());
        assert_eq!(code_name("ethnicity", "01"), Some("汉族"));
        assert_eq!(code_name("relation", "20"), Some("子"));
        assert_eq!(code_name("status", "floating"), Some("流动"));
        assert_eq!(code_name("tags", "living_alone_elderly"), Some("独居老人"));
        assert_eq!(code_name("usage", "rented"), Some("出租"));
        assert_eq!(code_name("ethnicity", "99x"), None);
        assert_eq!(code_name("name", "01"), None);
    }
}
