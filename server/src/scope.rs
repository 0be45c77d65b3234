//! Access control: every decision about who may read and write which
//! document lives here, and only here.
//!
//! - A grid worker reads and writes the grids assigned to them.
//! - A package-holder reads and writes the households whose `holder` is
//!   them, in any grid; they cannot create households or hand them on.
//! - A supervisor reads and writes every grid under their community or
//!   street, and is the only one (with admins) who may move a household to
//!   another grid.
//! - A department user (职能部门) reads the issue reports dispatched to
//!   their department (feed `d:<code>`) and may only add the steps that are
//!   theirs (handle, feed back); never households or grids.
//! - A 楼栋长/单元长 (building or unit head, 小三级) reads the masked
//!   roster of their building or unit (`GET /v1/roster`, not a feed) and
//!   the contacts they made; they write only new contacts, in their own
//!   name, at households of their post.
//! - An admin reads and writes everything.
//!
//! Reads are granted as feeds (see [`crate::store`]); writes are judged per
//! pushed document by [`Guard`], after the change is applied to a copy and
//! the result validated. Which role may take which step of an issue
//! report's closed loop is decided in [`steps`].

use automerge::{Automerge, Change};
use gridsync_core::contact;
use gridsync_core::issue::{self, Issue};
use gridsync_core::{doc, shape};

use crate::directory::Directory;
use crate::principal::{Principal, Role};
use crate::store::{DocFacts, Refusal, WriteGuard, department_feed, grid_feed, holder_feed};
use crate::sync::validate::{self, Record, Touched, Validated, read_record};

pub mod rules;
pub mod steps;

/// The feeds a principal may read.
pub async fn feeds_for(
    p: &Principal,
    directory: &dyn Directory,
) -> Result<Vec<String>, crate::db::DbError> {
    Ok(match p.role {
        Role::GridWorker => p.grids.iter().map(|g| grid_feed(g)).collect(),
        // A head's feed holds only the contacts they made (their roster
        // comes masked, from `GET /v1/roster`, never as documents).
        Role::PackageHolder | Role::BuildingHead | Role::UnitHead => {
            vec![holder_feed(&p.user_id)]
        }
        Role::Supervisor => match &p.subtree {
            Some(prefix) => directory
                .grid_codes_under(prefix)
                .await?
                .iter()
                .map(|g| grid_feed(g))
                .collect(),
            None => Vec::new(),
        },
        Role::Admin => directory
            .grid_codes_under("")
            .await?
            .iter()
            .map(|g| grid_feed(g))
            .collect(),
        Role::Department => p.department.iter().map(|d| department_feed(d)).collect(),
    })
}

/// Whether `p` may read a document with these facts.
pub fn may_read(p: &Principal, facts: &DocFacts) -> bool {
    match p.role {
        Role::Admin => true,
        Role::GridWorker => p.grids.contains(&facts.scope),
        Role::PackageHolder => {
            facts.kind == "household" && facts.holder.as_deref() == Some(p.user_id.as_str())
        }
        Role::Supervisor => under_subtree(p, &facts.scope),
        Role::BuildingHead | Role::UnitHead => {
            facts.kind == contact::KIND && facts.holder.as_deref() == Some(p.user_id.as_str())
        }
        Role::Department => {
            facts.kind == issue::KIND
                && p.department
                    .as_ref()
                    .is_some_and(|d| facts.departments.contains(d))
        }
    }
}

fn under_subtree(p: &Principal, scope: &str) -> bool {
    p.subtree
        .as_deref()
        .is_some_and(|s| !s.is_empty() && scope.starts_with(s))
}

/// Judges pushed documents for one principal.
pub struct Guard {
    principal: Principal,
    validate: Validate,
}

/// How a guard validates a document after a push (the server's is
/// [`crate::sync::validate::document`]).
pub type Validate = fn(&str, &Automerge) -> Result<Validated, Refusal>;

impl Guard {
    /// A guard for `principal`, validating documents with `validate`.
    pub fn new(principal: Principal, validate: Validate) -> Self {
        Self {
            principal,
            validate,
        }
    }
}

fn out_of_scope() -> Refusal {
    Refusal::new(
        "out_of_scope",
        "无权修改该记录：不在您负责的范围内 / the record is outside your grids or households",
    )
    .at("grid")
}

impl WriteGuard for Guard {
    fn admit(&self, change: &Change) -> Result<String, Refusal> {
        if change.raw_bytes().len() > shape::CHANGE_BYTES || change.len() > shape::CHANGE_OPS {
            return Err(Refusal::new(
                "change_too_large",
                format!(
                    "修改过大（最多{} KiB、{}个操作） / the change is larger than {} KiB or {} operations",
                    shape::CHANGE_BYTES / 1024,
                    shape::CHANGE_OPS,
                    shape::CHANGE_BYTES / 1024,
                    shape::CHANGE_OPS
                ),
            ));
        }
        let Some(note) = doc::ChangeNote::parse(change.message()) else {
            return Err(Refusal::new(
                "invalid_change",
                "修改缺少作者说明 / the change message must be {\"by\": <user id>, \"op\": <what>}",
            )
            .at("message"));
        };
        if note.by != self.principal.user_id && !rules::is_server(&self.principal) {
            return Err(Refusal::new(
                "not_author",
                "修改的作者须为当前登录的本人 / the change's author (message `by`) must be the signed-in user",
            )
            .at("message.by"));
        }
        Ok(note.op)
    }

    fn check(
        &self,
        doc_id: &str,
        before: Option<&DocFacts>,
        before_doc: &Automerge,
        after_doc: &Automerge,
        ops: &[String],
        changes: &[&[u8]],
    ) -> Result<DocFacts, Refusal> {
        let push = Pushed {
            doc_id,
            before,
            docs: (before_doc, after_doc),
            ops,
        };
        if before.is_some()
            && let Some(quick) = self.judge_touched(&push, changes)
        {
            // Every test's push runs both: the judgement from what was
            // touched must be the whole document's.
            #[cfg(debug_assertions)]
            {
                let record = validate::kept(doc_id, after_doc);
                let whole = self.judge_whole(&push);
                assert_eq!(
                    whole.as_ref().ok(),
                    Some(&quick),
                    "judged by what it touched, {doc_id} passed; judged whole: {whole:?}"
                );
                assert_eq!(
                    validate::kept(doc_id, after_doc),
                    record,
                    "{doc_id} reads as another record whole"
                );
            }
            return Ok(quick);
        }
        self.judge_whole(&push)
    }
}

/// A pushed document as the guard judges it.
#[derive(Debug, Clone, Copy)]
pub struct Pushed<'a> {
    /// The document's id.
    pub doc_id: &'a str,
    /// Its facts as stored (`None`: new to the server).
    pub before: Option<&'a DocFacts>,
    /// The document as stored (empty when new), and after the push.
    pub docs: (&'a Automerge, &'a Automerge),
    /// What the pushed changes say they do.
    pub ops: &'a [String],
}

impl Guard {
    /// Judge a push on the whole document after it.
    pub fn judge_whole(&self, push: &Pushed<'_>) -> Result<DocFacts, Refusal> {
        let validated = (self.validate)(push.doc_id, push.docs.1)?;
        self.judge(push, validated, None)
    }

    /// Judge a push to a stored household on the entries its `changes`
    /// (their bytes) touched ([`validate::delta`]): `Some` only when it
    /// passes, with the facts [`Self::judge_whole`] answers. `None` when
    /// that cannot be told this way or something fails: the whole document
    /// is then judged (and names the refusal).
    pub fn judge_touched(&self, push: &Pushed<'_>, changes: &[&[u8]]) -> Option<DocFacts> {
        let (before_doc, after_doc) = push.docs;
        let delta = validate::delta(push.doc_id, before_doc, after_doc, changes)?;
        self.judge(
            push,
            delta.validated,
            Some((&delta.before, &delta.after, &delta.touched)),
        )
        .ok()
    }

    /// The rules and the role's scope, on a document validated after the
    /// push. `parts`: when only the entries the push touched were read
    /// again, the records before and after reduced to those entries (and
    /// the root fields), and the entries.
    fn judge(
        &self,
        &Pushed {
            doc_id,
            before,
            docs: (before_doc, after_doc),
            ops,
        }: &Pushed<'_>,
        validated: Validated,
        parts: Option<(&Record, &Record, &Touched)>,
    ) -> Result<DocFacts, Refusal> {
        let Validated {
            facts: after,
            record,
        } = validated;
        if let Some(b) = before
            && b.kind != after.kind
        {
            return Err(Refusal::new(
                "invalid_document",
                "记录类型不能更改 / a record's kind cannot change",
            )
            .at("kind"));
        }
        let p = &self.principal;
        let moved = before.is_some_and(|b| b.scope != after.scope);
        let old = match before {
            Some(_) if parts.is_none() => Some(read_record(doc_id, before_doc)?),
            _ => None,
        };
        let (old_compared, new_compared, touched) = match parts {
            Some((old, new, touched)) => (Some(old), new, Some(touched)),
            None => (old.as_deref(), record.as_ref(), None),
        };
        rules::check(
            p,
            old_compared.map(|r| (r, before_doc)),
            (new_compared, after_doc),
            ops,
            touched,
        )?;
        if p.role == Role::Department {
            let Record::Issue(new) = record.as_ref() else {
                return Err(out_of_scope());
            };
            let old = match old.as_deref() {
                Some(Record::Issue(i)) => Some(i.as_ref()),
                _ => None,
            };
            return department_write(p, old, new, after);
        }
        let facts = match p.role {
            Role::Admin => Ok(after),
            Role::Supervisor => {
                let inside = |f: &DocFacts| under_subtree(p, &f.scope);
                if before.is_some_and(|b| !inside(b)) || !inside(&after) {
                    return Err(out_of_scope());
                }
                Ok(after)
            }
            Role::GridWorker => {
                let inside = |f: &DocFacts| p.grids.contains(&f.scope);
                if before.is_some_and(|b| !inside(b)) {
                    return Err(out_of_scope());
                }
                if moved {
                    return Err(Refusal::new(
                        "role_forbids",
                        "只有社区或街道管理员可以把住户迁到其他网格 / only a supervisor may move a household to another grid",
                    )
                    .at("grid"));
                }
                if !inside(&after) {
                    return Err(out_of_scope());
                }
                Ok(after)
            }
            Role::PackageHolder => {
                let mine = |f: &DocFacts| {
                    f.kind == "household" && f.holder.as_deref() == Some(p.user_id.as_str())
                };
                let Some(b) = before else {
                    return Err(Refusal::new(
                        "role_forbids",
                        "包保责任人不能新建住户，请联系网格员 / package-holders cannot create households",
                    ));
                };
                if !mine(b) {
                    return Err(out_of_scope());
                }
                if moved || !mine(&after) {
                    return Err(Refusal::new(
                        "role_forbids",
                        "包保责任人不能更改住户的网格或包保人 / package-holders cannot change a household's grid or holder",
                    )
                    .at(if moved { "grid" } else { "holder" }));
                }
                Ok(after)
            }
            // A head writes only their own contacts; which households
            // those may be at was judged by the rules above.
            Role::BuildingHead | Role::UnitHead => {
                let mine = |f: &DocFacts| {
                    f.kind == contact::KIND && f.holder.as_deref() == Some(p.user_id.as_str())
                };
                if before.is_some_and(|b| !mine(b)) || !mine(&after) {
                    return Err(Refusal::new(
                        "role_forbids",
                        "楼栋长、单元长只能记录联系，不能修改台账或事件 / building and unit heads record contacts only",
                    ));
                }
                Ok(after)
            }
            Role::Department => Err(out_of_scope()),
        }?;
        // Inside the person's scope: now, whether their role may take the
        // workflow steps they added.
        if let Record::Issue(new) = record.as_ref() {
            let old = match old.as_deref() {
                Some(Record::Issue(i)) => Some(i.as_ref()),
                _ => None,
            };
            steps::check(p, old, new)?;
        }
        Ok(facts)
    }
}

/// A department user's push to an issue report: only to a report
/// dispatched to their department, only adding the steps that are theirs
/// and photos (of the handling) to its list.
fn department_write(
    p: &Principal,
    old: Option<&Issue>,
    new: &Issue,
    after: DocFacts,
) -> Result<DocFacts, Refusal> {
    let Some(old) = old else {
        return Err(Refusal::new(
            "role_forbids",
            "职能部门不能新建事件 / departments cannot create issue reports",
        ));
    };
    let mine = |i: &Issue| {
        p.department
            .as_ref()
            .is_some_and(|d| i.departments().contains(d))
    };
    if !mine(old) || old.grid != new.grid {
        return Err(out_of_scope());
    }
    // Photos of the handling may be added (never removed or reordered).
    let strip = |i: &Issue| Issue {
        events: Default::default(),
        photos: Vec::new(),
        ..i.clone()
    };
    if strip(old) != strip(new) || !new.photos.starts_with(&old.photos) {
        return Err(Refusal::new(
            "role_forbids",
            "职能部门只能记录处置和反馈，不能修改事件内容 / departments may only record handling and feedback, not change the report",
        ));
    }
    steps::check(p, Some(old), new)?;
    Ok(after)
}
