//! Server-side document rules: after a push is applied to a copy of a
//! document, the result must still be a well-formed record of a known kind
//! with valid fields. A document that fails is refused, with the reason.

use automerge::Automerge;
use gridsync_core::codes::GridCode;
use gridsync_core::doc;
use gridsync_core::grid::{self, Grid};
use gridsync_core::household::{self, Clock, Household};
use gridsync_core::issue::{self, Issue};

use crate::store::{DocFacts, Refusal};

/// Phones' clocks drift; a record dated up to a day ahead of the server is
/// not "in the future" here.
const SKEW_MS: i64 = 24 * 3600 * 1000;

fn invalid(reason: impl std::fmt::Display) -> Refusal {
    Refusal::new(
        "invalid_document",
        format!("记录内容无效 / invalid record: {reason}"),
    )
}

/// The departments an issue is dispatched to: those named by dispatches
/// that took effect, in order, without repeats. A department keeps seeing
/// a report it was once given (to feed back, and for its records).
pub fn departments_of(i: &Issue) -> Vec<String> {
    let status = issue::workflow::status(&i.events);
    let mut out: Vec<String> = Vec::new();
    for id in &status.applied {
        let Some(e) = i.events.get(id) else { continue };
        if e.kind != issue::EventKind::Dispatch.code() {
            continue;
        }
        if let Some(d) = e.assignee.as_deref().and_then(issue::assignee_department)
            && !out.iter().any(|o| o == d)
        {
            out.push(d.to_owned());
        }
    }
    out
}

/// Validate a document and return its facts.
pub fn document(doc_id: &str, d: &Automerge) -> Result<DocFacts, Refusal> {
    let kind = doc::kind_of(d).ok_or_else(|| invalid("kind missing"))?;
    let clock = Clock::Fixed(Clock::System.now_ms() + SKEW_MS);
    match kind.as_str() {
        household::KIND => {
            let h: Household = doc::read(d, None).map_err(|_| invalid("not a household"))?;
            if h.id != doc_id {
                return Err(invalid("id does not match the document"));
            }
            GridCode::parse(&h.grid).map_err(|r| invalid(format!("grid: {}", r.en)))?;
            h.house.validate().map_err(invalid)?;
            for (key, r) in &h.residents {
                if r.removed || r.merged_into.is_some() {
                    continue;
                }
                r.validate(&format!("residents.{key}."), &clock)
                    .map_err(invalid)?;
            }
            for v in h.visits.values() {
                v.validate(&clock).map_err(invalid)?;
            }
            Ok(DocFacts {
                kind,
                scope: h.grid,
                holder: h.holder,
                departments: Vec::new(),
            })
        }
        grid::KIND => {
            let g: Grid = doc::read(d, None).map_err(|_| invalid("not a grid"))?;
            if g.id != doc_id {
                return Err(invalid("id does not match the document"));
            }
            GridCode::parse(&g.grid).map_err(|r| invalid(format!("grid: {}", r.en)))?;
            Ok(DocFacts {
                kind,
                scope: g.grid,
                holder: None,
                departments: Vec::new(),
            })
        }
        issue::KIND => {
            let i: Issue = doc::read(d, None).map_err(|_| invalid("not an issue report"))?;
            if i.id != doc_id {
                return Err(invalid("id does not match the document"));
            }
            GridCode::parse(&i.grid).map_err(|r| invalid(format!("grid: {}", r.en)))?;
            if i.description.trim().is_empty() {
                return Err(invalid("description is empty"));
            }
            Ok(DocFacts {
                departments: departments_of(&i),
                kind,
                scope: i.grid,
                holder: None,
            })
        }
        _ => Err(invalid("unknown kind")),
    }
}
