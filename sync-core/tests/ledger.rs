//! Recording households, residents and visits; validation.

use gridsync_core::household::{HouseFacts, Resident};
use gridsync_core::{Error, HouseholdFields};

use crate::*;

fn invalid_field(e: Error) -> String {
    match e {
        Error::Invalid { field, reason } => {
            assert!(!reason.zh.is_empty() && !reason.en.is_empty());
            field
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn records_a_household_with_residents_and_visits() {
    let mut s = store("worker-1");
    let mut new = new_household(1, 1, "101");
    new.residents = vec![
        resident("张三", "19500101", 11),
        resident("李四", "19520202", 22),
    ];
    new.house = HouseFacts {
        usage: Some("residential".into()),
        area_m2: Some(75.5),
        occupants: Some(2),
        ..HouseFacts::default()
    };
    let h = s.create_household(new).unwrap();
    let rid = s
        .add_resident(&h, resident("张小明", "20150606", 31))
        .unwrap();
    s.add_visit(&h, visit(NOW - DAY)).unwrap();
    s.add_visit(&h, visit(NOW - 3 * DAY)).unwrap();

    let got = s.household(&h).unwrap();
    assert_eq!(got.residents.len(), 3);
    assert_eq!(got.residents[&rid].name, "张小明");
    // Sex and birth date derived from the ID number.
    assert_eq!(got.residents[&rid].sex.as_deref(), Some("1"));
    assert_eq!(
        got.residents[&rid].birth_date.as_deref(),
        Some("2015-06-06")
    );
    let visits = got.visits_in_order();
    assert_eq!(visits.len(), 2);
    assert!(visits[0].1.at < visits[1].1.at);
    assert_eq!(visits[0].1.visitor, "worker-1");
    assert_eq!(visits[0].1.role, "grid_worker");
    assert_eq!(got.house.area_m2, Some(75.5));
    assert_eq!(
        s.pending_changes().unwrap(),
        1 + 6 + 1 + 1 + 2,
        "grid, places, household, resident, visits"
    );
}

#[test]
fn every_change_records_who_and_when() {
    let mut s = store("worker-1");
    let h = s.create_household(new_household(1, 1, "101")).unwrap();
    let rid = s
        .add_resident(&h, resident("张三", "19500101", 11))
        .unwrap();
    s.set_author(gridsync_core::doc::Author {
        user: "holder-7".into(),
        role: "package_holder".into(),
    })
    .unwrap();
    s.set_clock(Clock::Fixed(NOW + 3_600_000));
    s.update_resident(&h, &rid, |r| r.phone = Some("13812345678".into()))
        .unwrap();

    let history = s.history(&h).unwrap();
    let phone_changes: Vec<_> = history
        .iter()
        .filter(|e| {
            e.fields
                .iter()
                .any(|f| f.path == ["residents", rid.as_str(), "phone"])
        })
        .collect();
    assert_eq!(phone_changes.len(), 1);
    let e = phone_changes[0];
    let field = e
        .fields
        .iter()
        .find(|f| f.path.last().map(String::as_str) == Some("phone"))
        .unwrap();
    assert_eq!(field.value, "13812345678");
    assert_eq!(e.by.as_deref(), Some("holder-7"));
    assert_eq!(e.op.as_deref(), Some("update_resident"));
    assert_eq!(
        e.at,
        (NOW + 3_600_000) / 1000 * 1000,
        "time recorded, not 0"
    );
    assert_eq!(history[0].by.as_deref(), Some("worker-1"));
}

#[test]
fn invalid_input_names_the_field_and_changes_nothing() {
    let mut s = store("worker-1");
    let h = s.create_household(new_household(1, 1, "101")).unwrap();
    let rid = s
        .add_resident(&h, resident("张三", "19500101", 11))
        .unwrap();
    let before = s.household(&h).unwrap();
    let pending = s.pending_changes().unwrap();

    // A wrong check character.
    let mut bad_id = id_number("19500101", 11);
    let last = if bad_id.ends_with('0') { "1" } else { "0" };
    bad_id.replace_range(17.., last);
    let cases: Vec<(Resident, &str)> = vec![
        (
            Resident {
                id_number: Some(bad_id.clone()),
                ..Resident::named("王五")
            },
            "id_number",
        ),
        (Resident::named("  "), "name"),
        (
            Resident {
                ethnicity: Some("77".into()),
                ..Resident::named("王五")
            },
            "ethnicity",
        ),
        (
            Resident {
                relation: Some("98".into()),
                ..Resident::named("王五")
            },
            "relation",
        ),
        (
            Resident {
                birth_date: Some("2099-01-01".into()),
                ..Resident::named("王五")
            },
            "birth_date",
        ),
        (
            Resident {
                sex: Some("2".into()),
                ..resident("王五", "19500101", 11)
            },
            "sex",
        ),
        (
            Resident {
                birth_date: Some("1950-01-02".into()),
                ..resident("王五", "19500101", 11)
            },
            "birth_date",
        ),
        (
            Resident {
                phone: Some("12345".into()),
                ..Resident::named("王五")
            },
            "phone",
        ),
        (
            Resident {
                tags: gridsync_core::tagset::TagSet::of(["vip"]),
                ..Resident::named("王五")
            },
            "tags",
        ),
        (
            Resident {
                status: Some("tourist".into()),
                ..Resident::named("王五")
            },
            "status",
        ),
    ];
    for (r, field) in cases {
        let err = s.add_resident(&h, r).unwrap_err();
        assert_eq!(invalid_field(err), field);
    }
    // The error text never echoes the ID number.
    let err = s.add_resident(
        &h,
        Resident {
            id_number: Some(bad_id.clone()),
            ..Resident::named("王五")
        },
    );
    assert!(!err.unwrap_err().to_string().contains(&bad_id));

    // Updates are validated too, and a refused update leaves the record as it was.
    let err = s
        .update_resident(&h, &rid, |r| r.phone = Some("abc".into()))
        .unwrap_err();
    assert_eq!(invalid_field(err), "phone");

    // A visit in the future; a place outside the grid; an unknown grid.
    let err = s.add_visit(&h, visit(NOW + DAY)).unwrap_err();
    assert_eq!(invalid_field(err), "at");
    let err = s.create_household(new_household(9, 1, "101")).unwrap_err();
    assert_eq!(invalid_field(err), "place");
    let mut other_grid = new_household(1, 1, "101");
    other_grid.grid = "110105001001002".into();
    assert_eq!(
        invalid_field(s.create_household(other_grid).unwrap_err()),
        "grid"
    );
    let err = s
        .edit_household(&h, |f: &mut HouseholdFields| {
            f.place.building = "99号楼".into()
        })
        .unwrap_err();
    assert_eq!(invalid_field(err), "place");
    let mut bad_resident = new_household(1, 1, "102");
    bad_resident.residents = vec![resident("甲", "19500101", 11), Resident::named("")];
    assert_eq!(
        invalid_field(s.create_household(bad_resident).unwrap_err()),
        "residents[1].name"
    );

    assert_eq!(s.household(&h).unwrap(), before);
    assert_eq!(s.pending_changes().unwrap(), pending);
    assert_eq!(s.households(&Default::default()).unwrap().len(), 1);
}

#[test]
fn a_failed_batch_stores_nothing() {
    let mut s = store("worker-1");
    let pending = s.pending_changes().unwrap();
    let result = s.batch(|s| {
        let h = s.create_household(new_household(1, 1, "101"))?;
        s.add_visit(&h, visit(NOW - DAY))?;
        s.add_visit(&h, visit(NOW + 10 * DAY))?; // refused
        Ok(h)
    });
    assert!(result.is_err());
    assert_eq!(s.pending_changes().unwrap(), pending);
    assert!(s.households(&Default::default()).unwrap().is_empty());
    s.clear_cache();
    assert_eq!(s.documents().unwrap().len(), 1, "only the grid");
}

#[test]
fn removed_resident_can_be_restored() {
    let mut s = store("worker-1");
    let h = s.create_household(new_household(1, 1, "101")).unwrap();
    let rid = s
        .add_resident(&h, resident("张三", "19500101", 11))
        .unwrap();
    s.remove_resident(&h, &rid, Some("2026-11-01".into()))
        .unwrap();
    let got = s.household(&h).unwrap();
    assert!(got.residents[&rid].removed);
    assert_eq!(got.current_residents().count(), 0);
    s.restore_resident(&h, &rid).unwrap();
    assert_eq!(s.household(&h).unwrap().current_residents().count(), 1);
}

#[test]
fn reopening_a_file_store_shows_everything() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.sqlite3");
    let options = || OpenOptions {
        clock: Clock::Fixed(NOW),
        cache_docs: 4,
        ..OpenOptions::default()
    };
    let mut ids = Vec::new();
    let device_id;
    {
        let mut s = Store::open_with(&path, options()).unwrap();
        device_id = s.device_id().to_string();
        seed_grid(&mut s);
        // More documents than the cache holds, and more changes than a
        // compaction threshold on one of them.
        for room in 0..10 {
            ids.push(
                s.create_household(new_household(1, 1, &format!("{room}")))
                    .unwrap(),
            );
        }
        for i in 0..70 {
            s.add_visit(&ids[0], visit(NOW - i * 60_000)).unwrap();
        }
        assert!(s.loaded_docs() <= 4);
    }
    let mut s = Store::open_with(&path, options()).unwrap();
    assert_eq!(s.device_id(), device_id);
    assert_eq!(s.households(&Default::default()).unwrap().len(), 10);
    assert_eq!(s.household(&ids[0]).unwrap().visits.len(), 70);
    // Still editable after reopening (same actor, sequence continues).
    s.add_visit(&ids[0], visit(NOW)).unwrap();
    assert_eq!(s.household(&ids[0]).unwrap().visits.len(), 71);
}
