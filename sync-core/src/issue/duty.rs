//! Who may take which step of an issue report's closed loop (闭环): one
//! rule, used by the server to judge every step a push adds and by the
//! phone to refuse an out-of-role step at once, with the same Chinese
//! reason, instead of after the next sync.
//!
//! | step                          | who                                                        |
//! |-------------------------------|------------------------------------------------------------|
//! | report 上报                    | grid worker of the grid, supervisor over it (new reports)  |
//! | accept, dispatch, escalate    | at grid level: the grid's worker; at any level: a          |
//! |                               | supervisor over the grid whose rank reaches that level     |
//! |                               | (community: grid, community; street: every level)          |
//! | handle 处置, feedback 反馈      | whoever it is dispatched to: that person, or a user of    |
//! |                               | the department (`dept:<code>`)                            |
//! | verify_pass / verify_fail 核查 | the grid's worker, or the reporter                         |
//! | close 结案                     | a supervisor over the grid whose rank reaches the level    |
//! | rate 评价                      | the reporter, the grid's worker, a supervisor over it      |
//! | withdraw 撤销                  | the reporter, a supervisor over the grid                   |
//!
//! Administrators may take every step (the caller decides that: the server
//! lets them record steps on anyone's behalf).

use serde::{Deserialize, Serialize};

use super::{Event, EventKind, Issue, Level};
use crate::error::Reason;

/// What a signed-in user's role entitles them to, as the server's login
/// answer tells the phone (and the server knows of every caller).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Duty {
    /// User id.
    pub user_id: String,
    /// Role code: `grid_worker`, `package_holder`, `supervisor`,
    /// `department`, `admin`, `building_head`, `unit_head`.
    pub role: String,
    /// Grid codes assigned (grid workers).
    #[serde(default)]
    pub grids: Vec<String>,
    /// The 12-digit community or 9-digit street a supervisor oversees.
    #[serde(default)]
    pub subtree: Option<String>,
    /// The department a department user acts for (its code).
    #[serde(default)]
    pub department: Option<String>,
    /// The building or unit a 楼栋长/单元长 serves.
    #[serde(default)]
    pub post: Option<crate::contact::Post>,
}

/// A role's Chinese name, from its code.
pub fn role_name_zh(code: &str) -> &'static str {
    match code {
        "grid_worker" => "网格员",
        "package_holder" => "包保责任人",
        "supervisor" => "社区/街道管理员",
        "department" => "职能部门",
        "admin" => "系统管理员",
        "building_head" => "楼栋长",
        "unit_head" => "单元长",
        _ => "未知角色",
    }
}

impl Duty {
    /// How far up a supervisor's authority reaches: a community supervisor
    /// (12-digit subtree) acts at grid and community level, a street
    /// supervisor (9 digits) at every level.
    fn reach(&self) -> Option<Level> {
        match self.subtree.as_deref().map(str::len) {
            Some(crate::codes::CommunityCode::LEN) => Some(Level::Community),
            Some(crate::codes::StreetCode::LEN) => Some(Level::Department),
            _ => None,
        }
    }

    /// A supervisor over `grid`.
    pub fn over_grid(&self, grid: &str) -> bool {
        self.role == "supervisor"
            && self
                .subtree
                .as_deref()
                .is_some_and(|s| !s.is_empty() && grid.starts_with(s))
    }

    /// A grid worker of `grid`.
    pub fn works_grid(&self, grid: &str) -> bool {
        self.role == "grid_worker" && self.grids.iter().any(|g| g == grid)
    }

    /// A supervisor over the grid whose rank reaches `level`.
    fn supervises_at(&self, grid: &str, level: Level) -> bool {
        self.over_grid(grid) && self.reach().is_some_and(|reach| level <= reach)
    }

    /// Whether `assignee` is this user: the person, or their department.
    fn is_assignee(&self, assignee: &str) -> bool {
        match super::assignee_department(assignee) {
            Some(d) => self.role == "department" && self.department.as_deref() == Some(d),
            None => assignee == self.user_id,
        }
    }

    fn forbids(&self, kind: EventKind, why_zh: &str, why_en: &str) -> Reason {
        Reason::new(
            format!(
                "{}不能{}：{}",
                role_name_zh(&self.role),
                kind.name_zh(),
                why_zh
            ),
            format!("a {} may not {}: {}", self.role, kind.code(), why_en),
        )
    }

    /// Whether this user may record step `e` of `issue`, met at `level`
    /// with `assignees` (the assignee it met; for a step the fold
    /// supersedes, every assignee ever named). `new_report`: the report is
    /// new (its 上报 is being recorded). The reason names the role and the
    /// step, in Chinese and English.
    pub fn may_take(
        &self,
        issue: &Issue,
        new_report: bool,
        e: &Event,
        level: Level,
        assignees: &[&str],
    ) -> Result<(), Reason> {
        let Some(kind) = EventKind::from_code(&e.kind) else {
            return Err(Reason::new(
                "未知的操作，请升级应用",
                "unknown workflow step; update the app",
            ));
        };
        if e.actor != self.user_id || e.role != self.role {
            return Err(self.forbids(
                kind,
                "操作须以当前登录用户的身份记录",
                "a step must be recorded under the signed-in user and role",
            ));
        }
        let grid = issue.grid.as_str();
        let ok = match kind {
            EventKind::Report => {
                if !new_report {
                    return Err(self.forbids(
                        kind,
                        "上报在创建事件时完成",
                        "an issue is reported when it is created",
                    ));
                }
                self.works_grid(grid) || self.over_grid(grid)
            }
            EventKind::Accept | EventKind::Dispatch | EventKind::Escalate => {
                let ok = (level == Level::Grid && self.works_grid(grid))
                    || self.supervises_at(grid, level);
                if !ok {
                    let (zh, en) = match level {
                        Level::Grid => (
                            "须由本网格网格员或社区、街道管理员办理",
                            "only the grid's worker or a community or street supervisor over it",
                        ),
                        Level::Community => (
                            "事件已在社区层级，须由社区或街道管理员办理",
                            "the issue is at community level: a community or street supervisor over it",
                        ),
                        Level::Street | Level::Department => (
                            "事件已在街道或部门层级，须由街道管理员办理",
                            "the issue is at street or department level: a street supervisor over it",
                        ),
                    };
                    return Err(self.forbids(kind, zh, en));
                }
                if kind == EventKind::Dispatch
                    && let Some(a) = e.assignee.as_deref()
                    && a.starts_with(super::DEPARTMENT_ASSIGNEE)
                    && super::assignee_department(a).is_none()
                {
                    return Err(self.forbids(
                        kind,
                        "派遣的部门编码为空",
                        "the department named by the dispatch is empty",
                    ));
                }
                true
            }
            EventKind::Handle | EventKind::Feedback => {
                if !assignees.iter().any(|a| self.is_assignee(a)) {
                    return Err(self.forbids(
                        kind,
                        "只有被派遣的处置人或部门可以处置和反馈",
                        "only the person or department it is dispatched to",
                    ));
                }
                true
            }
            EventKind::VerifyPass | EventKind::VerifyFail => {
                if !(self.works_grid(grid) || issue.reporter == self.user_id) {
                    return Err(self.forbids(
                        kind,
                        "须由本网格网格员或上报人核查",
                        "only the grid's worker or the reporter checks the outcome",
                    ));
                }
                true
            }
            EventKind::Close => {
                if !self.supervises_at(grid, level) {
                    return Err(self.forbids(
                        kind,
                        "须由负责该层级的社区或街道管理员结案",
                        "only a supervisor over the grid at the issue's level closes it",
                    ));
                }
                true
            }
            EventKind::Rate => {
                self.works_grid(grid) || issue.reporter == self.user_id || self.over_grid(grid)
            }
            EventKind::Withdraw => issue.reporter == self.user_id || self.over_grid(grid),
        };
        if ok {
            Ok(())
        } else {
            Err(self.forbids(
                kind,
                "不在您的职责范围内",
                "not within the role's duties for this report",
            ))
        }
    }
}
