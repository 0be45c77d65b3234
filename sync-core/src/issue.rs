//! The issue report document (事件): something found on a patrol or raised
//! by a resident, with its place, photos and the events of its closed loop.
//!
//! One issue is one Automerge document, scoped to its grid. What was
//! reported is written once; the workflow lives in `events`, a map keyed by
//! UUID to which steps are only ever added, so steps taken on two phones at
//! once merge by union. The status is computed from the events
//! ([`workflow::status`]), never stored; see docs/adr/0006-issue-workflow.md.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::tagset::TagSet;
use crate::{Reason, Result, doc};

pub mod catalogue;
pub mod deadline;
pub mod duty;
pub mod workflow;

pub use catalogue::{CATALOGUE, Category, Subtype};
pub use deadline::{Limit, WorkCalendar};
pub use workflow::{EventKind, Level, Stage, Status, Superseded};

/// The kind tag of issue documents.
pub const KIND: &str = "issue";
/// The schema version written by this code.
pub const SCHEMA: u64 = 1;

/// How a dispatch names a department (职能部门) rather than a person as
/// its assignee: `dept:<code>`, e.g. `dept:chengguan`.
pub const DEPARTMENT_ASSIGNEE: &str = "dept:";

/// The assignee naming department `code`.
pub fn department_assignee(code: &str) -> String {
    format!("{DEPARTMENT_ASSIGNEE}{code}")
}

/// The department an assignee names, if it names one.
pub fn assignee_department(assignee: &str) -> Option<&str> {
    assignee
        .strip_prefix(DEPARTMENT_ASSIGNEE)
        .filter(|c| !c.is_empty())
}

/// Where an issue was found: any of a household, a building, coordinates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IssuePlace {
    /// The household concerned, a document id.
    pub household: Option<String>,
    /// Building or landmark, free text (e.g. 3号楼东侧).
    pub building: Option<String>,
    /// Latitude, WGS-84.
    pub lat: Option<f64>,
    /// Longitude, WGS-84.
    pub lon: Option<f64>,
}

/// One workflow step, as stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Event {
    /// An [`EventKind`] code.
    pub kind: String,
    /// User id of whoever took the step.
    pub actor: String,
    /// Their role code.
    pub role: String,
    /// When, milliseconds since the Unix epoch.
    pub at: i64,
    /// The [`Level`] code the issue was at when the step was taken.
    pub level: String,
    /// Who is to handle it (dispatch).
    pub assignee: Option<String>,
    /// Free text: what was done, why it was sent back, which issue this one
    /// duplicates.
    pub note: Option<String>,
    /// The resident's rating, 1–5 (rate).
    pub rating: Option<u8>,
}

/// An issue document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Issue {
    /// Always `"issue"`.
    pub kind: String,
    /// Document schema version.
    pub schema: u64,
    /// The document id (UUID v7).
    pub id: String,
    /// The grid code (its scope).
    pub grid: String,
    /// Category code from the catalogue.
    pub category: String,
    /// Subtype code within the category.
    pub subtype: String,
    /// What was found.
    pub description: String,
    /// Where.
    pub place: IssuePlace,
    /// User id of the reporter.
    pub reporter: String,
    /// A [`Source`] code.
    pub source: String,
    /// An [`Urgency`] code.
    pub urgency: String,
    /// Photos, SHA-256 of their bytes, hex.
    pub photos: Vec<String>,
    /// Households concerned, document ids.
    pub households: TagSet,
    /// When it was reported, ms.
    pub created_at: i64,
    /// Workflow events keyed by UUID.
    pub events: BTreeMap<String, Event>,
    /// The computed status (not stored; filled by [`Store::issue`]).
    ///
    /// [`Store::issue`]: crate::Store::issue
    #[serde(skip)]
    pub status: Status,
}

/// The details of a workflow step; which are needed depends on the kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepInput {
    /// Who is to handle it (required for dispatch).
    pub assignee: Option<String>,
    /// What was done, why it was sent back, which issue it duplicates
    /// (required for verify_fail and withdraw).
    pub note: Option<String>,
    /// 1–5 (required for rate).
    pub rating: Option<u8>,
}

/// An issue in a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueRow {
    /// Document id.
    pub id: String,
    /// Grid code.
    pub grid: String,
    /// Category code.
    pub category: String,
    /// Subtype code.
    pub subtype: String,
    /// Where it stands.
    pub stage: Stage,
    /// Level it is dealt with at.
    pub level: Level,
    /// Who handles it.
    pub assignee: Option<String>,
    /// User id of the reporter.
    pub reporter: String,
    /// What was found.
    pub description: String,
    /// When it was reported (ms).
    pub created_at: i64,
    /// When the current stage is due (ms): 待受理 must be accepted, 处置中
    /// handled, by then ([`Issue::due`]); `None` in other stages.
    pub deadline: Option<i64>,
}

impl Issue {
    /// The departments the report is dispatched to: those named by
    /// dispatches that took effect, in order, without repeats. A
    /// department keeps seeing a report it was once given (to feed back,
    /// and for its records); the server puts it in their feeds `d:<code>`.
    pub fn departments(&self) -> Vec<String> {
        let status = workflow::status(&self.events);
        let mut out: Vec<String> = Vec::new();
        for id in &status.applied {
            let Some(e) = self.events.get(id) else {
                continue;
            };
            if e.kind != EventKind::Dispatch.code() {
                continue;
            }
            if let Some(d) = e.assignee.as_deref().and_then(assignee_department)
                && !out.iter().any(|o| o == d)
            {
                out.push(d.to_owned());
            }
        }
        out
    }

    /// The catalogue entry of its subtype, if known to this app.
    pub fn subtype_entry(&self) -> Option<&'static Subtype> {
        catalogue::subtype(&self.category, &self.subtype)
    }

    /// Events in the order they are folded.
    pub fn events_in_order(&self) -> Vec<(&str, &Event)> {
        workflow::in_order(&self.events)
    }

    /// When the report must leave the stage `status` has it in (ms), if
    /// that stage has a time limit: 待受理 must be accepted within the
    /// subtype's accept limit (one working day; one natural hour for
    /// urgent subtypes), counted from the report or the latest
    /// escalation; 处置中 must be handled within the subtype's limit,
    /// counted from dispatch. `None` in other stages, and for handling
    /// when the subtype is unknown to this app.
    pub fn due(&self, status: &Status, calendar: &WorkCalendar) -> Option<i64> {
        match status.stage {
            Stage::Reported => {
                let since = if status.stage_since > 0 {
                    status.stage_since
                } else {
                    self.created_at
                };
                let limit = self
                    .subtype_entry()
                    .map_or(catalogue::ACCEPT_LIMIT, Subtype::accept_limit);
                Some(calendar.deadline(since, limit))
            }
            Stage::Dispatched => {
                let start = status.dispatched_at?;
                Some(calendar.deadline(start, self.subtype_entry()?.limit))
            }
            _ => None,
        }
    }
}

macro_rules! code_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $code:literal, $zh:literal;)+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vm])* $variant,)+
        }

        impl $name {
            /// The stored code.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code,)+ }
            }

            /// The Chinese name shown in the app.
            pub fn name_zh(self) -> &'static str {
                match self { $($name::$variant => $zh,)+ }
            }

            /// The value with this code.
            pub fn from_code(code: &str) -> Result<Self, Reason> {
                match code {
                    $($code => Ok($name::$variant),)+
                    _ => Err(Reason::new("代码不在列表中", "unknown code")),
                }
            }
        }
    };
}

code_enum!(
    /// How the issue came to light.
    Source {
        /// 巡查: found on a patrol.
        Patrol = "patrol", "巡查";
        /// 走访: found on a household visit.
        Visit = "visit", "走访";
        /// 群众反映: raised by a resident.
        Resident = "resident", "群众反映";
        /// 12345 hotline.
        Hotline = "hotline", "12345热线";
    }
);

code_enum!(
    /// How urgent it is.
    Urgency {
        /// 一般.
        Normal = "normal", "一般";
        /// 紧急.
        Urgent = "urgent", "紧急";
        /// 特急.
        Critical = "critical", "特急";
    }
);

/// What a caller gives to report an issue.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewIssue {
    /// Grid code; the grid must be known to the store.
    pub grid: String,
    /// Category code.
    pub category: String,
    /// Subtype code.
    pub subtype: String,
    /// What was found (required).
    pub description: String,
    /// Where.
    pub place: IssuePlace,
    /// A [`Source`] code.
    pub source: String,
    /// An [`Urgency`] code; empty means `normal`.
    pub urgency: String,
    /// Photos, SHA-256 hex.
    pub photos: Vec<String>,
    /// Households concerned, document ids.
    pub households: Vec<String>,
}

impl NewIssue {
    /// Check every field but the grid (the store checks that it is known).
    pub fn validate(&self) -> Result<()> {
        let cat = catalogue::category(&self.category)
            .ok_or_else(|| Reason::new("事件类别不在目录中", "unknown category").on("category"))?;
        if cat.subtype(&self.subtype).is_none() {
            return Err(
                Reason::new("事件子类不在该类别中", "unknown subtype for this category")
                    .on("subtype"),
            );
        }
        let description = self.description.trim();
        if description.is_empty() {
            return Err(
                Reason::new("事件描述不能为空", "description must not be empty").on("description"),
            );
        }
        if description.chars().count() > 5000 {
            return Err(Reason::new(
                "事件描述过长（最多5000字）",
                "description longer than 5000 characters",
            )
            .on("description"));
        }
        Source::from_code(&self.source).map_err(|r| r.on("source"))?;
        if !self.urgency.is_empty() {
            Urgency::from_code(&self.urgency).map_err(|r| r.on("urgency"))?;
        }
        if let Some(h) = &self.place.household {
            doc::parse_id("place.household", h)?;
        }
        if self
            .place
            .building
            .as_ref()
            .is_some_and(|b| b.chars().count() > 100)
        {
            return Err(Reason::new(
                "位置描述过长（最多100字）",
                "building longer than 100 characters",
            )
            .on("place.building"));
        }
        match (self.place.lat, self.place.lon) {
            (None, None) => {}
            (Some(lat), Some(lon)) => {
                if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
                    return Err(
                        Reason::new("纬度超出范围", "latitude out of range").on("place.lat")
                    );
                }
                if !(lon.is_finite() && (-180.0..=180.0).contains(&lon)) {
                    return Err(
                        Reason::new("经度超出范围", "longitude out of range").on("place.lon")
                    );
                }
            }
            (Some(_), None) => {
                return Err(Reason::new("缺少经度", "longitude missing").on("place.lon"));
            }
            (None, Some(_)) => {
                return Err(Reason::new("缺少纬度", "latitude missing").on("place.lat"));
            }
        }
        for p in &self.photos {
            let ok = p.len() == 64 && p.bytes().all(|b| b.is_ascii_hexdigit());
            if !ok {
                return Err(Reason::new(
                    "照片编号应为64位十六进制（SHA-256）",
                    "photo ids must be SHA-256 hex (64 characters)",
                )
                .on("photos"));
            }
        }
        for h in &self.households {
            doc::parse_id("households", h)?;
        }
        Ok(())
    }
}
