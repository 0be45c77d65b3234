//! The national-standard code tables, for the app's pickers: each code with
//! its Chinese name, in the standard's order.

use gridsync_core::codes::{
    AttentionTag, Ethnicity, HouseUse, Op, Relation, ResidenceStatus, Sex, VisitMethod, VisitorRole,
};
use gridsync_core::issue::{Source, Urgency};

/// Which code table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum CodeTable {
    /// 性别 (GB/T 2261.1).
    Sex,
    /// 民族 (GB 3304).
    Ethnicity,
    /// 与户主关系 (GB/T 4761).
    Relation,
    /// 居住状态.
    ResidenceStatus,
    /// 关注标签.
    AttentionTag,
    /// 走访方式.
    VisitMethod,
    /// 走访人身份.
    VisitorRole,
    /// 房屋用途.
    HouseUse,
    /// 事件来源 (巡查, 走访, 群众反映, 12345热线).
    IssueSource,
    /// 紧急程度 (一般, 紧急, 特急).
    IssueUrgency,
    /// 修改类型: what a change did (`HistoryEntry.op`), 新增走访记录, ….
    Operation,
}

/// A code and its Chinese name.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Code {
    /// The code stored in records.
    pub code: String,
    /// The name to show.
    pub name: String,
}

macro_rules! table {
    ($t:ty) => {
        <$t>::all()
            .iter()
            .map(|c| Code {
                code: c.code().to_string(),
                name: c.name_zh().to_string(),
            })
            .collect()
    };
}

/// Every code of `table`, in the standard's order.
#[uniffi::export]
pub fn codes(table: CodeTable) -> Vec<Code> {
    match table {
        CodeTable::Sex => table!(Sex),
        CodeTable::Ethnicity => table!(Ethnicity),
        CodeTable::Relation => table!(Relation),
        CodeTable::ResidenceStatus => table!(ResidenceStatus),
        CodeTable::AttentionTag => table!(AttentionTag),
        CodeTable::VisitMethod => table!(VisitMethod),
        CodeTable::VisitorRole => table!(VisitorRole),
        CodeTable::HouseUse => table!(HouseUse),
        CodeTable::Operation => table!(Op),
        CodeTable::IssueSource => [
            Source::Patrol,
            Source::Visit,
            Source::Resident,
            Source::Hotline,
        ]
        .iter()
        .map(|c| Code {
            code: c.code().to_string(),
            name: c.name_zh().to_string(),
        })
        .collect(),
        CodeTable::IssueUrgency => [Urgency::Normal, Urgency::Urgent, Urgency::Critical]
            .iter()
            .map(|c| Code {
                code: c.code().to_string(),
                name: c.name_zh().to_string(),
            })
            .collect(),
    }
}
