//! Issue reports in the store: reporting, workflow steps checked against the
//! computed status, and the lists supervisors chase (open, overdue, nearly
//! due).
//!
//! Lists are computed by reading the issue documents of a grid (found by
//! kind and scope in the `docs` table) and folding their events; there are
//! no projection tables for issues yet.

use std::collections::BTreeMap;

use automerge::ObjType;
use automerge::transaction::Transactable;
use automerge::{ReadDoc, Value};

use super::Store;
use crate::codes::Op;
use crate::doc::{self, DocId};
use crate::issue::duty::Duty;
use crate::issue::{
    self, Event, EventKind, Issue, IssueRow, Level, NewIssue, StepInput, Urgency, WorkCalendar,
    deadline, workflow,
};
use crate::tagset::TagSet;
use crate::{Error, Reason, Result};

/// Key of the working calendar in the store's key/value table.
const CALENDAR_KEY: &str = "issue.work_calendar";
/// What the signed-in user's role entitles them to ([`Duty`], JSON).
const DUTY_KEY: &str = "auth.duty";

impl Store {
    /// Report an issue; returns its id. The reporter is the signed-in author.
    pub fn report_issue(&mut self, new: NewIssue) -> Result<DocId> {
        new.validate()?;
        self.grid(&new.grid)?;
        let id = doc::new_id();
        let now = self.clock.now_ms();
        let mut events = BTreeMap::new();
        events.insert(
            doc::new_id(),
            Event {
                kind: EventKind::Report.code().into(),
                actor: self.author.user.clone(),
                role: self.author.role.clone(),
                at: now,
                level: Level::Grid.code().into(),
                ..Event::default()
            },
        );
        let urgency = if new.urgency.is_empty() {
            Urgency::Normal.code().to_string()
        } else {
            new.urgency
        };
        let place = issue::IssuePlace {
            building: new.place.building.map(|b| b.trim().to_string()),
            ..new.place
        };
        let i = Issue {
            kind: issue::KIND.into(),
            schema: issue::SCHEMA,
            id: id.clone(),
            grid: new.grid.clone(),
            category: new.category,
            subtype: new.subtype,
            description: new.description.trim().into(),
            place,
            reporter: self.author.user.clone(),
            source: new.source,
            urgency,
            photos: new.photos.iter().map(|p| p.to_ascii_lowercase()).collect(),
            households: TagSet::of(new.households),
            created_at: now,
            events,
            status: Default::default(),
        };
        self.create_doc(&id, issue::KIND, &new.grid, Op::ReportIssue.code(), |tx| {
            doc::write_new(tx, &automerge::ROOT, &i)
        })?;
        Ok(id)
    }

    /// An issue, with its status computed from its events.
    pub fn issue(&mut self, id: &str) -> Result<Issue> {
        let mut i: Issue = self.with_doc(id, |d| doc::read(d, None))?;
        if i.kind != issue::KIND {
            return Err(Error::NotFound {
                kind: "issue",
                id: id.into(),
            });
        }
        i.status = workflow::status(&i.events);
        Ok(i)
    }

    /// Take a workflow step on issue `id` as the signed-in author; returns
    /// the event's id. Refused, with the reason, when the step is not
    /// possible in the issue's current status as this device knows it.
    /// (Which roles may take which step is enforced by the server.)
    pub fn append_event(&mut self, id: &str, kind: EventKind, input: StepInput) -> Result<String> {
        if kind == EventKind::Report {
            return Err(
                Reason::new("上报在创建事件时完成", "an issue is reported when created").on("kind"),
            );
        }
        let note = input
            .note
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty());
        if note.as_ref().is_some_and(|n| n.chars().count() > 2000) {
            return Err(
                Reason::new("说明过长（最多2000字）", "note longer than 2000 characters")
                    .on("note"),
            );
        }
        if matches!(kind, EventKind::VerifyFail | EventKind::Withdraw) && note.is_none() {
            return Err(
                Reason::new("请填写原因", "a note giving the reason is required").on("note"),
            );
        }
        let assignee = input
            .assignee
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty());
        match kind {
            EventKind::Dispatch if assignee.is_none() => {
                return Err(
                    Reason::new("派遣须指定处置人", "dispatch needs an assignee").on("assignee"),
                );
            }
            EventKind::Dispatch => {}
            _ if assignee.is_some() => {
                return Err(
                    Reason::new("只有派遣可指定处置人", "only dispatch takes an assignee")
                        .on("assignee"),
                );
            }
            _ => {}
        }
        match (kind, input.rating) {
            (EventKind::Rate, Some(r)) if (1..=5).contains(&r) => {}
            (EventKind::Rate, _) => {
                return Err(Reason::new("评价须为1至5星", "rating must be 1 to 5").on("rating"));
            }
            (_, Some(_)) => {
                return Err(Reason::new("只有评价可打分", "only rate takes a rating").on("rating"));
            }
            (_, None) => {}
        }
        let current = self.issue(id)?;
        let mut status = current.status.clone();
        let event = Event {
            kind: kind.code().into(),
            actor: self.author.user.clone(),
            role: self.author.role.clone(),
            // Never before a step this device already knows of, whatever
            // its clock says, so its own steps fold in the order taken.
            at: self.clock.now_ms().max(status.last_at + 1),
            level: status.level.code().into(),
            assignee,
            note,
            rating: input.rating,
        };
        // The role rule first (the server's own): an out-of-role step is
        // refused now, with the reason, not after the next sync.
        if let Some(duty) = self.duty()?
            && duty.role != "admin"
        {
            let met: Vec<&str> = status.assignee.as_deref().into_iter().collect();
            duty.may_take(&current, false, &event, status.level, &met)
                .map_err(Error::Forbidden)?;
        }
        workflow::step(&mut status, &event).map_err(|r| r.on("kind"))?;
        let eid = doc::new_id();
        self.edit_doc(id, kind.code(), |tx| {
            if doc::kind_of(tx).as_deref() != Some(issue::KIND) {
                return Err(Reason::new("该记录不是事件", "document is not an issue").on("id"));
            }
            let events = match tx.get(&automerge::ROOT, "events")? {
                Some((Value::Object(ObjType::Map), obj)) => obj,
                _ => tx.put_object(&automerge::ROOT, "events", ObjType::Map)?,
            };
            let child = tx.put_object(&events, eid.as_str(), ObjType::Map)?;
            doc::write_new(tx, &child, &event)
        })?;
        Ok(eid)
    }

    /// What the signed-in user's role entitles them to, as the server's
    /// login answer said (`None` when not known: signed out, or signed in
    /// before the server told it; the server then decides at the next sync).
    pub fn duty(&self) -> Result<Option<Duty>> {
        if !self.author.is_signed_in() {
            return Ok(None);
        }
        Ok(self
            .meta(DUTY_KEY)?
            .and_then(|json| serde_json::from_str::<Duty>(&json).ok())
            .filter(|d| d.user_id == self.author.user && d.role == self.author.role))
    }

    /// Keep what the signed-in user's role entitles them to (`None`:
    /// forget it, at sign-out).
    pub fn set_duty(&mut self, duty: Option<&Duty>) -> Result<()> {
        let json = match duty {
            Some(d) => serde_json::to_string(d).map_err(|e| Error::Shape(e.to_string()))?,
            None => String::new(),
        };
        self.set_meta(DUTY_KEY, &json)
    }

    /// The calendar deadlines are computed with (weekends only, until set).
    pub fn work_calendar(&self) -> Result<WorkCalendar> {
        let Some(json) = self.meta(CALENDAR_KEY)? else {
            return Ok(WorkCalendar::default());
        };
        let lists: BTreeMap<String, Vec<String>> =
            serde_json::from_str(&json).map_err(|e| Error::Shape(e.to_string()))?;
        let get = |k: &str| lists.get(k).cloned().unwrap_or_default();
        WorkCalendar::from_dates(&get("holidays"), &get("workdays"))
    }

    /// Set the holidays and make-up working days (`YYYY-MM-DD`), kept in
    /// the store.
    pub fn set_work_calendar(&mut self, calendar: &WorkCalendar) -> Result<()> {
        let fmt = |set: &std::collections::BTreeSet<time::Date>| -> Vec<String> {
            set.iter().map(|d| deadline::format_date(*d)).collect()
        };
        let mut lists = BTreeMap::new();
        lists.insert("holidays", fmt(&calendar.holidays));
        lists.insert("workdays", fmt(&calendar.workdays));
        let json = serde_json::to_string(&lists).map_err(|e| Error::Shape(e.to_string()))?;
        self.set_meta(CALENDAR_KEY, &json)
    }

    /// When `issue` must leave its stage (ms): 待受理 within the subtype's
    /// accept limit from the report or the latest escalation, 处置中
    /// within the subtype's limit from its last dispatch
    /// ([`Issue::due`]). `None` in other stages, and for handling when the
    /// subtype is unknown to this app.
    pub fn issue_deadline(&self, issue: &Issue) -> Result<Option<i64>> {
        let calendar = self.work_calendar()?;
        Ok(issue.due(&issue.status, &calendar))
    }

    /// Open issues of a grid (not closed, rated or withdrawn), oldest first.
    pub fn open_issues(&mut self, grid: &str) -> Result<Vec<IssueRow>> {
        self.open_issues_in(Some(grid))
    }

    /// Open issues in `grid`, or of every grid on this device, oldest
    /// first.
    pub fn open_issues_in(&mut self, grid: Option<&str>) -> Result<Vec<IssueRow>> {
        self.issue_rows(grid, |r, _| r.stage.is_open())
    }

    /// Open issues on this device that user `user` reported or is to
    /// handle (the assignee of their last dispatch), oldest first.
    pub fn my_open_issues(&mut self, user: &str) -> Result<Vec<IssueRow>> {
        self.issue_rows(None, |r, _| {
            r.stage.is_open() && (r.reporter == user || r.assignee.as_deref() == Some(user))
        })
    }

    /// Issues past the time limit of their stage, in `grid` or
    /// everywhere: 待受理 not accepted in time, or 处置中 not handled in
    /// time (the same rule as the supervisors' pages).
    pub fn overdue_issues(&mut self, grid: Option<&str>) -> Result<Vec<IssueRow>> {
        self.issue_rows(grid, |r, now| r.deadline.is_some_and(|d| d < now))
    }

    /// Issues whose stage's time limit (待受理 or 处置中) falls within
    /// `within_ms` from now (not yet overdue), in `grid` or everywhere.
    pub fn issues_nearly_due(
        &mut self,
        grid: Option<&str>,
        within_ms: i64,
    ) -> Result<Vec<IssueRow>> {
        self.issue_rows(grid, |r, now| {
            r.deadline
                .is_some_and(|d| d >= now && d <= now.saturating_add(within_ms))
        })
    }

    fn issue_rows(
        &mut self,
        grid: Option<&str>,
        keep: impl Fn(&IssueRow, i64) -> bool,
    ) -> Result<Vec<IssueRow>> {
        let ids: Vec<String> = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT id FROM docs WHERE kind = ?1 AND (?2 IS NULL OR scope = ?2) ORDER BY id",
            )?;
            stmt.query_map(rusqlite::params![issue::KIND, grid], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?
        };
        let calendar = self.work_calendar()?;
        let now = self.clock.now_ms();
        let mut rows = Vec::new();
        for id in ids {
            let i = match self.issue(&id) {
                Ok(i) => i,
                Err(Error::Shape(e)) => {
                    tracing::warn!(doc = id, error = %e, "issue document has an unexpected shape; not listed");
                    continue;
                }
                Err(e) => return Err(e),
            };
            let row = IssueRow {
                deadline: i.due(&i.status, &calendar),
                id: i.id,
                grid: i.grid,
                category: i.category,
                subtype: i.subtype,
                stage: i.status.stage,
                level: i.status.level,
                assignee: i.status.assignee,
                reporter: i.reporter,
                description: i.description,
                created_at: i.created_at,
            };
            if keep(&row, now) {
                rows.push(row);
            }
        }
        Ok(rows)
    }
}
