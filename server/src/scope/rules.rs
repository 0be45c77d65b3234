//! What a change may do to a document, per kind and role, judged on the
//! document before and after it (not only on what the result looks like):
//!
//! | kind      | rule                                                                  | who is exempt |
//! |-----------|-----------------------------------------------------------------------|---------------|
//! | every     | `kind` and `id` never change                                          | nobody        |
//! | household | a resident is never deleted nor replaced (removal is the flag)        | nobody        |
//! | household | a visit, once recorded, is never edited, deleted nor replaced         | nobody        |
//! |           | (a correction is a new visit whose `corrects` names it)               |               |
//! | household | `created_at`, `created_by` never change; a new household is created   | the server    |
//! |           | by the pusher, not in the future                                      |               |
//! | household | a new visit is the pusher's own (`visitor` = the pusher, `role` = the | the server; a |
//! |           | pusher's visitor role), so 包保 coverage cannot be forged             | merge (below) |
//! | household | the place changes only by a grid worker of the grid, a supervisor     | —             |
//! |           | over it, an admin (package-holders may not move a household)          |               |
//! | household | a merged household (`merged_into`) stays merged                       | nobody        |
//! | grid      | created by admins only; others may only add places: the name,         | admins        |
//! |           | community, street and existing places never change                    |               |
//! | issue     | `created_at`, `reporter` never change; a new report is the pusher's,  | the server    |
//! |           | not in the future; photos are only added; workflow events as in       |               |
//! |           | [`super::steps`]                                                      |               |
//!
//! Containers (the residents, visits and events maps, each entry, the
//! place, a grid's places) must stay the same Automerge objects: a change
//! that deletes one and puts back an equal copy would silently drop every
//! concurrent edit made inside the original, so it is refused like a delete.
//!
//! Merging duplicates copies another household's visits under their
//! original visitor: a change whose `op` is a merge (`merge_households`,
//! `forward_merged_edits`) may add visits of others, by a role that may
//! merge (a grid worker of the grid, a supervisor, an admin), and only when
//! every change judged with it is a merge too.

use std::collections::{BTreeSet, HashMap};

use automerge::{Automerge, ObjId, ReadDoc, ValueRef};
use gridsync_core::codes::{Op, VisitorRole};
use gridsync_core::contact::Contact;
use gridsync_core::household::Household;
use gridsync_core::issue::Issue;

use crate::principal::{Principal, Role};
use crate::store::Refusal;
use crate::sync::validate::{Record, Touched, not_future, object_at};

/// The `op`s of changes that copy a merged household's entries.
const MERGE_OPS: [Op; 2] = [Op::MergeHouseholds, Op::ForwardMergedEdits];

/// The change notes' author rule: whether `p` is the server itself, which
/// writes demo data and grid documents under other names.
pub(crate) fn is_server(p: &Principal) -> bool {
    p.role == Role::Admin && p.user_id == crate::sync::SERVER_USER
}

fn forbidden(field: &str, zh: &str, en: &str) -> Refusal {
    Refusal::new("role_forbids", format!("{field}: {zh} / {en}")).at(field)
}

fn unchangeable(field: &str) -> Refusal {
    Refusal::new(
        "invalid_document",
        format!("{field}: 该字段创建后不能修改 / {field} never changes once recorded"),
    )
    .at(field)
}

fn deleted(field: &str, zh: &str, en: &str) -> Refusal {
    Refusal::new("invalid_document", format!("{field}: {zh} / {en}")).at(field)
}

/// The visitor role code a principal records visits as.
pub(crate) fn visitor_role(p: &Principal) -> &'static str {
    VisitorRole::of_user_role(p.role.code()).code()
}

/// Judge what the changes (with `ops`) did to a document, `before` →
/// `after` (`before` is `None` when the document is new to the server).
pub(crate) fn check(
    p: &Principal,
    before: Option<(&Record, &Automerge)>,
    after: (&Record, &Automerge),
    ops: &[String],
    touched: Option<&Touched>,
) -> Result<(), Refusal> {
    match (before, after.0) {
        (None, Record::Household(h)) => new_household(p, h),
        (None, Record::Grid(_)) => {
            if p.role == Role::Admin {
                Ok(())
            } else {
                Err(forbidden(
                    "grid",
                    "网格由管理员发布，不能在手机或页面上新建",
                    "grids are published by administrators",
                ))
            }
        }
        (None, Record::Issue(i)) => new_issue(p, i),
        (None, Record::Contact(c)) => new_contact(p, c),
        // A contact is a record of what was said at the door on a day:
        // never edited afterwards (the server alone may, repairing data).
        (Some((Record::Contact(_), _)), Record::Contact(_)) => {
            if is_server(p) {
                Ok(())
            } else {
                Err(forbidden(
                    "contact",
                    "已记录的联系不能修改，如有补充请另记一条",
                    "a recorded contact is never edited: record another",
                ))
            }
        }
        (Some((Record::Household(old), old_doc)), Record::Household(new)) => {
            household(p, (old, old_doc), (new, after.1), ops, touched)
        }
        (Some((Record::Grid(old), old_doc)), Record::Grid(new)) => {
            if p.role == Role::Admin {
                return kept_identity(old_doc, after.1, &[]);
            }
            for (field, a, b) in [
                ("grid", &old.grid, &new.grid),
                ("name", &old.name, &new.name),
                ("community", &old.community, &new.community),
                ("street", &old.street, &new.street),
                ("id", &old.id, &new.id),
            ] {
                if a != b {
                    return Err(forbidden(
                        field,
                        "网格的名称和归属只能由管理员发布",
                        "only administrators publish a grid's names",
                    ));
                }
            }
            if old.places.iter().any(|k| !new.places.contains(k)) {
                return Err(forbidden(
                    "places",
                    "网格内的地点只能新增，不能删除",
                    "places can be added to a grid, never removed",
                ));
            }
            kept_identity(old_doc, after.1, &["places"])
        }
        (Some((Record::Issue(old), old_doc)), Record::Issue(new)) => {
            if old.id != new.id {
                return Err(unchangeable("id"));
            }
            if old.created_at != new.created_at {
                return Err(unchangeable("created_at"));
            }
            if old.reporter != new.reporter {
                return Err(unchangeable("reporter"));
            }
            if !new.photos.starts_with(&old.photos) {
                return Err(deleted(
                    "photos",
                    "事件的照片只能追加，不能删除或替换",
                    "a report's photos are only ever added to, never removed or replaced",
                ));
            }
            kept_identity(old_doc, after.1, &["events"])?;
            entries_kept(old_doc, after.1, "events", None, |k| {
                deleted(
                    &format!("events.{k}"),
                    "已记录的处理步骤不能删除或替换",
                    "a recorded workflow step is never removed or replaced",
                )
            })
        }
        // A kind never changes (refused before this by the guard).
        (Some(_), _) => Err(unchangeable("kind")),
    }
}

/// A new contact: recorded by a 楼栋长/单元长 in their own name and role,
/// at a household of their own building or unit, not dated ahead.
fn new_contact(p: &Principal, c: &Contact) -> Result<(), Refusal> {
    not_future("at", c.at)?;
    if is_server(p) {
        return Ok(());
    }
    if !p.role.is_head() {
        return Err(forbidden(
            "kind",
            "联系记录由楼栋长、单元长填写；网格员请记走访",
            "contacts are recorded by building and unit heads; grid workers record visits",
        ));
    }
    if c.by != p.user_id {
        return Err(forbidden(
            "by",
            "联系人须为当前登录的本人",
            "a contact's `by` must be the signed-in user",
        ));
    }
    if c.role != p.role.code() {
        return Err(forbidden(
            "role",
            "联系人身份与登录角色不符",
            "a contact's role must be the signed-in user's role",
        ));
    }
    if !p
        .post
        .as_ref()
        .is_some_and(|post| post.covers(&c.grid, &c.place))
    {
        return Err(Refusal::new(
            "out_of_scope",
            "该户不在您负责的楼栋或单元 / the household is outside your building or unit",
        )
        .at("place"));
    }
    Ok(())
}

fn new_household(p: &Principal, h: &Household) -> Result<(), Refusal> {
    not_future("created_at", h.created_at)?;
    if !is_server(p) {
        if h.created_by != p.user_id {
            return Err(forbidden(
                "created_by",
                "新建住户的创建人须为当前登录的本人",
                "a new household is created by the signed-in user",
            ));
        }
        for (key, v) in &h.visits {
            own_visit(p, key, &v.visitor, &v.role)?;
        }
    }
    Ok(())
}

fn new_issue(p: &Principal, i: &Issue) -> Result<(), Refusal> {
    not_future("created_at", i.created_at)?;
    if !is_server(p) && i.reporter != p.user_id {
        return Err(forbidden(
            "reporter",
            "新事件的上报人须为当前登录的本人",
            "a new report is reported by the signed-in user",
        ));
    }
    Ok(())
}

fn own_visit(p: &Principal, key: &str, visitor: &str, role: &str) -> Result<(), Refusal> {
    if visitor != p.user_id {
        return Err(forbidden(
            &format!("visits.{key}.visitor"),
            "走访人须为当前登录的本人",
            "the visitor must be the signed-in user",
        ));
    }
    if role != visitor_role(p) {
        return Err(forbidden(
            &format!("visits.{key}.role"),
            "走访人身份须与当前登录的角色一致",
            "the visitor role must be the signed-in user's role",
        ));
    }
    Ok(())
}

fn household(
    p: &Principal,
    (old, old_doc): (&Household, &Automerge),
    (new, new_doc): (&Household, &Automerge),
    ops: &[String],
    touched: Option<&Touched>,
) -> Result<(), Refusal> {
    if old.id != new.id {
        return Err(unchangeable("id"));
    }
    if old.created_at != new.created_at {
        return Err(unchangeable("created_at"));
    }
    if old.created_by != new.created_by {
        return Err(unchangeable("created_by"));
    }
    if old.merged_into.is_some() && old.merged_into != new.merged_into {
        return Err(unchangeable("merged_into"));
    }
    kept_identity(old_doc, new_doc, &["residents", "visits", "place"])?;
    let only = |map: &str| touched.and_then(|t| t.keys(map));
    entries_kept(old_doc, new_doc, "residents", only("residents"), |k| {
        deleted(
            &format!("residents.{k}"),
            "居民不能删除，请用“移出台账”标记",
            "a resident is never deleted: removal is the `removed` flag",
        )
    })?;
    entries_kept(old_doc, new_doc, "visits", only("visits"), |k| {
        deleted(
            &format!("visits.{k}"),
            "已记录的走访不能删除",
            "a recorded visit is never removed",
        )
    })?;
    for (key, v) in &old.visits {
        if new.visits.get(key) != Some(v) {
            return Err(deleted(
                &format!("visits.{key}"),
                "已记录的走访不能修改，如需更正请另记一条并注明更正哪一条",
                "a recorded visit is never edited: record a correction (`corrects`) instead",
            ));
        }
    }
    if old.place != new.place {
        let may_move = match p.role {
            Role::Admin | Role::Supervisor => true,
            Role::GridWorker => p.grids.iter().any(|g| g == &new.grid),
            Role::PackageHolder | Role::Department | Role::BuildingHead | Role::UnitHead => false,
        };
        if !may_move {
            return Err(forbidden(
                "place",
                "您的角色不能更改住户的地址",
                "your role may not change a household's place",
            ));
        }
    }
    if !is_server(p) {
        let merging = !ops.is_empty()
            && ops
                .iter()
                .all(|op| MERGE_OPS.iter().any(|m| m.code() == op))
            && matches!(p.role, Role::Admin | Role::Supervisor | Role::GridWorker);
        for (key, v) in &new.visits {
            if old.visits.contains_key(key) || merging {
                continue;
            }
            own_visit(p, key, &v.visitor, &v.role)?;
        }
    }
    Ok(())
}

/// Each container at a root `keys` that existed before is the same
/// Automerge object after (not deleted, not replaced by a copy); `kind` and
/// `id` are the same values.
fn kept_identity(before: &Automerge, after: &Automerge, keys: &[&str]) -> Result<(), Refusal> {
    for key in keys {
        if let Some((id, _)) = object_at(before, &automerge::ROOT, key)
            && object_at(after, &automerge::ROOT, key).map(|(a, _)| a) != Some(id)
        {
            return Err(deleted(
                key,
                "该部分不能整体删除或替换",
                "this part of the record is never deleted or replaced",
            ));
        }
    }
    Ok(())
}

/// Every entry of the root map `key` before is still there after, as the
/// same object. Each map is read once, in one pass: looking each entry up
/// in both documents took a lookup per entry, a tenth of the server's CPU
/// at a shift end, and grew with the square of a household's visits.
///
/// `only`: the entries the push wrote, when it is known no other was
/// written ([`crate::sync::validate::touched`]); only those are looked up.
fn entries_kept(
    before: &Automerge,
    after: &Automerge,
    key: &str,
    only: Option<&BTreeSet<String>>,
    refusal: impl Fn(&str) -> Refusal,
) -> Result<(), Refusal> {
    if only.is_some_and(BTreeSet::is_empty) {
        return Ok(());
    }
    let (Some((old_map, _)), Some((new_map, _))) = (
        object_at(before, &automerge::ROOT, key),
        object_at(after, &automerge::ROOT, key),
    ) else {
        return Ok(());
    };
    if let Some(only) = only {
        for k in only {
            if let Some((id, _)) = object_at(before, &old_map, k)
                && object_at(after, &new_map, k).map(|(a, _)| a) != Some(id)
            {
                return Err(refusal(k));
            }
        }
        return Ok(());
    }
    let now: HashMap<String, ObjId> = after
        .map_range(&new_map, ..)
        .filter(|e| matches!(e.value, ValueRef::Object(_)))
        .map(|e| (e.key.to_string(), e.id()))
        .collect();
    // In key order, as before: the first entry missing is the one named.
    for e in before.map_range(&old_map, ..) {
        if matches!(e.value, ValueRef::Object(_)) && now.get(e.key.as_ref()) != Some(&e.id()) {
            return Err(refusal(&e.key));
        }
    }
    Ok(())
}
