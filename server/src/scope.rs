//! Access control: every decision about who may read and write which
//! document lives here, and only here.
//!
//! - A grid worker reads and writes the grids assigned to them.
//! - A package-holder reads and writes the households whose `holder` is
//!   them, in any grid; they cannot create households or hand them on.
//! - A supervisor reads and writes every grid under their community or
//!   street, and is the only one (with admins) who may move a household to
//!   another grid.
//! - An admin reads and writes everything.
//!
//! Reads are granted as feeds (see [`crate::store`]); writes are judged per
//! pushed document by [`Guard`], after the change is applied to a copy and
//! the result validated.

use automerge::Automerge;

use crate::directory::Directory;
use crate::principal::{Principal, Role};
use crate::store::{DocFacts, Refusal, WriteGuard, grid_feed, holder_feed};

/// The feeds a principal may read.
pub async fn feeds_for(
    p: &Principal,
    directory: &dyn Directory,
) -> Result<Vec<String>, crate::db::DbError> {
    Ok(match p.role {
        Role::GridWorker => p.grids.iter().map(|g| grid_feed(g)).collect(),
        Role::PackageHolder => vec![holder_feed(&p.user_id)],
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
        Role::Department => Vec::new(),
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
        Role::Department => false,
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
    validate: fn(&str, &Automerge) -> Result<DocFacts, Refusal>,
}

impl Guard {
    /// A guard for `principal`, validating documents with `validate`.
    pub fn new(
        principal: Principal,
        validate: fn(&str, &Automerge) -> Result<DocFacts, Refusal>,
    ) -> Self {
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
}

impl WriteGuard for Guard {
    fn check(
        &self,
        doc_id: &str,
        before: Option<&DocFacts>,
        after: &Automerge,
    ) -> Result<DocFacts, Refusal> {
        let after = (self.validate)(doc_id, after)?;
        if let Some(b) = before
            && b.kind != after.kind
        {
            return Err(Refusal::new(
                "invalid_document",
                "记录类型不能更改 / a record's kind cannot change",
            ));
        }
        let p = &self.principal;
        let moved = before.is_some_and(|b| b.scope != after.scope);
        match p.role {
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
                    ));
                }
                if !inside(&after) {
                    return Err(out_of_scope());
                }
                if before.is_none() && after.kind == "grid" {
                    return Err(Refusal::new(
                        "role_forbids",
                        "网格由管理员创建 / grids are created by administrators",
                    ));
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
                    ));
                }
                Ok(after)
            }
            Role::Department => Err(out_of_scope()),
        }
    }
}
