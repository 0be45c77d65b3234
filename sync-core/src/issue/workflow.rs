//! The closed loop (闭环) as a deterministic state machine over the issue's
//! event set: 上报 → 受理 → 派遣 → 处置 → 反馈 → 核查 → 结案 → 评价, with
//! escalation, rework and withdrawal.
//!
//! Events are never edited, only added (a map keyed by UUID, merged by
//! union). The status is computed, never stored: [`status`] sorts events by
//! `(at, id)` and folds them through [`step`]. An event that is not valid in
//! the state reached so far is *superseded*: kept and shown, but without
//! effect. Every device holding the same events therefore computes the same
//! status, and no set of events can produce an impossible one (closed and
//! re-dispatched, two handlers). See docs/adr/0006-issue-workflow.md.

use std::collections::BTreeMap;

use super::Event;
use crate::Reason;

/// What a workflow event does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventKind {
    /// 上报: the report itself (written when the issue is created).
    Report,
    /// 受理: accepted at the current level.
    Accept,
    /// 派遣: sent to someone (the assignee) to handle.
    Dispatch,
    /// 处置: the assignee has dealt with it.
    Handle,
    /// 反馈: the outcome was reported back.
    Feedback,
    /// 核查通过: the outcome was checked and holds.
    VerifyPass,
    /// 核查不通过: the outcome does not hold; back to the assignee (rework).
    VerifyFail,
    /// 结案: closed.
    Close,
    /// 评价: the resident's rating, after closing.
    Rate,
    /// 上报上级: sent up one level (grid → community → street → department).
    Escalate,
    /// 撤销: withdrawn (a duplicate, or reported by mistake).
    Withdraw,
}

impl EventKind {
    /// Every kind, in loop order.
    pub const ALL: [EventKind; 11] = [
        EventKind::Report,
        EventKind::Accept,
        EventKind::Dispatch,
        EventKind::Handle,
        EventKind::Feedback,
        EventKind::VerifyPass,
        EventKind::VerifyFail,
        EventKind::Close,
        EventKind::Rate,
        EventKind::Escalate,
        EventKind::Withdraw,
    ];

    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            EventKind::Report => "report",
            EventKind::Accept => "accept",
            EventKind::Dispatch => "dispatch",
            EventKind::Handle => "handle",
            EventKind::Feedback => "feedback",
            EventKind::VerifyPass => "verify_pass",
            EventKind::VerifyFail => "verify_fail",
            EventKind::Close => "close",
            EventKind::Rate => "rate",
            EventKind::Escalate => "escalate",
            EventKind::Withdraw => "withdraw",
        }
    }

    /// The Chinese name shown in the app.
    pub fn name_zh(self) -> &'static str {
        match self {
            EventKind::Report => "上报",
            EventKind::Accept => "受理",
            EventKind::Dispatch => "派遣",
            EventKind::Handle => "处置",
            EventKind::Feedback => "反馈",
            EventKind::VerifyPass => "核查通过",
            EventKind::VerifyFail => "核查不通过",
            EventKind::Close => "结案",
            EventKind::Rate => "评价",
            EventKind::Escalate => "上报上级",
            EventKind::Withdraw => "撤销",
        }
    }

    /// The kind with this code.
    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// The level an issue is being dealt with at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Level {
    /// 网格.
    #[default]
    Grid,
    /// 社区.
    Community,
    /// 街道.
    Street,
    /// 职能部门.
    Department,
}

impl Level {
    /// The stored code.
    pub fn code(self) -> &'static str {
        match self {
            Level::Grid => "grid",
            Level::Community => "community",
            Level::Street => "street",
            Level::Department => "department",
        }
    }

    /// The level with this code.
    pub fn from_code(code: &str) -> Option<Self> {
        [
            Level::Grid,
            Level::Community,
            Level::Street,
            Level::Department,
        ]
        .into_iter()
        .find(|l| l.code() == code)
    }

    /// The level above, if any.
    pub fn up(self) -> Option<Self> {
        match self {
            Level::Grid => Some(Level::Community),
            Level::Community => Some(Level::Street),
            Level::Street => Some(Level::Department),
            Level::Department => None,
        }
    }
}

/// Where an issue stands in the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Stage {
    /// 待受理: reported (or escalated), waiting to be accepted.
    #[default]
    Reported,
    /// 待派遣: accepted, waiting to be dispatched.
    Accepted,
    /// 处置中: dispatched to the assignee (also after a failed check).
    Dispatched,
    /// 待反馈: handled, waiting for feedback.
    Handled,
    /// 待核查: fed back, waiting to be checked.
    FedBack,
    /// 待结案: checked, waiting to be closed.
    Verified,
    /// 已结案: closed, waiting for the resident's rating.
    Closed,
    /// 已评价: rated; the loop is complete.
    Rated,
    /// 已撤销: withdrawn.
    Withdrawn,
}

impl Stage {
    /// Every stage, in the loop's order.
    pub const ALL: [Stage; 9] = [
        Stage::Reported,
        Stage::Accepted,
        Stage::Dispatched,
        Stage::Handled,
        Stage::FedBack,
        Stage::Verified,
        Stage::Closed,
        Stage::Rated,
        Stage::Withdrawn,
    ];

    /// The stage's stable code, as the server stores it and its API and
    /// webhooks send it (`reported`, `fed_back`, …).
    pub fn code(self) -> &'static str {
        match self {
            Stage::Reported => "reported",
            Stage::Accepted => "accepted",
            Stage::Dispatched => "dispatched",
            Stage::Handled => "handled",
            Stage::FedBack => "fed_back",
            Stage::Verified => "verified",
            Stage::Closed => "closed",
            Stage::Rated => "rated",
            Stage::Withdrawn => "withdrawn",
        }
    }

    /// The stage of a stored code.
    pub fn from_code(code: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.code() == code)
    }

    /// Whether the issue still needs work (not closed, rated or withdrawn).
    pub fn is_open(self) -> bool {
        !matches!(self, Stage::Closed | Stage::Rated | Stage::Withdrawn)
    }

    /// The Chinese name shown in the app.
    pub fn name_zh(self) -> &'static str {
        match self {
            Stage::Reported => "待受理",
            Stage::Accepted => "待派遣",
            Stage::Dispatched => "处置中",
            Stage::Handled => "待反馈",
            Stage::FedBack => "待核查",
            Stage::Verified => "待结案",
            Stage::Closed => "已结案",
            Stage::Rated => "已评价",
            Stage::Withdrawn => "已撤销",
        }
    }
}

/// The Chinese name of a stored stage code (未知 for a code no stage has).
pub fn stage_name_zh(code: &str) -> &'static str {
    Stage::from_code(code).map_or("未知", Stage::name_zh)
}

/// An event that had no effect, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Superseded {
    /// The event's id.
    pub id: String,
    /// Why it had no effect.
    pub reason: Reason,
}

/// The computed state of an issue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// Where it stands.
    pub stage: Stage,
    /// The level it is dealt with at.
    pub level: Level,
    /// Who handles it (from dispatch until closed); `None` before dispatch
    /// and after an escalation.
    pub assignee: Option<String>,
    /// When it was last dispatched (ms): the time limit runs from here.
    /// A failed check does not restart it; an escalation clears it.
    pub dispatched_at: Option<i64>,
    /// When it was handled (ms), the last time.
    pub handled_at: Option<i64>,
    /// When it was closed (ms).
    pub closed_at: Option<i64>,
    /// The resident's rating, 1–5.
    pub rating: Option<u8>,
    /// How many times a check sent it back for rework.
    pub reworks: u32,
    /// Time of the latest event (applied or not), ms.
    pub last_at: i64,
    /// When the current stage began (ms): the report, or the latest event
    /// that took effect (an escalation restarts 待受理). 0 before any.
    pub stage_since: i64,
    /// Ids of the events that took effect, in order.
    pub applied: Vec<String>,
    /// Events that had no effect, in order.
    pub superseded: Vec<Superseded>,
}

/// Events in the order they are folded: by `(at, id)`.
pub fn in_order(events: &BTreeMap<String, Event>) -> Vec<(&str, &Event)> {
    let mut v: Vec<_> = events.iter().map(|(k, e)| (k.as_str(), e)).collect();
    v.sort_by(|a, b| a.1.at.cmp(&b.1.at).then(a.0.cmp(b.0)));
    v
}

/// The status an event set leads to.
pub fn status(events: &BTreeMap<String, Event>) -> Status {
    let mut s = Status::default();
    let mut reported = false;
    for (id, e) in in_order(events) {
        s.last_at = s.last_at.max(e.at);
        // The first report starts the loop; the state before it is the
        // same `Reported`, so a document missing it still works.
        let outcome = if !reported && e.kind == EventKind::Report.code() {
            reported = true;
            Ok(())
        } else {
            step(&mut s, e)
        };
        match outcome {
            Ok(()) => {
                s.stage_since = e.at;
                s.applied.push(id.to_string());
            }
            Err(reason) => s.superseded.push(Superseded {
                id: id.to_string(),
                reason,
            }),
        }
    }
    s
}

/// Apply one event to `s`, or say why it is not valid there (leaving `s`
/// as it was).
pub fn step(s: &mut Status, e: &Event) -> Result<(), Reason> {
    let Some(kind) = EventKind::from_code(&e.kind) else {
        return Err(Reason::new("未知的操作", "unknown event kind"));
    };
    if !s.stage.is_open() && kind != EventKind::Rate {
        return Err(Reason::new(
            format!("事件{}，不能再{}", s.stage.name_zh(), kind.name_zh()),
            format!(
                "the issue is {:?}; {} is not possible",
                s.stage,
                kind.code()
            ),
        ));
    }
    if Level::from_code(&e.level) != Some(s.level) {
        return Err(Reason::new(
            "事件已转到其他层级处理",
            "the event was made at another level than the issue's",
        ));
    }
    let wrong = || {
        Reason::new(
            format!("事件{}，不能{}", s.stage.name_zh(), kind.name_zh()),
            format!(
                "{} is not possible when the issue is {:?}",
                kind.code(),
                s.stage
            ),
        )
    };
    use EventKind as K;
    use Stage as S;
    match (kind, s.stage) {
        (K::Accept, S::Reported) => s.stage = S::Accepted,
        (K::Dispatch, S::Accepted) => {
            let assignee = e
                .assignee
                .as_deref()
                .filter(|a| !a.trim().is_empty())
                .ok_or_else(|| Reason::new("派遣须指定处置人", "dispatch needs an assignee"))?;
            s.stage = S::Dispatched;
            s.assignee = Some(assignee.to_string());
            s.dispatched_at = Some(e.at);
        }
        (K::Handle, S::Dispatched) => {
            s.stage = S::Handled;
            s.handled_at = Some(e.at);
        }
        (K::Feedback, S::Handled) => s.stage = S::FedBack,
        (K::VerifyPass, S::FedBack) => s.stage = S::Verified,
        (K::VerifyFail, S::FedBack) => {
            s.stage = S::Dispatched;
            s.reworks += 1;
        }
        (K::Close, S::Verified) => {
            s.stage = S::Closed;
            s.closed_at = Some(e.at);
        }
        (K::Rate, S::Closed) => {
            let rating = e
                .rating
                .filter(|r| (1..=5).contains(r))
                .ok_or_else(|| Reason::new("评价须为1至5星", "rating must be 1 to 5"))?;
            s.stage = S::Rated;
            s.rating = Some(rating);
        }
        (K::Escalate, S::Reported | S::Accepted | S::Dispatched) => {
            let up = s.level.up().ok_or_else(|| {
                Reason::new("已是最高层级，不能再上报", "already at the top level")
            })?;
            s.level = up;
            s.stage = S::Reported;
            s.assignee = None;
            s.dispatched_at = None;
        }
        (K::Withdraw, S::Reported | S::Accepted | S::Dispatched) => s.stage = S::Withdrawn,
        _ => return Err(wrong()),
    }
    Ok(())
}
