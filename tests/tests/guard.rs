//! The server guards every document against a client that is not ours:
//! changes built with Automerge's own API (never through the project's
//! SDK, which would refuse to make them) pushed over HTTP to the real
//! server with a grid worker's or a package-holder's token. Each one must
//! be refused, naming the field, stored nowhere; the honest edit next to
//! them must still go through (so these tests can tell "refused" from
//! "broken").

use automerge::transaction::{CommitOptions, Transactable, Transaction};
use automerge::{Automerge, ObjId, ObjType, ReadDoc, ScalarValue, Value};
use base64::Engine as _;
use serde_json::json;

use crate::*;

/// A signed-in client speaking docs/protocol.md by hand.
pub(crate) struct Raw {
    url: String,
    pub(crate) token: String,
}

impl Raw {
    pub(crate) fn login(server: &TestServer, user: &str) -> Raw {
        let resp: serde_json::Value = reqwest::blocking::Client::new()
            .post(format!("{}/v1/auth/login", server.url))
            .json(&json!({"username": user, "password": PASSWORD,
                          "device_id": uuid::Uuid::new_v4().to_string()}))
            .send()
            .unwrap()
            .json()
            .unwrap();
        Raw {
            url: server.url.clone(),
            token: resp["access_token"].as_str().unwrap().to_string(),
        }
    }

    /// Push `changes` (document id, bytes) and return the answer.
    pub(crate) fn push(&self, changes: &[(String, Vec<u8>)]) -> serde_json::Value {
        let push: Vec<serde_json::Value> = changes
            .iter()
            .map(|(doc, data)| {
                json!({"doc": doc,
                       "change": base64::engine::general_purpose::STANDARD.encode(data)})
            })
            .collect();
        let resp = reqwest::blocking::Client::new()
            .post(format!("{}/v1/sync", self.url))
            .bearer_auth(&self.token)
            .json(&json!({"cursors": {}, "push": push, "max_docs": 1}))
            .send()
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "push answered");
        resp.json().unwrap()
    }
}

/// One change to `base` (a saved document) made by `f`, with the change
/// message naming `by`: what any Automerge client can build.
pub(crate) fn change(
    base: &[u8],
    by: &str,
    f: impl FnOnce(&mut Transaction<'_>) -> Result<(), automerge::AutomergeError>,
) -> Vec<u8> {
    let mut doc = Automerge::load(base).unwrap();
    let note = json!({"by": by, "op": "edit"}).to_string();
    doc.transact_with::<_, _, automerge::AutomergeError, _>(
        |_| CommitOptions::default().with_message(note),
        f,
    )
    .unwrap();
    doc.get_last_local_change().unwrap().raw_bytes().to_vec()
}

fn obj(doc: &impl ReadDoc, parent: &ObjId, key: &str) -> ObjId {
    match doc.get(parent, key).unwrap() {
        Some((Value::Object(_), id)) => id,
        other => panic!("{key} is not an object: {other:?}"),
    }
}

fn first_key(doc: &impl ReadDoc, map: &ObjId) -> String {
    doc.keys(map).next().unwrap()
}

/// The answer refused the only change pushed, with `code`, naming a field
/// that starts with `field`.
#[track_caller]
pub(crate) fn refused(answer: &serde_json::Value, code: &str, field: &str) {
    assert_eq!(answer["stored"], 0, "nothing stored: {answer}");
    let r = &answer["rejected"][0];
    assert_eq!(r["code"], code, "{answer}");
    let named = r["field"].as_str().unwrap_or_default();
    assert!(
        named.starts_with(field),
        "field {named:?} should name {field:?}: {answer}"
    );
    assert!(
        r["reason"].as_str().is_some_and(|s| !s.is_empty()),
        "{answer}"
    );
}

#[track_caller]
pub(crate) fn accepted(answer: &serde_json::Value) {
    assert_eq!(answer["rejected"], json!([]), "{answer}");
    assert_eq!(answer["stored"], 1, "{answer}");
}

/// A community with a household in grid 1 (two residents, a visit, held
/// by holder1) recorded and synced by worker1's phone; returns the phone,
/// the household id and holder1's user id.
fn recorded(server: &TestServer) -> (Phone, String, String) {
    let holder = Phone::login(server, "holder1");
    let mut phone = Phone::login(server, "worker1");
    phone.sync();
    phone.add_places(G1);
    let h = phone.household(G1, "101", Some(&holder.user_id));
    phone
        .store
        .add_resident(&h, Resident::named("李四"))
        .unwrap();
    phone.store.add_visit(&h, visit("入户走访")).unwrap();
    let report = phone.sync();
    assert_eq!(report.rejected, 0);
    (phone, h, holder.user_id)
}

#[test]
fn hard_deletes_and_replacements_are_refused() {
    let server = community();
    let (mut phone, h, _) = recorded(&server);
    let base = phone.store.export_doc(&h).unwrap();
    let mallory = Raw::login(&server, "worker1");
    let me = phone.user_id.clone();
    let doc = Automerge::load(&base).unwrap();
    let residents = obj(&doc, &automerge::ROOT, "residents");
    let visits = obj(&doc, &automerge::ROOT, "visits");
    let r1 = first_key(&doc, &residents);
    let v1 = first_key(&doc, &visits);

    let attempts: Vec<(&str, Vec<u8>, &str, String)> = vec![
        (
            "delete a resident",
            change(&base, &me, |tx| tx.delete(&residents, r1.as_str())),
            "invalid_document",
            format!("residents.{r1}"),
        ),
        (
            "delete every resident",
            change(&base, &me, |tx| tx.delete(automerge::ROOT, "residents")),
            "invalid_document",
            "residents".into(),
        ),
        (
            "put back a copy of a resident",
            change(&base, &me, |tx| {
                let copy = tx.put_object(&residents, r1.as_str(), ObjType::Map)?;
                tx.put(&copy, "name", "张三")
            }),
            "invalid_document",
            format!("residents.{r1}"),
        ),
        (
            "delete a visit",
            change(&base, &me, |tx| tx.delete(&visits, v1.as_str())),
            "invalid_document",
            format!("visits.{v1}"),
        ),
        (
            "edit a recorded visit",
            change(&base, &me, |tx| {
                let v = obj(&*tx, &visits, &v1);
                tx.put(&v, "findings", "改过的记录")
            }),
            "invalid_document",
            format!("visits.{v1}"),
        ),
        (
            "delete the household's place",
            change(&base, &me, |tx| tx.delete(automerge::ROOT, "place")),
            "invalid_document",
            "place".into(),
        ),
        (
            "change when it was created",
            change(&base, &me, |tx| {
                tx.put(automerge::ROOT, "created_at", 1_i64)
            }),
            "invalid_document",
            "created_at".into(),
        ),
        (
            "change who created it",
            change(&base, &me, |tx| {
                tx.put(automerge::ROOT, "created_by", "someone-else")
            }),
            "invalid_document",
            "created_by".into(),
        ),
    ];
    for (what, data, code, field) in attempts {
        let answer = mallory.push(&[(h.clone(), data)]);
        eprintln!("{what}: {}", answer["rejected"][0]["reason"]);
        refused(&answer, code, &field);
    }
    // The honest edit next to them goes through: a correction of the visit
    // as a new entry, and removing a resident by its flag.
    let fix = change(&base, &me, |tx| {
        let v = tx.put_object(&visits, uuid::Uuid::now_v7().to_string(), ObjType::Map)?;
        tx.put(&v, "visitor", me.as_str())?;
        tx.put(&v, "role", "grid_worker")?;
        tx.put(
            &v,
            "at",
            gridsync_core::clock::Clock::System.now_ms() - 1000,
        )?;
        tx.put(&v, "method", "phone")?;
        tx.put(&v, "findings", "更正：上次记录的房号有误")?;
        tx.put(&v, "corrects", v1.as_str())?;
        let r = obj(&*tx, &residents, &r1);
        tx.put(&r, "removed", true)
    });
    accepted(&mallory.push(&[(h.clone(), fix)]));
    // The phone sees the household whole, with the correction.
    phone.sync();
    let now = phone.store.household(&h).unwrap();
    assert_eq!(now.residents.len(), 2);
    assert_eq!(now.visits.len(), 2);
    assert!(
        now.visits
            .values()
            .any(|v| v.corrects.as_deref() == Some(&v1))
    );
}

#[test]
fn the_grid_document_is_published_not_edited_in_the_field() {
    let server = community();
    let (mut phone, _, _) = recorded(&server);
    let grid = phone.store.grid(G1).unwrap();
    let base = phone.store.export_doc(&grid.id).unwrap();
    let mallory = Raw::login(&server, "worker1");
    let me = phone.user_id.clone();
    let doc = Automerge::load(&base).unwrap();
    let places = obj(&doc, &automerge::ROOT, "places");
    let place = first_key(&doc, &places);
    for (data, field) in [
        (
            change(&base, &me, |tx| tx.delete(&places, place.as_str())),
            "places",
        ),
        (
            change(&base, &me, |tx| tx.delete(automerge::ROOT, "places")),
            "places",
        ),
        (
            change(&base, &me, |tx| {
                tx.put(automerge::ROOT, "community", "别的社区")
            }),
            "community",
        ),
        (
            change(&base, &me, |tx| {
                tx.put(automerge::ROOT, "street", "别的街道")
            }),
            "street",
        ),
    ] {
        refused(
            &mallory.push(&[(grid.id.clone(), data)]),
            "role_forbids",
            field,
        );
    }
    // Adding a building is what grid workers do.
    let add = change(&base, &me, |tx| {
        tx.put(&places, "/幸福小区/9号楼/1单元", true)
    });
    accepted(&mallory.push(&[(grid.id.clone(), add)]));
    // And households can still be recorded in the grid.
    let h = phone.household(G1, "901", None);
    assert_eq!(phone.sync().rejected, 0);
    assert!(phone.store.household(&h).is_ok());
}

#[test]
fn unknown_fields_and_oversized_changes_are_refused_before_they_spread() {
    let server = community();
    let (mut phone, h, _) = recorded(&server);
    let base = phone.store.export_doc(&h).unwrap();
    let mallory = Raw::login(&server, "worker1");
    let me = phone.user_id.clone();
    let doc = Automerge::load(&base).unwrap();
    let residents = obj(&doc, &automerge::ROOT, "residents");
    let r1 = first_key(&doc, &residents);

    // 20 MB in one string: refused by its size before it is applied.
    let huge = change(&base, &me, |tx| {
        tx.put(automerge::ROOT, "blob", "x".repeat(20 << 20))
    });
    refused(&mallory.push(&[(h.clone(), huge)]), "change_too_large", "");
    // A list longer than a change may carry.
    let long = change(&base, &me, |tx| {
        let list = tx.put_object(automerge::ROOT, "list", ObjType::List)?;
        tx.splice(
            &list,
            0,
            0,
            (0..gridsync_core::shape::CHANGE_OPS as i64 + 1).map(ScalarValue::Int),
        )
    });
    refused(&mallory.push(&[(h.clone(), long)]), "change_too_large", "");
    // 10,000 extra keys in a resident: small enough, but not a resident.
    let keys = change(&base, &me, |tx| {
        let r = obj(&*tx, &residents, &r1);
        for i in 0..10_000 {
            tx.put(&r, format!("k{i}"), i as i64)?;
        }
        Ok(())
    });
    refused(
        &mallory.push(&[(h.clone(), keys)]),
        "invalid_document",
        &format!("residents.{r1}.k"),
    );
    // One small unknown field.
    let extra = change(&base, &me, |tx| tx.put(automerge::ROOT, "nickname", "x"));
    refused(
        &mallory.push(&[(h.clone(), extra)]),
        "invalid_document",
        "nickname",
    );
    // A note longer than the limit.
    let note = change(&base, &me, |tx| {
        let r = obj(&*tx, &residents, &r1);
        tx.put(
            &r,
            "note",
            "备".repeat(gridsync_core::shape::NOTE_CHARS + 1),
        )
    });
    refused(
        &mallory.push(&[(h.clone(), note)]),
        "invalid_document",
        &format!("residents.{r1}.note"),
    );
    // Nothing of it reached the phone.
    phone.sync();
    let now = phone.store.export_doc(&h).unwrap();
    assert!(now.len() < 64 * 1024, "the household stayed small");
}

#[test]
fn authorship_comes_from_the_token() {
    let server = community();
    let (phone, h, holder_id) = recorded(&server);
    let base = {
        let mut p = phone;
        p.store.export_doc(&h).unwrap()
    };
    let mallory = Raw::login(&server, "worker1");
    let worker2 = Raw::login(&server, "worker2");
    let me = {
        // worker1's user id, read from the household they created.
        let doc = Automerge::load(&base).unwrap();
        match doc.get(automerge::ROOT, "created_by").unwrap() {
            Some((Value::Scalar(s), _)) => s.as_str().unwrap().to_string(),
            other => panic!("created_by: {other:?}"),
        }
    };
    let doc = Automerge::load(&base).unwrap();
    let visits = obj(&doc, &automerge::ROOT, "visits");
    let add_visit = |visitor: &str, role: &str| {
        let (visitor, role) = (visitor.to_string(), role.to_string());
        let visits = visits.clone();
        move |tx: &mut Transaction<'_>| {
            let v = tx.put_object(&visits, uuid::Uuid::now_v7().to_string(), ObjType::Map)?;
            tx.put(&v, "visitor", visitor.as_str())?;
            tx.put(&v, "role", role.as_str())?;
            tx.put(
                &v,
                "at",
                gridsync_core::clock::Clock::System.now_ms() - 1000,
            )?;
            tx.put(&v, "method", "in_person")?;
            tx.put(&v, "findings", "走访")?;
            Ok(())
        }
    };
    // A change whose message names another person.
    let forged = change(&base, "someone-else", add_visit(&me, "grid_worker"));
    refused(
        &mallory.push(&[(h.clone(), forged)]),
        "not_author",
        "message",
    );
    // Worker2 pushing worker1's change.
    let theirs = change(&base, &me, add_visit(&me, "grid_worker"));
    refused(
        &worker2.push(&[(h.clone(), theirs)]),
        "not_author",
        "message",
    );
    // A visit recorded as the package-holder's, to fake 包保 coverage.
    let fake = change(&base, &me, add_visit(&holder_id, "package_holder"));
    refused(
        &mallory.push(&[(h.clone(), fake)]),
        "role_forbids",
        "visits.",
    );
    // Under the right name but another role.
    let role = change(&base, &me, add_visit(&me, "package_holder"));
    refused(
        &mallory.push(&[(h.clone(), role)]),
        "role_forbids",
        "visits.",
    );
    // A change with no author at all.
    let mut doc = Automerge::load(&base).unwrap();
    doc.transact::<_, _, automerge::AutomergeError>(|tx| add_visit(&me, "grid_worker")(tx))
        .unwrap();
    let anonymous = doc.get_last_local_change().unwrap().raw_bytes().to_vec();
    refused(
        &mallory.push(&[(h.clone(), anonymous)]),
        "invalid_change",
        "message",
    );
    // The worker's own visit, under their own name, is stored.
    let own = change(&base, &me, add_visit(&me, "grid_worker"));
    accepted(&mallory.push(&[(h.clone(), own)]));
    // The holder cannot move the household they hold.
    let holder = Raw::login(&server, "holder1");
    let place = obj(&doc, &automerge::ROOT, "place");
    let moved = change(&base, &holder_id, |tx| tx.put(&place, "room", "102"));
    refused(&holder.push(&[(h.clone(), moved)]), "role_forbids", "place");
}

#[test]
fn new_records_are_the_pushers_and_not_in_the_future() {
    let server = community();
    let (mut phone, _, _) = recorded(&server);
    let mallory = Raw::login(&server, "worker1");
    let me = phone.user_id.clone();
    // A household made by the SDK, then its creation rewritten by hand.
    let h = phone.household(G1, "102", None);
    let data = phone.store.export_doc(&h).unwrap();
    let new_with = |f: &dyn Fn(&mut Transaction<'_>) -> Result<(), automerge::AutomergeError>| {
        let mut doc = Automerge::new();
        let note = json!({"by": me, "op": "create_household"}).to_string();
        let src = Automerge::load(&data).unwrap();
        let json = gridsync_core::doc::to_json(&src, None);
        doc.transact_with::<_, _, automerge::AutomergeError, _>(
            |_| CommitOptions::default().with_message(note),
            |tx| {
                gridsync_core::doc::write_new(tx, &automerge::ROOT, &json).unwrap();
                f(tx)
            },
        )
        .unwrap();
        doc.get_last_local_change().unwrap().raw_bytes().to_vec()
    };
    let future = gridsync_core::clock::Clock::System.now_ms() + 3 * 24 * 3600 * 1000;
    let ahead = new_with(&|tx| tx.put(automerge::ROOT, "created_at", future));
    refused(
        &mallory.push(&[(h.clone(), ahead)]),
        "invalid_document",
        "created_at",
    );
    let other = new_with(&|tx| tx.put(automerge::ROOT, "created_by", "someone-else"));
    refused(
        &mallory.push(&[(h.clone(), other)]),
        "role_forbids",
        "created_by",
    );
    // As it was made, it is taken.
    accepted(&mallory.push(&[(h.clone(), new_with(&|_| Ok(())))]));
}
