//! Entry points of the fuzz targets (server/fuzz) and of the test that
//! replays their saved corpus (server/tests/fuzz_corpus.rs): each feeds
//! arbitrary bytes to one decoder exactly as the server (or a phone) calls
//! it, and checks what must hold whatever the bytes. Not an API.
//!
//! Every function returns `Err` with a description when an invariant is
//! broken; a panic anywhere below is a bug too (the fuzzer reports both).
//! Refusing the bytes (a 400, a refused change, an import problem) is the
//! normal outcome and is `Ok`.

use automerge::{Automerge, Change, ReadDoc};

use crate::principal::{Principal, Role};
use crate::store::push::{self, Decision};
use crate::store::{DocFacts, IncomingChange, Rejected};
use crate::sync::{self, WireCursor};
use crate::territory::{self, Format, Territory};

/// The grid of the principals below and of the seeds.
pub const GRID: &str = "110105001001001";
/// The package-holder's user id in the seeds.
pub const HOLDER: &str = "0193b3c2-0000-7000-8000-00000000b0b0";

/// What a broken invariant says.
pub type Violation = String;

/// `POST /v1/sync` with `application/vnd.gridsync.sync`: the header line,
/// then the changes; what is read is grouped by document as a push is.
pub fn sync_binary(body: &[u8]) -> Result<(), Violation> {
    let Ok(parsed) = sync::parse_binary(body) else {
        return Ok(());
    };
    let header = body.iter().position(|b| *b == b'\n').unwrap_or(body.len());
    let total: usize = parsed.incoming.iter().map(|c| c.data.len()).sum();
    if total != body.len().saturating_sub(header + 1) {
        return Err(format!(
            "changes of {total} bytes read from {} bytes after the header",
            body.len() - header - 1
        ));
    }
    if parsed.incoming.iter().any(|c| c.data.is_empty()) {
        return Err("an empty change was accepted".into());
    }
    positions(&parsed.cursors)?;
    grouped(parsed.incoming)
}

/// `POST /v1/sync` as JSON.
pub fn sync_json(body: &[u8]) -> Result<(), Violation> {
    let Ok(parsed) = sync::parse_request(body) else {
        return Ok(());
    };
    positions(&parsed.cursors)?;
    grouped(parsed.incoming)
}

/// The cursors a device sends (the `cursors` object of a request): a
/// position is never negative, whatever was sent.
pub fn cursors(json: &[u8]) -> Result<(), Violation> {
    let Ok(cursors) =
        serde_json::from_slice::<std::collections::BTreeMap<String, WireCursor>>(json)
    else {
        return Ok(());
    };
    positions(&cursors)
}

fn positions(cursors: &std::collections::BTreeMap<String, WireCursor>) -> Result<(), Violation> {
    for (feed, c) in cursors {
        let p = c.position();
        if p.base < 0 || p.cursor < 0 {
            return Err(format!("feed {feed:?}: negative position {p:?}"));
        }
    }
    Ok(())
}

/// Group as a push does: every change is in one group or refused.
fn grouped(incoming: Vec<IncomingChange>) -> Result<(), Violation> {
    let n = incoming.len();
    let mut rejected = Vec::new();
    let groups = push::group(incoming, &mut rejected);
    let kept: usize = groups.iter().map(|(_, c)| c.len()).sum();
    if kept + rejected.len() != n {
        return Err(format!(
            "{n} changes grouped into {kept} and refused {}",
            rejected.len()
        ));
    }
    for (doc, _) in &groups {
        if uuid::Uuid::parse_str(doc).map(|u| u.to_string()).as_deref() != Ok(doc.as_str()) {
            return Err(format!("group {doc:?} is not a canonical UUID"));
        }
    }
    Ok(())
}

/// The principal of role `n % 5`: a grid worker of [`GRID`], the
/// package-holder [`HOLDER`], the supervisor of its community, a
/// department user (城管), an admin.
pub fn principal(n: u8) -> Principal {
    let (role, grids, subtree, department) = match n % 5 {
        0 => (Role::GridWorker, vec![GRID.to_owned()], None, None),
        1 => (Role::PackageHolder, Vec::new(), None, None),
        2 => (
            Role::Supervisor,
            Vec::new(),
            Some(GRID[..12].to_owned()),
            None,
        ),
        3 => (
            Role::Department,
            Vec::new(),
            None,
            Some("chengguan".to_owned()),
        ),
        _ => (Role::Admin, Vec::new(), None, None),
    };
    Principal {
        user_id: if role == Role::PackageHolder {
            HOLDER.to_owned()
        } else {
            format!("0193b3c2-0000-7000-8000-00000000000{}", n % 5)
        },
        username: role.code().to_owned(),
        role,
        device_id: Some("0193b3c2-0000-7000-8000-0000000000de".to_owned()),
        grids,
        subtree,
        department,
        post: None,
    }
}

/// The changes of a push input: `[role][stored][len u32 LE][change]…`.
/// The first `stored` changes make the document as stored (applied without
/// judging, as if pushed earlier); the rest are pushed by the principal of
/// `role` ([`principal`]) and judged as `POST /v1/sync` judges them.
pub fn split_changes(data: &[u8]) -> Option<(u8, usize, Vec<Vec<u8>>)> {
    let (&role, rest) = data.split_first()?;
    let (&stored, rest) = rest.split_first()?;
    Some((role, usize::from(stored), chunks(rest)))
}

/// `[len u32 LE][bytes]…`; a length past the end takes what is left.
fn chunks(mut rest: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some((len, tail)) = rest.split_first_chunk::<4>() {
        let len = (u32::from_le_bytes(*len) as usize).min(tail.len());
        out.push(tail[..len].to_vec());
        rest = &tail[len..];
    }
    out
}

/// Join changes in the format [`split_changes`] reads (for the seeds).
pub fn join_changes(role: u8, stored: u8, changes: &[Vec<u8>]) -> Vec<u8> {
    let mut out = vec![role, stored];
    for c in changes {
        out.extend_from_slice(&u32::try_from(c.len()).unwrap_or(u32::MAX).to_le_bytes());
        out.extend_from_slice(c);
    }
    out
}

/// Pushed Automerge changes through decoding, applying and validation
/// with the scope guard ([`crate::store::push`] decides, [`sync::validate`]
/// judges the document): every pushed change is stored, refused or a
/// duplicate, exactly once; what is stored makes a document that
/// validation accepts.
pub fn push(data: &[u8]) -> Result<(), Violation> {
    let Some((role, stored, changes)) = split_changes(data) else {
        return Ok(());
    };
    let stored = stored.min(changes.len());
    let (base, pushed) = changes.split_at(stored);
    let decoded = |raw: &[Vec<u8>]| -> Vec<Change> {
        raw.iter().filter_map(|c| push::decode_change(c)).collect()
    };
    // What was stored got there through the same path (Automerge panics on
    // some malformed changes: see push.rs `applied`).
    let Some(working) = apply_caught(Automerge::new(), decoded(base)) else {
        return Ok(());
    };
    // The document's id as its content names it, so that the fuzzer needs
    // not guess a UUID to get past "id does not match".
    let doc_id = {
        let all = apply_caught(working.clone(), decoded(pushed)).unwrap_or_default();
        match all.get(automerge::ROOT, "id") {
            Ok(Some((automerge::Value::Scalar(s), _))) => match s.as_ref() {
                automerge::ScalarValue::Str(id) => id.to_string(),
                _ => String::new(),
            },
            _ => String::new(),
        }
    };
    let doc_id = uuid::Uuid::parse_str(&doc_id)
        .map(|u| u.to_string())
        .unwrap_or_else(|_| "0193b3c2-0000-7000-8000-0000000000d0".to_owned());
    let guard = crate::scope::Guard::new(principal(role), sync::validate::document);
    let before: Option<DocFacts> = if working.get_heads().is_empty() {
        None
    } else {
        sync::validate::document(&doc_id, &working)
            .ok()
            .map(|v| v.facts)
    };
    let mut undecodable: Vec<Rejected> = Vec::new();
    let mut ready = Vec::new();
    for (i, c) in pushed.iter().enumerate() {
        match push::decode_change(c) {
            Some(change) => ready.push((i, change)),
            None => undecodable.push(Rejected {
                index: i,
                doc: doc_id.clone(),
                hash: None,
                refusal: crate::store::Refusal::new("invalid_change", "undecodable"),
            }),
        }
    }
    let Decision {
        working: after,
        accepted,
        facts,
        rejected,
        duplicates,
    } = push::decide(&doc_id, working, before.as_ref(), ready, &guard);
    let judged = accepted.len() + rejected.len() + duplicates + undecodable.len();
    if judged != pushed.len() {
        return Err(format!(
            "{} pushed, {} stored, {} refused, {duplicates} duplicates, {} undecodable",
            pushed.len(),
            accepted.len(),
            rejected.len(),
            undecodable.len()
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for i in accepted
        .iter()
        .map(|a| a.index)
        .chain(rejected.iter().map(|r| r.index))
    {
        if !seen.insert(i) {
            return Err(format!("change {i} judged twice"));
        }
    }
    if !accepted.is_empty() {
        let Some(facts) = facts else {
            return Err("changes stored without the document's facts".into());
        };
        match sync::validate::document(&doc_id, &after) {
            Ok(again) if again.facts == facts => {}
            Ok(again) => return Err(format!("facts {facts:?} but the document says {again:?}")),
            Err(r) => {
                return Err(format!(
                    "stored a document validation refuses: {}",
                    r.reason
                ));
            }
        }
        for a in &accepted {
            if after.get_change_meta_by_hash(&a.hash).is_none() {
                return Err(format!("stored change {} is not in the document", a.index));
            }
        }
    }
    for r in &rejected {
        if r.refusal.reason.is_empty() {
            return Err(format!("change {} refused without a reason", r.index));
        }
    }
    Ok(())
}

/// `doc` with `changes` applied, `None` if Automerge refused (or panicked).
fn apply_caught(doc: Automerge, changes: Vec<Change>) -> Option<Automerge> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let mut doc = doc;
        doc.apply_changes(changes).ok().map(|()| doc)
    }))
    .ok()
    .flatten()
}

/// A territory import (`POST /v1/admin/territory[/csv]`, `gridsync-server
/// import`): the first byte chooses JSON or CSV. What is accepted is a
/// well-formed tree that reads back the same through the JSON format; what
/// is refused is described, naming where.
pub fn territory(data: &[u8]) -> Result<(), Violation> {
    let Some((&which, bytes)) = data.split_first() else {
        return Ok(());
    };
    let format = if which & 1 == 0 {
        Format::Json
    } else {
        Format::Csv
    };
    let rows = match territory::parse(format, bytes) {
        Ok(rows) => rows,
        Err(problems) => {
            let error = crate::ApiError::from(territory::TerritoryError::Invalid(problems));
            return match error {
                crate::ApiError::BadRequest { message, field, .. }
                    if !message.is_empty() && field.is_some() =>
                {
                    Ok(())
                }
                other => Err(format!("a refused import answers {other:?}")),
            };
        }
    };
    for g in &rows.grids {
        if g.code.len() != 15 || !g.code.starts_with(&g.community_code) {
            return Err(format!(
                "grid {:?} of community {:?}",
                g.code, g.community_code
            ));
        }
    }
    for c in &rows.communities {
        if c.code.len() != 12 || !c.code.starts_with(&c.street_code) {
            return Err(format!(
                "community {:?} of street {:?}",
                c.code, c.street_code
            ));
        }
    }
    let again = Territory::from_rows(
        rows.streets.clone(),
        rows.communities.clone(),
        rows.grids.clone(),
    );
    let json = serde_json::to_vec(&again).map_err(|e| e.to_string())?;
    match territory::parse(Format::Json, &json) {
        Ok(back) if back == rows => Ok(()),
        Ok(_) => Err("the accepted territory reads back differently".into()),
        Err(p) => Err(format!("the accepted territory is refused on export: {p}")),
    }
}

/// A phone importing the ledger it pulled (`sync-core`'s
/// `Store::apply_pulled`, then the lists it builds): the input is
/// `[kind][len u32 LE][data]…`, each a pulled document's data, all for one
/// document id. Whatever the server sends, the phone refuses it or stores
/// it; it never panics, and its lists and history read back.
pub fn ledger_import(data: &[u8]) -> Result<(), Violation> {
    use gridsync_core::store::{OpenOptions, PulledDoc, Store};
    let Some((&kind, rest)) = data.split_first() else {
        return Ok(());
    };
    let kind = match kind % 3 {
        0 => gridsync_core::household::KIND,
        1 => gridsync_core::grid::KIND,
        _ => gridsync_core::issue::KIND,
    };
    let mut store =
        Store::open_in_memory(OpenOptions::default()).map_err(|e| format!("open: {e}"))?;
    let id = "0193b3c2-0000-7000-8000-0000000000d0";
    for chunk in chunks(rest) {
        let page = [PulledDoc {
            id: id.to_owned(),
            kind: kind.to_owned(),
            scope: GRID.to_owned(),
            data: chunk,
            listing: None,
        }];
        // Refusing a page is allowed; panicking or corrupting the store is not.
        let _ = store.apply_pulled(&page);
    }
    let _ = store.index_pending(usize::MAX);
    let _ = store.households(&Default::default());
    let _ = store.history(id);
    let _ = store.conflicts(id);
    let _ = store.household(id);
    let _ = store.issue(id);
    store
        .documents()
        .map(|_| ())
        .map_err(|e| format!("the store no longer lists its documents: {e}"))
}
