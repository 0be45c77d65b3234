//! The 小三级 below the grid (issue 14, item 6): 楼栋长 and 单元长 on the
//! real server. A head gets the households of their building or unit as a
//! masked roster (never the documents), records contacts offline from the
//! phone core and from the command line, and the grid's worker reads them;
//! the server refuses everything else a head might push — built with
//! Automerge's own library, not only through our client.

use automerge::ReadDoc;
use automerge::transaction::Transactable;
use gridsync_core::contact::{NewContact, RosterHousehold};
use gridsync_core::household::{NewHousehold, Resident};
use serde_json::json;

use crate::cli_loop::Cli;
use crate::guard::{Raw, accepted, change, refused};
use crate::*;

const ID_NUMBER: &str = "11010519491231002X";
const PHONE: &str = "13812345678";

/// A community with households in grid 1: 1号楼 1单元 101 (an elderly
/// resident with an ID number, a phone, a harmless and a sensitive tag)
/// and 102, 2号楼 1单元 201; a 楼栋长 of 1号楼 (`lou1`) and a 单元长 of
/// 2号楼 1单元 (`dan2`). Returns the worker's phone and the three ids.
fn building(server: &TestServer) -> (Phone, [String; 3]) {
    server.cli(&[
        "admin",
        "user",
        "add",
        "--username",
        "lou1",
        "--name",
        "楼栋长甲",
        "--role",
        "building_head",
        "--post",
        &format!("{G1}/幸福小区/1号楼"),
        "--password",
        PASSWORD,
    ]);
    server.cli(&[
        "admin",
        "user",
        "add",
        "--username",
        "dan2",
        "--name",
        "单元长乙",
        "--role",
        "unit_head",
        "--post",
        &format!("{G1}/幸福小区/2号楼/1单元"),
        "--password",
        PASSWORD,
    ]);
    let mut w = Phone::login(server, "worker1");
    w.sync();
    w.add_places(G1);
    let mut elder = Resident::named("王秀英");
    elder.id_number = Some(ID_NUMBER.into());
    elder.phone = Some(PHONE.into());
    elder.birth_date = Some("1949-12-31".into());
    elder.tags = gridsync_core::tagset::TagSet::of(["living_alone_elderly", "drug_user"]);
    let h101 = w
        .store
        .create_household(NewHousehold {
            grid: G1.into(),
            place: place(1, "101"),
            residents: vec![elder],
            ..NewHousehold::default()
        })
        .unwrap();
    let h102 = w.household(G1, "102", None);
    let h201 = w
        .store
        .create_household(NewHousehold {
            grid: G1.into(),
            place: place(2, "201"),
            residents: vec![Resident::named("张三")],
            ..NewHousehold::default()
        })
        .unwrap();
    let report = w.sync();
    assert_eq!(report.rejected, 0);
    (w, [h101, h102, h201])
}

#[test]
fn a_building_head_reads_a_masked_roster_and_the_grid_reads_their_contacts() {
    let server = community();
    let (mut w, [h101, h102, _]) = building(&server);
    let mut head = Phone::login(&server, "lou1");
    head.sync();

    // The roster: 1号楼's two households, masked.
    let roster = head
        .store
        .roster()
        .unwrap()
        .expect("the sync brought a roster");
    let ids: Vec<&str> = roster.households.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(ids, vec![h101.as_str(), h102.as_str()]);
    let elder = &roster.households[0].residents[0];
    assert_eq!(elder.name, "王*英");
    assert_eq!(elder.phone.as_deref(), Some("138****5678"));
    assert!(elder.age.is_some_and(|a| a >= 76));
    assert_eq!(elder.tags, vec!["living_alone_elderly".to_owned()]);
    let text = serde_json::to_string(&roster).unwrap();
    for secret in [ID_NUMBER, PHONE, "王秀英", "drug_user", "1949-12-31"] {
        assert!(!text.contains(secret), "{secret} must not reach a head");
    }
    // No household document reached the head's phone.
    let kinds: Vec<String> = head
        .store
        .documents()
        .unwrap()
        .into_iter()
        .map(|(_, kind, _)| kind)
        .collect();
    assert!(kinds.iter().all(|k| k == "contact"), "{kinds:?}");

    // A contact, recorded offline, reaches the grid worker by sync.
    let id = head
        .store
        .log_contact(NewContact {
            household: h101.clone(),
            findings: "老人独居，身体尚可".into(),
            needs: "楼道灯坏了，请物业修".into(),
            follow_up: true,
            ..NewContact::default()
        })
        .unwrap();
    assert_eq!(head.sync().rejected, 0);
    w.sync();
    assert!(
        w.store.contains(&id).unwrap(),
        "the worker reads the contact"
    );
    let mut sup = Phone::login(&server, "supervisor");
    sup.sync();
    assert!(sup.store.contains(&id).unwrap(), "so does the supervisor");
    // The head reads back their own, and only that.
    assert_eq!(head.store.contacts().unwrap().len(), 1);

    // The unit head of 2号楼 1单元 sees neither 1号楼 nor the contact.
    let mut unit = Phone::login(&server, "dan2");
    unit.sync();
    let roster = unit.store.roster().unwrap().unwrap();
    assert!(
        roster
            .households
            .iter()
            .all(|h| h.place.building == "2号楼")
    );
    assert!(!unit.store.contains(&id).unwrap());

    // Anyone else asking for a roster is refused.
    let token = Raw::login(&server, "worker1").token;
    let resp = reqwest::blocking::Client::new()
        .get(format!("{}/v1/roster", server.url))
        .bearer_auth(token)
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
}

#[test]
fn the_server_refuses_what_a_head_may_not_write() {
    let server = community();
    let (w, [h101, _, _]) = building(&server);
    let mut head = Phone::login(&server, "lou1");
    head.sync();

    // A contact at a household of another building (a roster entry forged
    // on the phone) is refused, naming the place.
    let mut forged = head.store.roster().unwrap().unwrap();
    let mut other = forged.households[0].clone();
    other.id = "0193b3c2-0000-7000-8000-0000000000aa".into();
    other.place.building = "2号楼".into();
    forged.households.push(RosterHousehold { ..other });
    head.store.set_roster(Some(&forged)).unwrap();
    head.store
        .log_contact(NewContact {
            household: "0193b3c2-0000-7000-8000-0000000000aa".into(),
            findings: "越界".into(),
            ..NewContact::default()
        })
        .unwrap();
    let report = head.try_sync().unwrap();
    assert_eq!(report.rejected, 1);
    let refused_here = head.store.rejected_changes().unwrap();
    assert_eq!(refused_here[0].code, "out_of_scope");

    // With Automerge's own library, as the head: a visit added to a
    // household document (obtained from the worker) is refused…
    let raw = Raw::login(&server, "lou1");
    let base = {
        let mut w = w;
        w.store.export_doc(&h101).unwrap()
    };
    let visit = change(&base, &head.user_id, |tx| {
        let visits = match tx.get(automerge::ROOT, "visits").unwrap() {
            Some((_, id)) => id,
            None => panic!("no visits map"),
        };
        let v = tx.put_object(&visits, "forged", automerge::ObjType::Map)?;
        tx.put(&v, "visitor", head.user_id.as_str())?;
        tx.put(&v, "role", "other")?;
        tx.put(&v, "at", 1_700_000_000_000_i64)?;
        tx.put(&v, "method", "in_person")?;
        tx.put(&v, "findings", "楼栋长改台账")?;
        tx.put(&v, "needs", "")?;
        tx.put(&v, "follow_up", false)?;
        Ok(())
    });
    refused(&raw.push(&[(h101.clone(), visit)]), "role_forbids", "");

    // …and so is a new household.
    let mut fresh = automerge::Automerge::new();
    let note = json!({"by": head.user_id, "op": "create"}).to_string();
    let new_id = "0193b3c2-0000-7000-8000-0000000000bb";
    fresh
        .transact_with::<_, _, automerge::AutomergeError, _>(
            |_| automerge::transaction::CommitOptions::default().with_message(note),
            |tx| {
                tx.put(automerge::ROOT, "kind", "household")?;
                tx.put(automerge::ROOT, "schema", 1_u64)?;
                tx.put(automerge::ROOT, "id", new_id)?;
                tx.put(automerge::ROOT, "grid", G1)?;
                let p = tx.put_object(automerge::ROOT, "place", automerge::ObjType::Map)?;
                tx.put(&p, "compound", "幸福小区")?;
                tx.put(&p, "building", "1号楼")?;
                tx.put(&p, "unit", "1单元")?;
                tx.put(&p, "room", "109")?;
                tx.put(automerge::ROOT, "created_by", head.user_id.as_str())?;
                tx.put(automerge::ROOT, "created_at", 1_700_000_000_000_i64)?;
                Ok(())
            },
        )
        .unwrap();
    let bytes = fresh.get_last_local_change().unwrap().raw_bytes().to_vec();
    let answer = raw.push(&[(new_id.to_owned(), bytes)]);
    assert_eq!(answer["stored"], 0, "{answer}");
    assert!(
        !answer["rejected"].as_array().unwrap().is_empty(),
        "{answer}"
    );

    // A recorded contact is never edited afterwards, even by its author.
    head.store
        .discard_rejected("0193b3c2-0000-7000-8000-0000000000aa")
        .ok();
    let mine = head
        .store
        .log_contact(NewContact {
            household: h101.clone(),
            findings: "正常".into(),
            ..NewContact::default()
        })
        .unwrap();
    head.sync();
    let saved = head.store.export_doc(&mine).unwrap();
    let edit = change(&saved, &head.user_id, |tx| {
        tx.put(automerge::ROOT, "findings", "改过了")?;
        Ok(())
    });
    refused(
        &raw.push(&[(mine.clone(), edit)]),
        "role_forbids",
        "contact",
    );

    // A grid worker may not record a contact in a head's name.
    let worker = Raw::login(&server, "worker1");
    let edit = change(&saved, &head.user_id, |tx| {
        tx.put(automerge::ROOT, "needs", "代填")?;
        Ok(())
    });
    let answer = worker.push(&[(mine.clone(), edit)]);
    assert_eq!(answer["stored"], 0, "{answer}");

    // The honest contact next to them still goes through.
    let honest = head
        .store
        .log_contact(NewContact {
            household: h101,
            needs: "想了解养老补贴".into(),
            ..NewContact::default()
        })
        .unwrap();
    let doc = head.store.doc_changes(&honest).unwrap();
    accepted(&raw.push(&[(honest, doc[0].clone())]));
}

#[test]
fn a_unit_head_works_from_the_command_line() {
    let server = community();
    let (mut w, [_, _, h201]) = building(&server);
    let dir = tempfile::tempdir().unwrap();
    let cli = Cli::login(&server, dir.path(), "dan2");
    let roster = cli.json(&["roster"]);
    let homes = roster["households"].as_array().unwrap();
    assert_eq!(homes.len(), 1, "{roster}");
    assert_eq!(homes[0]["id"], h201.as_str());
    let table = cli.ok(&["roster"]);
    assert!(table.contains("2号楼") && table.contains("张*"), "{table}");
    cli.ok(&[
        "contact",
        "add",
        &h201,
        "--method",
        "电话沟通",
        "--needs",
        "家里水管漏水",
        "--follow-up",
    ]);
    cli.ok(&["sync"]);
    let mine = cli.json(&["contact", "list"]);
    assert_eq!(mine[0]["needs"], "家里水管漏水");
    assert_eq!(mine[0]["method"], "phone");
    w.sync();
    let contacts: Vec<String> = w
        .store
        .documents()
        .unwrap()
        .into_iter()
        .filter(|(_, kind, _)| kind == "contact")
        .map(|(id, _, _)| id)
        .collect();
    assert_eq!(contacts.len(), 1);
    // Not on the roster: refused at once, nothing recorded.
    let out = cli.run(&["contact", "add", "no-such-household", "--findings", "x"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("楼栋名册"));
}
