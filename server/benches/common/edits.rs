//! The incremental round's offline edits, the same in every bench that
//! times one (benches/sync.rs, benches/district.rs): 50 visits on each of
//! two phones of one grid, 10 of them on the same households, each
//! recorded under its phone's signed-in worker.

use gridsync_core::Store;
use gridsync_core::demo::Generator;

/// Record the round's edits on `a` and `b` (offline); returns `a`'s
/// household ids, in list order.
pub(crate) fn offline_edits(a: &mut Store, b: &mut Store, now: i64) -> Vec<String> {
    let ids: Vec<String> = a
        .households(&Default::default())
        .unwrap()
        .into_iter()
        .map(|h| h.id)
        .collect();
    let mut g = Generator::new(9);
    let (wa, wb) = (a.author().user.clone(), b.author().user.clone());
    for (k, id) in ids.iter().take(50).enumerate() {
        a.add_visit(id, g.visit(&wa, "grid_worker", now - 1000))
            .unwrap();
        let other = if k < 10 { id } else { &ids[100 + k] };
        b.add_visit(other, g.visit(&wb, "grid_worker", now - 2000))
            .unwrap();
    }
    ids
}
