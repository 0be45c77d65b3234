//! Binary fixtures of real documents guard the stored format: a household
//! saved by an earlier version must still load and read the same.
//! Regenerate (only when the format changes on purpose) with
//! `GRIDSYNC_WRITE_FIXTURES=1 cargo test -p gridsync-core --test main fixtures`.

use gridsync_core::household::{HouseFacts, Household};
use gridsync_core::tagset::TagSet;

use crate::*;

const HOUSEHOLD: &str = "tests/fixtures/household-v1.automerge";

fn make() -> (Store, String) {
    let mut s = store("worker-1");
    let h = s
        .create_household(NewHousehold {
            residents: vec![Resident {
                phone: Some("13812345678".into()),
                tags: TagSet::of(["living_alone_elderly"]),
                ..resident("王秀英", "19400101", 12)
            }],
            house: HouseFacts {
                usage: Some("residential".into()),
                area_m2: Some(62.5),
                occupants: Some(1),
                ..HouseFacts::default()
            },
            holder: Some("holder-1".into()),
            ..new_household(1, 1, "101")
        })
        .unwrap();
    s.add_visit(&h, visit(NOW - DAY)).unwrap();
    (s, h)
}

#[test]
fn household_fixture_still_reads_the_same() {
    if std::env::var("GRIDSYNC_WRITE_FIXTURES").is_ok() {
        let (mut s, h) = make();
        std::fs::write(HOUSEHOLD, s.export_doc(&h).unwrap()).unwrap();
    }
    let bytes = std::fs::read(HOUSEHOLD).unwrap();
    let doc = automerge::Automerge::load(&bytes).unwrap();
    let h: Household = gridsync_core::doc::read(&doc, None).unwrap();
    assert_eq!(h.kind, "household");
    assert_eq!(h.schema, 1);
    assert_eq!(h.grid, GRID);
    assert_eq!(h.place.building, "1号楼");
    assert_eq!(h.place.room, "101");
    assert_eq!(h.house.area_m2, Some(62.5));
    assert_eq!(h.holder.as_deref(), Some("holder-1"));
    assert_eq!(h.residents.len(), 1);
    let r = h.residents.values().next().unwrap();
    assert_eq!(r.name, "王秀英");
    assert_eq!(
        r.id_number.as_deref(),
        Some(id_number("19400101", 12).as_str())
    );
    assert_eq!(r.birth_date.as_deref(), Some("1940-01-01"));
    assert!(r.tags.contains("living_alone_elderly"));
    assert_eq!(h.visits.len(), 1);
    // And a store takes it in like any document received from elsewhere.
    let mut s = store("worker-2");
    s.apply_remote(&h.id, &[bytes]).unwrap();
    assert_eq!(s.household(&h.id).unwrap(), h);
    assert_eq!(
        s.residents_with_tag("living_alone_elderly").unwrap().len(),
        1
    );
}
